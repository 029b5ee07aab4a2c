import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.ts';

/**
 * Cross-origin calls from the cinema's web pages, through `@fastify/cors`. Only the configured
 * origins get `Access-Control-Allow-Origin` (echoed, with `Vary: Origin`); any other origin gets
 * an answer without it, which the browser then blocks. With no origins configured the plugin is
 * not registered at all: no CORS header anywhere and a preflight is a plain 404.
 *
 * The headers are set in `onRequest`, before authentication, validation and the log, so the
 * errors a page must react to (401, 413, 429 and 503 with `Retry-After`) are readable by it too.
 */
export const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Content-Encoding', 'X-Request-Id'];
/** Response headers a page may read besides the CORS-safelisted ones. */
export const EXPOSED_HEADERS = ['X-Request-Id', 'Retry-After'];

export default fp(
  async (app: FastifyInstance, opts: { cors: Config['cors'] }) => {
    const { origins, credentials, maxAgeSeconds } = opts.cors;
    if (origins !== '*' && origins.length === 0) return;
    const allowed = origins === '*' ? undefined : new Set(origins);
    await app.register(cors, {
      hook: 'onRequest',
      // A set lookup, not the plugin's list/RegExp matching: an origin is allowed only when it is
      // byte-for-byte one the configuration names (config.ts keeps them in browser form).
      origin: allowed === undefined ? '*' : (origin, done) => done(null, origin !== undefined && allowed.has(origin)),
      credentials,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: maxAgeSeconds,
      // A bare OPTIONS (no Origin or Access-Control-Request-Method) is answered like a preflight
      // instead of with the plugin's plain-text 400, which would not be Problem Details.
      strictPreflight: false,
    });
  },
  { name: 'cors' },
);
