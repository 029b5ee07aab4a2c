import { readFile, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendProblem } from './errors.ts';

/**
 * What a web page loads from the service:
 * - `GET /`: a 302 to the API docs page, `/docs` (where a person who opens the address lands);
 * - `GET /tracker.js`: the browser tracker's script-tag bundle (packages/tracker, built by
 *   `npm install` → `prepare`; a 404 naming the build command when it is missing);
 * - with `DEMO_PAGE=true`, `GET /demo/`: a film grid and a video wired with the tracker, and
 *   `GET /demo/clip.webm` from `<DATA_DIR>/demo/clip.webm` (`npm run demo:clip` makes one).
 * No authentication and no rate limit: these are static files.
 */
const TRACKER = new URL('../../packages/tracker/dist/tracker.min.js', import.meta.url).pathname;
const DEMO_PAGE = new URL('../web/demo.html', import.meta.url).pathname;

export interface WebOptions {
  demoPage: boolean;
  dataDir: string;
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` of a file of `size` bytes; undefined when unsatisfiable or not one range. */
export function byteRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : undefined;
}

async function sendFile(reply: FastifyReply, path: string, type: string, range: string | undefined): Promise<FastifyReply> {
  const { size } = await stat(path);
  void reply.header('accept-ranges', 'bytes').type(type);
  if (range === undefined) return reply.header('content-length', size).send(createReadStream(path));
  const r = byteRange(range, size);
  if (r === undefined) return reply.code(416).header('content-range', `bytes */${size}`).send();
  return reply
    .code(206)
    .header('content-range', `bytes ${r.start}-${r.end}/${size}`)
    .header('content-length', r.end - r.start + 1)
    .send(createReadStream(path, { start: r.start, end: r.end }));
}

export default function webRoutes(app: FastifyInstance, opts: WebOptions): Promise<void> {
  const config = { rateLimit: false };
  const schema = { hide: true };
  app.get('/', { config, schema }, (_request, reply) => reply.redirect('/docs', 302));
  let bundle: Buffer | undefined;
  app.get('/tracker.js', { config, schema }, async (_request, reply) => {
    try {
      bundle ??= await readFile(TRACKER);
    } catch {
      return sendProblem(reply, 404, 'The tracker is not built: run `npm run build:tracker` (npm install does it).');
    }
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(bundle);
  });
  if (!opts.demoPage) return Promise.resolve();

  app.get('/demo', { config, schema }, (_request, reply) => reply.redirect('/demo/'));
  app.get('/demo/', { config, schema }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(await readFile(DEMO_PAGE)));
  app.get('/demo/clip.webm', { config, schema }, async (request, reply) => {
    const clip = join(opts.dataDir, 'demo', 'clip.webm');
    try {
      return await sendFile(reply, clip, 'video/webm', request.headers.range);
    } catch {
      return sendProblem(reply, 404, 'No demo clip: run `npm run demo:clip` (ffmpeg) to make one in DATA_DIR/demo/.');
    }
  });
  return Promise.resolve();
}
