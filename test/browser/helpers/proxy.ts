import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/** One request the proxy forwarded, and what it answered. */
export interface Forwarded {
  at: number;
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
  status: number;
}

/**
 * An HTTP reverse proxy to the service for the browser tests, on a port of its own (so a page
 * loaded through it has another origin than the service). `fault` may turn an answer into
 * something else *after* the service handled the request — a 503 for a batch the service did
 * write is the hardest case for a client, which must retry without counting twice.
 */
export class TestProxy {
  readonly server: Server;
  readonly seen: Forwarded[] = [];
  target = '';
  /** Pages the proxy serves itself (path → HTML) instead of asking the service. */
  readonly pages = new Map<string, string>();
  fault: ((req: Forwarded) => { status: number; headers: Record<string, string> } | undefined) | undefined;

  constructor() {
    this.server = createServer((req, res) => void this.#handle(req, res));
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const page = this.pages.get(req.url ?? '');
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = new URL(req.url ?? '/', this.target);
    const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } });
    upstream.end(body);
    const [answer] = (await once(upstream, 'response')) as [IncomingMessage];
    const answerChunks: Buffer[] = [];
    for await (const chunk of answer) answerChunks.push(chunk as Buffer);
    const record: Forwarded = {
      at: Date.now(),
      method: req.method ?? '',
      path: req.url ?? '',
      contentType: req.headers['content-type'],
      body: body.toString('utf8'),
      status: answer.statusCode ?? 0,
    };
    const headers = { ...answer.headers };
    const fault = this.fault?.(record);
    if (fault) {
      record.status = fault.status;
      delete headers['content-length'];
      res.writeHead(fault.status, { ...headers, ...fault.headers, 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: fault.status }));
    } else {
      res.writeHead(answer.statusCode ?? 502, headers);
      res.end(Buffer.concat(answerChunks));
    }
    this.seen.push(record);
  }
}
