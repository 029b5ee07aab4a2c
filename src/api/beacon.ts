import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { UnauthorizedError } from '../domain/errors.ts';
import { type JwtVerifier, authenticateToken } from './auth.ts';

/**
 * Beacon delivery (`navigator.sendBeacon`, `fetch(..., {keepalive: true})` without a preflight)
 * on the routes whose config says `tokenInBody: true` (POST /api/v1/events only):
 * - a `text/plain` body is the same JSON: its media type is read as `application/json` with the
 *   same parameters before anything parses it, so charset rules, gzip, the size limit and
 *   validation are exactly those of JSON;
 * - a body without an Authorization header carries its JWT in a top-level `access_token` field,
 *   removed from the body before validation (it is never stored, echoed or logged) and verified
 *   by `authenticateToken`, the same function as the header. Both at once is a 401.
 */
export const TOKEN_FIELD = 'access_token';

/** `text/plain; charset=UTF-8` → `application/json; charset=UTF-8`; undefined for other media types. */
export function beaconAsJson(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const semicolon = contentType.indexOf(';');
  const media = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (media !== 'text/plain') return undefined;
  return `application/json${semicolon < 0 ? '' : contentType.slice(semicolon)}`;
}

/** Takes the body's token out of it: the token, `undefined` when there is none. */
export function takeBodyToken(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Object.hasOwn(body, TOKEN_FIELD)) return undefined;
  const record = body as Record<string, unknown>;
  const token = record[TOKEN_FIELD];
  delete record[TOKEN_FIELD];
  if (typeof token !== 'string' || token.length === 0) throw new UnauthorizedError(`"${TOKEN_FIELD}" must be a JWT string.`);
  return token;
}

async function bodyCredential(verifier: JwtVerifier, request: FastifyRequest): Promise<void> {
  const token = takeBodyToken(request.body);
  if (request.principal !== null) {
    if (token !== undefined) throw new UnauthorizedError(`Send the token in the Authorization header or in "${TOKEN_FIELD}", not both.`);
    return;
  }
  if (token === undefined) throw new UnauthorizedError(`A Bearer token is required (or "${TOKEN_FIELD}" in a beacon's body).`);
  await authenticateToken(request, verifier, token);
}

export default fp(
  (app: FastifyInstance, opts: { verifier: JwtVerifier }) => {
    // Registered before the request-body plugin, so its hooks and parsers (charset, gzip, limits)
    // see `application/json`; and before anything reads `request.mediaType`, which Fastify caches.
    app.addHook('onRequest', (request, _reply, done) => {
      if (request.routeOptions.config.tokenInBody === true) {
        const json = beaconAsJson(request.headers['content-type']);
        if (json !== undefined) request.headers['content-type'] = json;
      }
      done();
    });
    // After parsing, before validation: the schema rejects unknown fields, `access_token` among them.
    app.addHook('preValidation', async (request) => {
      if (request.routeOptions.config.tokenInBody === true) await bodyCredential(opts.verifier, request);
    });
  },
  { name: 'beacon' },
);
