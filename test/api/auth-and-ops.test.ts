import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { JwtVerifier } from '../../src/api/auth.ts';
import { loadConfig } from '../../src/config.ts';
import { UnauthorizedError } from '../../src/domain/errors.ts';
import { type TestApp, buildTestApp } from '../helpers/app.ts';

const now = () => Math.floor(Date.now() / 1000);

describe('authentication, request ids and operations routes', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  const likes = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url: '/api/v1/users/me/likes', headers });
  const hs = (claims: Record<string, unknown>, secret = t.secret, header: Record<string, unknown> = { alg: 'HS256' }) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...header }).sign(new TextEncoder().encode(secret));

  it('accepts a valid token and rejects missing, malformed, expired, early, unsigned and wrongly signed ones', async () => {
    assert.equal((await likes(await t.auth('alice'))).statusCode, 200);
    const cases: [string, Record<string, string>][] = [
      ['no header', {}],
      ['not bearer', { authorization: 'Basic abc' }],
      ['garbage', { authorization: 'Bearer not.a.jwt' }],
      ['expired', { authorization: `Bearer ${await hs({ sub: 'a', exp: now() - 60 })}` }],
      ['not yet valid', { authorization: `Bearer ${await hs({ sub: 'a', exp: now() + 600, nbf: now() + 300 })}` }],
      ['no exp', { authorization: `Bearer ${await hs({ sub: 'a' })}` }],
      ['no sub', { authorization: `Bearer ${await hs({ exp: now() + 600 })}` }],
      ['sub too long', { authorization: `Bearer ${await hs({ sub: 'x'.repeat(65), exp: now() + 600 })}` }],
      ['wrong key', { authorization: `Bearer ${await hs({ sub: 'a', exp: now() + 600 }, 'another-secret-another-secret-xx')}` }],
      [
        'alg none',
        {
          authorization: `Bearer ${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'a', exp: now() + 600 })).toString('base64url')}.`,
        },
      ],
    ];
    for (const [name, headers] of cases) {
      const res = await likes(headers);
      assert.equal(res.statusCode, 401, name);
      assert.equal(res.headers['www-authenticate'], 'Bearer', name);
      assert.match(res.headers['content-type'] ?? '', /problem\+json/, name);
    }
  });

  it('gives admin routes to tokens with the admin role only', async () => {
    const user = await t.app.inject({ method: 'GET', url: '/api/v1/topics', headers: await t.auth('bob') });
    assert.equal(user.statusCode, 403);
    assert.match(user.headers['content-type'] ?? '', /problem\+json/);
    const admin = await t.app.inject({ method: 'GET', url: '/api/v1/topics', headers: await t.auth('root', { admin: true }) });
    assert.equal(admin.statusCode, 200);
  });

  it('echoes a valid X-Request-Id, generates one otherwise, also on errors', async () => {
    const given = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    assert.equal(given.headers['x-request-id'], 'abc-123');
    const generated = await t.app.inject({ method: 'GET', url: '/healthz' });
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const hostile = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'a b\u0000<script>' } });
    assert.match(String(hostile.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const error = await t.app.inject({ method: 'GET', url: '/api/v1/nope', headers: { 'x-request-id': 'req-404' } });
    assert.equal(error.statusCode, 404);
    assert.equal(error.headers['x-request-id'], 'req-404');
    assert.equal(error.json<{ request_id: string }>().request_id, 'req-404');
  });

  it('serves /healthz, /readyz with every dependency, and Prometheus /metrics', async () => {
    assert.deepEqual((await t.app.inject('/healthz')).json(), { status: 'ok' });
    const ready = await t.app.inject('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), {
      status: 'ready',
      dependencies: { event_log: { status: 'up' }, warehouse: { status: 'up' }, store: { status: 'up' } },
    });
    await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: await t.auth('m'), payload: { type: 'click' } });
    await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: await t.auth('m'), payload: { type: 'Nope' } });
    const metrics = await t.app.inject('/metrics');
    assert.match(metrics.body, /ugc_event_requests_rejected_total\{status="400"\} 1/);
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(metrics.body, /ugc_events_accepted_total 1/);
    assert.match(metrics.body, /http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/events",status="202"\} 1/);
  });

  it('publishes the contract as OpenAPI 3.1 with every route, and the docs page', async () => {
    const doc = (await t.app.inject('/openapi.json')).json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    assert.equal(doc.openapi, '3.1.0');
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    for (const route of [
      'POST /api/v1/events',
      'GET /api/v1/topics',
      'POST /api/v1/topics',
      'DELETE /api/v1/topics/{name}',
      'POST /api/v1/topics/{name}/messages',
      'PUT /api/v1/films/{film_id}/like',
      'GET /api/v1/films/{film_id}/like',
      'DELETE /api/v1/films/{film_id}/like',
      'GET /api/v1/films/{film_id}/likes/summary',
      'GET /api/v1/users/me/likes',
      'POST /api/v1/bookmarks',
      'GET /api/v1/bookmarks',
      'DELETE /api/v1/bookmarks/{id}',
      'POST /api/v1/films/{film_id}/reviews',
      'GET /api/v1/films/{film_id}/reviews',
      'GET /api/v1/reviews/{id}',
      'PATCH /api/v1/reviews/{id}',
      'DELETE /api/v1/reviews/{id}',
      'PUT /api/v1/reviews/{id}/vote',
      'DELETE /api/v1/reviews/{id}/vote',
      'GET /api/v1/analytics/summary',
      'GET /api/v1/analytics/films/top',
      'GET /api/v1/analytics/users/{user_id}/events',
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
    ]) {
      assert.ok(routes.includes(route), `${route} is documented`);
    }
    const docs = await t.app.inject('/docs/');
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger-ui/i);
  });

  it('answers unknown routes with a Problem Details 404', async () => {
    const res = await t.app.inject('/nowhere');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json<{ status: number }>().status, 404);
  });
});

describe('JwtVerifier with public keys', () => {
  for (const alg of ['RS256', 'ES256'] as const) {
    it(`verifies ${alg} tokens from a PEM public key and rejects other keys and HS256`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(alg);
      const other = await generateKeyPair(alg);
      const pem = await exportSPKI(publicKey);
      const verifier = new JwtVerifier(loadConfig({ AUTH_JWT_ALGORITHM: alg, AUTH_JWT_PUBLIC_KEY: pem }).auth);
      const sign = (key: Parameters<SignJWT['sign']>[0], claims: Record<string, unknown> = { sub: 'carol', roles: ['admin'] }) =>
        new SignJWT(claims).setProtectedHeader({ alg }).setExpirationTime('5m').sign(key);
      assert.deepEqual(await verifier.verify(await sign(privateKey)), { userId: 'carol', roles: ['admin'], isAdmin: true });
      await assert.rejects(verifier.verify(await sign(other.privateKey)), UnauthorizedError);
      // Algorithm confusion: an HS256 token "signed" with the public key text.
      const confused = await new SignJWT({ sub: 'eve' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(pem));
      await assert.rejects(verifier.verify(confused), UnauthorizedError);
    });
  }

  it('verifies RS256 tokens against a JWKS URL', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const server = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
      const verifier = new JwtVerifier(loadConfig({ AUTH_JWT_ALGORITHM: 'RS256', AUTH_JWKS_URL: url }).auth);
      const token = await new SignJWT({ sub: 'dave' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('5m').sign(privateKey);
      assert.equal((await verifier.verify(token)).userId, 'dave');
      const stranger = await generateKeyPair('RS256');
      const forged = await new SignJWT({ sub: 'dave' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('5m').sign(stranger.privateKey);
      await assert.rejects(verifier.verify(forged), UnauthorizedError);
    } finally {
      server.close();
    }
  });
});
