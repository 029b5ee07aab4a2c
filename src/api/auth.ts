import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type JWTVerifyGetKey, type JWTPayload, SignJWT, createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify } from 'jose';
import type { Config, JwtAlgorithm } from '../config.ts';
import { ForbiddenError, UnauthorizedError } from '../domain/errors.ts';

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

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The route also takes its token from the body's `access_token` (a beacon; see beacon.ts). */
    tokenInBody?: boolean;
  }
  interface FastifyInstance {
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    requireAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
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
        clockTolerance: 5,
        ...(this.#issuer === undefined ? {} : { issuer: this.#issuer }),
        ...(this.#audience === undefined ? {} : { audience: this.#audience }),
      };
      // jose picks the overload by the key's type; both resolve to the same payload.
      ({ payload } = key instanceof Function ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw new UnauthorizedError(describe(err), { cause: err });
      throw err;
    }
    const sub = payload.sub ?? '';
    if (sub.length < 1 || sub.length > 64) throw new UnauthorizedError('The token subject must be 1..64 characters.');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    return { userId: sub, roles, isAdmin: roles.includes('admin') };
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
    app.decorate('authenticate', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      // A beacon cannot send headers: its route takes the token from the body (beacon.ts).
      if (header === undefined && request.routeOptions.config.tokenInBody === true) return;
      const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match?.[1]) throw new UnauthorizedError('A Bearer token is required.');
      await authenticateToken(request, opts.verifier, match[1]);
    });
    app.decorate('requireAdmin', (request: FastifyRequest) => {
      if (!request.principal?.isAdmin) return Promise.reject(new ForbiddenError('This route is for administrators.'));
      return Promise.resolve();
    });
  },
  { name: 'auth' },
);

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
