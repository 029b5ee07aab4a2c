import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestApp, buildTestApp } from '../helpers/app.ts';

/** CORS through @fastify/cors, allowed origins from CORS_ORIGINS (src/api/cors.ts). */
const ALLOWED = 'https://cinema.example';
const OTHER = 'https://evil.example';

describe('CORS for the configured origins', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ CORS_ORIGINS: `${ALLOWED}, http://localhost:3000`, CORS_MAX_AGE_SECONDS: '900', RATE_LIMIT_MAX: '1000' });
  });
  after(() => t.close());

  const preflight = (origin: string, url = '/api/v1/events', method = 'POST') =>
    t.app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' },
    });

  it('answers a preflight from an allowed origin, cached for CORS_MAX_AGE_SECONDS', async () => {
    for (const [url, method] of [['/api/v1/events', 'POST'], ['/api/v1/films/6f1f4a4e-5f5e-4a0e-9b7b-0a1b2c3d4e5f/like', 'PUT'], ['/api/v1/reviews/x', 'DELETE']] as const) {
      const res = await preflight(ALLOWED, url, method);
      assert.equal(res.statusCode, 204, url);
      assert.equal(res.headers['access-control-allow-origin'], ALLOWED);
      assert.match(String(res.headers['access-control-allow-methods']), new RegExp(`\\b${method}\\b`));
      const allowedHeaders = String(res.headers['access-control-allow-headers']).toLowerCase().split(/\s*,\s*/);
      for (const h of ['authorization', 'content-type', 'content-encoding', 'x-request-id']) assert.ok(allowedHeaders.includes(h), `${h} allowed`);
      assert.equal(res.headers['access-control-max-age'], '900');
      assert.match(String(res.headers.vary), /origin/i);
      assert.equal(res.headers['access-control-allow-credentials'], undefined, 'no credentials unless configured');
    }
  });

  it('lets an allowed origin read the response, X-Request-Id and Retry-After included', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: { origin: 'http://localhost:3000', 'content-type': 'application/json', ...(await t.auth('cors-user')) },
      payload: { type: 'click' },
    });
    assert.equal(res.statusCode, 202);
    assert.equal(res.headers['access-control-allow-origin'], 'http://localhost:3000');
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase().split(/\s*,\s*/);
    assert.ok(exposed.includes('x-request-id') && exposed.includes('retry-after'), `exposed: ${exposed.join(',')}`);
    assert.match(String(res.headers.vary), /origin/i);
  });

  it('makes the errors a page reacts to readable too (401, 400, 415, 404)', async () => {
    const headers = { origin: ALLOWED };
    const answers = [
      await t.app.inject({ method: 'POST', url: '/api/v1/events', headers, payload: { type: 'click' } }),
      await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: { ...headers, ...(await t.auth('u')) }, payload: { type: 'Bad!' } }),
      await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: { ...headers, ...(await t.auth('u')), 'content-type': 'application/xml' }, payload: '<a/>' }),
      await t.app.inject({ method: 'GET', url: '/nowhere', headers }),
    ];
    assert.deepEqual(answers.map((r) => r.statusCode), [401, 400, 415, 404]);
    for (const res of answers) assert.equal(res.headers['access-control-allow-origin'], ALLOWED, `status ${res.statusCode}`);
  });

  it('gives an origin outside the list no Access-Control-Allow-Origin, so the browser blocks it', async () => {
    const pre = await preflight(OTHER);
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    // Near misses: another scheme, port, case or a suffix are other origins.
    for (const origin of ['http://cinema.example', 'https://cinema.example:8443', 'https://CINEMA.example', 'https://cinema.example.evil.example', 'null']) {
      assert.equal((await preflight(origin)).headers['access-control-allow-origin'], undefined, origin);
    }
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin: OTHER } });
    assert.equal(res.statusCode, 200, 'the server still answers; the browser withholds it from the page');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  it('adds nothing to a same-origin or non-browser request', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});
