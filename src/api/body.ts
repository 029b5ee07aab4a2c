import { createGunzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { sendProblem } from './errors.ts';
import { registerJsonBody } from './json-body.ts';

/**
 * Request bodies: JSON only (anything else is 415 before it is read; see json-body.ts) and `Content-Encoding:
 * gzip` decompressed as it streams in. Fastify counts the body limit on the decompressed
 * stream, so a small gzip bomb still gets 413.
 */
export default fp(
  (app: FastifyInstance) => {
    app.addHook('preParsing', (request, reply, payload, done) => {
      const encoding = request.headers['content-encoding']?.trim().toLowerCase();
      if (encoding === undefined || encoding === '' || encoding === 'identity') return done(null, payload);
      if (encoding !== 'gzip' && encoding !== 'x-gzip') {
        void sendProblem(reply, 415, `Content-Encoding "${encoding}" is not supported; use gzip or none.`);
        return;
      }
      const gunzip = createGunzip();
      let received = 0;
      payload.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      payload.pipe(gunzip);
      // Fastify compares Content-Length with this, not with the decompressed size.
      Object.defineProperty(gunzip, 'receivedEncodedLength', { get: () => received });
      done(null, gunzip);
    });

    // Fastify's own 415 for other media types goes through the Problem Details handler.
    app.removeContentTypeParser('text/plain');
    registerJsonBody(app);
  },
  { name: 'request-body' },
);
