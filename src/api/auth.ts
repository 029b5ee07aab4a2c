import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { type JWTVerifyGetKey, type JWTPayload, SignJWT, createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify } from 'jose';
import type { Config, JwtAlgorithm } from '../config.ts';
import { ForbiddenError, UnauthorizedError } from '../domain/errors.ts';
import { problemResponse } from './common.schema.ts';

/**
 * Bearer JWT authentication. Tokens come from the cinema's auth service; we only verify them.
 * The algorithm is pinned by configuration, so `alg: none` or an HS256 token signed with a
 * public key never verifies.
 */
export interface Principal {
  userId: string;
  roles: string[];
  isAdmin: boolean;
}

/**
 * A preParsing hook: runs after every onRequest hook (the rate limiter's included) and before
 * the body is read; it keeps the payload.
 */
export type PreParsingGuard = (request: FastifyRequest) => Promise<void>;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** Why the request's credentials were refused; thrown by `requireAuthenticated`. */
    authError: UnauthorizedError | null;
  }
  interface FastifyContextConfig {
    /** The route also takes its token from the body's `access_token` (a beacon; see beacon.ts). */
    tokenInBody?: boolean;
  }
  interface FastifyInstance {
    /** onRequest: verifies the token and sets `principal`, or records `authError` (never throws for bad credentials). */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** preParsing: refuses a request whose credentials were refused (401). */
    requireAuthenticated: PreParsingGuard;
    /** preParsing: refuses a caller who is not an administrator (401 without credentials, 403 without the role). */
    requireAdmin: PreParsingGuard;
  }
}

/** Seconds of clock difference with the token issuer tolerated on `exp`, `nbf` and `iat`. */
const CLOCK_TOLERANCE_S = 5;
const MAX_SUBJECT_LENGTH = 64;
/** No control (Cc), format (Cf: zero-width, bidi overrides) or surrogate (Cs) code points. */
const SUBJECT_CHARACTERS = /^[^\p{Cc}\p{Cf}\p{Cs}]+$/u;
const NOT_BLANK = /[^\p{White_Space}]/u;

/** The user id a token's `sub` names: a string of 1..64 characters, not blank, nothing invisible or ill-formed. */
export function subjectOf(sub: unknown): string {
  if (typeof sub !== 'string') throw new UnauthorizedError('The token subject must be a string.');
  const length = [...sub].length;
  if (length < 1 || length > MAX_SUBJECT_LENGTH) throw new UnauthorizedError(`The token subject must be 1..${MAX_SUBJECT_LENGTH} characters.`);
  if (!SUBJECT_CHARACTERS.test(sub) || !NOT_BLANK.test(sub)) {
    throw new UnauthorizedError('The token subject must not be blank or hold control, format or surrogate code points.');
  }
  return sub;
}

type Key = Uint8Array | Awaited<ReturnType<typeof importSPKI>> | JWTVerifyGetKey;

export class JwtVerifier {
  #key: Promise<Key>;
  #algorithm: JwtAlgorithm;
  #issuer: string | undefined;
  #audience: string | undefined;

  constructor(auth: Config['auth']) {
    this.#algorithm = auth.algorithm;
    this.#issuer = auth.issuer;
    this.#audience = auth.audience;
    this.#key = JwtVerifier.#keyOf(auth);
    // A bad PEM is a start-up error, reported by `ready()`, not on the first request.
    this.#key.catch(() => undefined);
  }

  static async #keyOf(auth: Config['auth']): Promise<Key> {
    if (auth.algorithm === 'HS256') {
      if (auth.secret === undefined) throw new Error('AUTH_JWT_SECRET is required for HS256');
      return new TextEncoder().encode(auth.secret);
    }
    if (auth.jwksUrl !== undefined) return createRemoteJWKSet(new URL(auth.jwksUrl));
    if (auth.publicKey === undefined) throw new Error('AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL is required');
    return importSPKI(auth.publicKey, auth.algorithm);
  }

  async ready(): Promise<void> {
    await this.#key;
  }

  async verify(token: string): Promise<Principal> {
    const key = await this.#key;
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: [this.#algorithm],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_S,
        ...(this.#issuer === undefined ? {} : { issuer: this.#issuer }),
        ...(this.#audience === undefined ? {} : { audience: this.#audience }),
      };
      // jose picks the overload by the key's type; both resolve to the same payload.
      ({ payload } = key instanceof Function ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw new UnauthorizedError(describe(err), { cause: err });
      throw err;
    }
    const userId = subjectOf(payload.sub);
    // jose checks that `iat` is a number but not that it has passed.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_TOLERANCE_S) {
      throw new UnauthorizedError('The token claim "iat" is invalid (issued in the future).');
    }
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    return { userId, roles, isAdmin: roles.includes('admin') };
  }
}

function describe(err: InstanceType<typeof joseErrors.JOSEError>): string {
  if (err instanceof joseErrors.JWTExpired) return 'The token has expired.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The token claim "${err.claim}" is invalid (${err.reason}).`;
  return 'The token is invalid.';
}

/** Development tokens (`npm run token`), HS256 with the configured secret. */
export async function mintToken(options: {
  secret: string;
  userId: string;
  admin: boolean;
  ttlSeconds: number;
  issuer?: string | undefined;
  audience?: string | undefined;
}): Promise<string> {
  let jwt = new SignJWT({ roles: options.admin ? ['admin'] : [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds);
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

export default fp(
  (app: FastifyInstance, opts: { verifier: JwtVerifier }) => {
    app.decorateRequest('principal', null);
    app.decorateRequest('authError', null);
    // Bad credentials are recorded here and refused in preParsing, after the rate limiter
    // (an onRequest hook of each route) has counted the request against the caller's IP.
    app.decorate('authenticate', async (request: FastifyRequest) => {
      // A beacon cannot send headers: its route takes the token from the body (beacon.ts).
      if (isBeaconWithoutHeader(request)) return;
      try {
        await authenticateToken(request, opts.verifier, bearerToken(request));
      } catch (err) {
        if (!(err instanceof UnauthorizedError)) throw err;
        request.authError = err;
      }
    });
    const authenticated = (request: FastifyRequest): Principal => {
      if (request.principal === null) throw request.authError ?? new UnauthorizedError('A Bearer token is required.');
      return request.principal;
    };
    // A throw inside the executor rejects the promise: the hook's error goes to the error handler.
    app.decorate('requireAuthenticated', (request: FastifyRequest) => new Promise<void>((resolve) => {
      // A beacon's credential is in its body: beacon.ts verifies it once the body is parsed.
      if (!isBeaconWithoutHeader(request)) authenticated(request);
      resolve();
    }));
    app.decorate('requireAdmin', (request: FastifyRequest) => new Promise<void>((resolve) => {
      if (!authenticated(request).isAdmin) throw new ForbiddenError('This route is for administrators.');
      resolve();
    }));
  },
  { name: 'auth' },
);

/** A request to a `tokenInBody` route (a beacon) with no Authorization header: its token is in the body. */
function isBeaconWithoutHeader(request: FastifyRequest): boolean {
  return request.routeOptions.config.tokenInBody === true && request.headers.authorization === undefined;
}

/** The one Bearer token of the request; two Authorization headers are refused, not the first one taken. */
function bearerToken(request: FastifyRequest): string {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'authorization') count++;
  if (count > 1) throw new UnauthorizedError('Exactly one Authorization header is allowed.');
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new UnauthorizedError('A Bearer token is required.');
  return match[1];
}

/**
 * Verifies `token` and makes its subject the request's principal (and the log's `user.id`).
 * The one path for every credential: the Authorization header and a beacon's `access_token`.
 * Throws UnauthorizedError (401) for any token that does not verify.
 */
export async function authenticateToken(request: FastifyRequest, verifier: JwtVerifier, token: string): Promise<void> {
  request.principal = await verifier.verify(token);
  request.log = request.log.child({ 'user.id': request.principal.userId });
}

/** The authenticated caller; routes behind `authenticate` always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new UnauthorizedError('A Bearer token is required.');
  return request.principal;
}

/** The OpenAPI security scheme of the bearer JWT (`components.securitySchemes`), how the docs page asks for it. */
export const BEARER_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description:
    'A JWT whose `sub` is the user id; the `admin` role (a `roles` array claim) opens the admin routes. ' +
    'In development, mint one with the service\'s secret: `npm run token -- --user user_123` (add `--admin` for the admin routes), ' +
    'and send it as `Authorization: Bearer <token>`; in the docs page\'s Authorize dialog, paste the token alone, without `Bearer `.',
} as const;

/** The part of a route's schema the docs helpers below write (the OpenAPI operation's). */
interface DocumentedSchema {
  security?: Record<string, string[]>[];
  description?: string;
  response?: Record<string, unknown>;
}

/**
 * onRoute, on every route behind `authenticate`: the route's OpenAPI operation requires the
 * bearer scheme, so the docs page's "Authorize" applies to it and "Try it out" sends the token.
 */
export function documentBearer(route: RouteOptions): void {
  const schema = route.schema as DocumentedSchema | undefined;
  if (schema !== undefined) schema.security ??= [{ bearer: [] }];
}

const ADMIN_ONLY = '**Admin only**: a token with the `admin` role (`npm run token -- --user ID --admin`); other users get 403.';

/**
 * Makes every route of `app` (an encapsulated plugin, called before its routes) admin-only:
 * `requireAdmin` before the body is read, and each route's description says so first.
 */
export function adminOnly(app: FastifyInstance): void {
  app.addHook('preParsing', app.requireAdmin);
  app.addHook('onRoute', (route) => {
    const schema = route.schema as DocumentedSchema | undefined;
    // A GET's HEAD twin shares its schema object: say it once.
    if (schema === undefined || schema.description?.startsWith(ADMIN_ONLY) === true) return;
    schema.description = schema.description === undefined ? ADMIN_ONLY : `${ADMIN_ONLY}\n\n${schema.description}`;
    (schema.response ??= {})[403] = problemResponse('The token lacks the `admin` role');
  });
}
