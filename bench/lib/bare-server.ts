import { createServer } from 'node:http';

/**
 * The ingestion ceiling, run as its own process like the service: bare `node:http` that reads
 * the whole request body and answers 202, with no framework, validation, auth or storage. What
 * the runtime and this machine allow for the same requests over the same client.
 * Prints `{"port": N}` once listening; exits on SIGTERM.
 */
const ACCEPTED = Buffer.from('{"accepted":1}');
const OK = Buffer.from('{"status":"ok"}');

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    const post = req.method === 'POST' && bytes > 0;
    const body = post ? ACCEPTED : OK;
    res.writeHead(post ? 202 : 200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port assigned');
  console.log(JSON.stringify({ port: address.port }));
});

process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
