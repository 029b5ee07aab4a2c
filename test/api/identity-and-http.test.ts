import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type TestApp, buildTestApp } from '../helpers/app.ts';

/**
 * Issue #7, invariant 6 and "also in scope": identity is a well-formed string, refused
 * requests count against the rate limit, and the HTTP layer (405, Node-level errors, the
 * OpenAPI document) tells the truth.
 */
const now = () => Math.floor(Date.now() / 1000);

/** An HS256 token over the payload JSON exactly as written (so `"\ud800"` stays an escape). */
function rawToken(payloadJson: string, secret: string): string {
  const head = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const body = Buffer.from(payloadJson).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

describe('identity, rate limiting and the HTTP layer (issue #7)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_MAX: '4', RATE_LIMIT_WINDOW_MS: '60000' });
  });
  after(() => t.close());

  const click = (headers: Record<string, string>, remoteAddress = '10.0.0.1') =>
    t.app.inject({ method: 'POST', url: '/api/v1/events', headers: { 'content-type': 'application/json', ...headers }, payload: '{"type":"click"}', remoteAddress });

  it('refuses a sub that is not a well-formed 1..64 character string with 401', async () => {
    const exp = now() + 600;
    const cases: [string, string][] = [
      ['number', `{"sub":12345,"exp":${exp}}`],
      ['float', `{"sub":12345.0,"exp":${exp}}`],
      ['array', `{"sub":["a"],"exp":${exp}}`],
      ['object', `{"sub":{"id":"a"},"exp":${exp}}`],
      ['null', `{"sub":null,"exp":${exp}}`],
      ['empty', `{"sub":"","exp":${exp}}`],
      ['blank', `{"sub":" \\t\\u3000","exp":${exp}}`],
      ['lone surrogate', `{"sub":"u\\ud800","exp":${exp}}`],
      ['control', `{"sub":"a\\nb","exp":${exp}}`],
      ['format (zero-width space)', `{"sub":"a\\u200bb","exp":${exp}}`],
      ['format (bidi override)', `{"sub":"\\u202eadmin","exp":${exp}}`],
      ['65 characters', `{"sub":"${'x'.repeat(65)}","exp":${exp}}`],
      ['iat an hour ahead', `{"sub":"a","exp":${exp},"iat":${now() + 3600}}`],
    ];
    for (const [name, payload] of cases) {
      const res = await click({ authorization: `Bearer ${rawToken(payload, t.secret)}` }, `10.1.0.${cases.findIndex(([n]) => n === name)}`);
      assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    // Fine: 64 astral characters, inner spaces, non-Latin scripts, iat within the leeway.
    for (const sub of ['😀'.repeat(64), 'first last', 'пользователь', 'u_1']) {
      const res = await click({ authorization: `Bearer ${rawToken(JSON.stringify({ sub, exp, iat: now() + 2 }), t.secret)}` }, '10.2.0.1');
      assert.equal(res.statusCode, 202, `${sub}: ${res.body}`);
    }
  });

  /** The app on a real socket (inject cannot send a header twice or a broken request line). */
  let port: number | undefined;
  async function sendRaw(raw: string): Promise<string> {
    if (port === undefined) {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      port = (t.app.server.address() as AddressInfo).port;
    }
    const to = port;
    return new Promise<string>((resolve, reject) => {
      const socket = connect(to, '127.0.0.1', () => socket.write(raw));
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString()));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
  }

  it('refuses two Authorization headers instead of taking the first', async () => {
    const good = (await t.auth('twice')).authorization;
    const request = (auth: string[]) =>
      `POST /api/v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n${auth.map((a) => `Authorization: ${a}\r\n`).join('')}Content-Length: 16\r\n\r\n{"type":"click"}`;
    assert.match(await sendRaw(request([good])), /^HTTP\/1.1 202 /);
    assert.match(await sendRaw(request([good, good])), /^HTTP\/1.1 401 /);
    assert.match(await sendRaw(request([good, 'Bearer other'])), /^HTTP\/1.1 401 /);
  });

  it('counts requests refused for auth (per IP), media type or validation against the caller', async () => {
    const codes = async (send: () => Promise<{ statusCode: number }>) => {
      const out: number[] = [];
      for (let i = 0; i < 6; i++) out.push((await send()).statusCode);
      return out;
    };
    assert.deepEqual(await codes(() => click({ authorization: 'Bearer not.a.token' }, '10.4.0.1')), [401, 401, 401, 401, 429, 429]);
    assert.deepEqual(await codes(() => click({}, '10.4.0.2')), [401, 401, 401, 401, 429, 429]);
    const mallory = await t.auth('mallory');
    const badType = () =>
      t.app.inject({ method: 'POST', url: '/api/v1/events', headers: { ...mallory, 'content-type': 'text/xml' }, payload: '<x/>', remoteAddress: '10.4.0.3' });
    assert.deepEqual(await codes(badType), [415, 415, 415, 415, 429, 429]);
    const eve = await t.auth('eve');
    const invalid = () => t.app.inject({ method: 'POST', url: '/api/v1/events', headers: eve, payload: { type: 'Bad!' }, remoteAddress: '10.4.0.4' });
    assert.deepEqual(await codes(invalid), [400, 400, 400, 400, 429, 429]);
    // Another user from the same address is not limited by them.
    assert.equal((await click(await t.auth('bystander'), '10.4.0.4')).statusCode, 202);
  });

  it('answers 405 with Allow for a known path and an unsupported method, before reading any body', async () => {
    for (const [method, url, allow] of [
      ['PUT', '/api/v1/events', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['QUERY', '/api/v1/bookmarks', 'GET, HEAD, POST'],
      ['POST', '/api/v1/reviews/6f1f4a4e-5f5e-4a0e-9b7b-0a1b2c3d4e5f/vote', 'DELETE, PUT'],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: { 'content-type': 'text/xml' }, payload: '<x/>', remoteAddress: '10.5.0.1' });
      assert.equal(res.statusCode, 405, `${method} ${url}: ${res.body}`);
      assert.equal(res.headers.allow, allow);
      assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    }
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here' })).statusCode, 404);
    // The router's own errors (a malformed or too long URL) are Problem Details too, with a request id.
    const admin = await t.auth('admin', { admin: true });
    for (const url of ['/api/v1/analytics/users/%E0%A4%A/events', `/api/v1/analytics/users/${'a'.repeat(2000)}/events`]) {
      const res = await t.app.inject({ method: 'GET', url, headers: admin, remoteAddress: '10.5.0.2' });
      assert.equal(res.statusCode, 400, url);
      assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.ok(res.headers['x-request-id']);
    }
  });

  it('answers Node-level errors (431, a bad request line) as Problem Details with X-Request-Id', async () => {
    for (const [raw, status] of [
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['NOT HTTP AT ALL\r\n\r\n', 400],
    ] as const) {
      const response = await sendRaw(raw);
      const [head = '', body = ''] = response.split('\r\n\r\n');
      assert.match(head, new RegExp(`^HTTP/1.1 ${status} `));
      assert.match(head, /\r\nContent-Type: application\/problem\+json\r\n/i);
      const id = /\r\nX-Request-Id: ([\w-]+)/i.exec(head)?.[1];
      assert.ok(id, head);
      assert.deepEqual(JSON.parse(body), { ...JSON.parse(body), status, request_id: id });
    }
  });

  it('documents errors as application/problem+json, with 429 and 503 wherever they can come from', () => {
    const doc = t.app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
    let operations = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        operations++;
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400 && !(path === '/readyz' && status === '503')) {
            assert.deepEqual(Object.keys(response.content ?? {}), ['application/problem+json'], `${method} ${path} ${status}`);
          }
        }
        assert.ok('503' in op.responses, `${method} ${path} documents 503`);
        if (path.startsWith('/api/v1/')) {
          for (const status of ['401', '429']) assert.ok(status in op.responses, `${method} ${path} documents ${status}`);
        }
        if (['post', 'put', 'patch'].includes(method)) {
          for (const status of ['400', '413', '415']) assert.ok(status in op.responses, `${method} ${path} documents ${status}`);
        }
      }
    }
    assert.ok(operations > 20);
  });
});
