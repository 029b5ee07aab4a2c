import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { mintToken } from '../../src/api/auth.ts';
import type { EventMessage } from '../../src/domain/events.ts';
import { createErrorReporter } from '../../src/observability/error-reporter.ts';
import type { EventLog, LogRecordInput } from '../../src/ports/event-log.ts';
import { type TestApp, buildTestApp, eventually, readEvents } from '../helpers/app.ts';
import { DelegatingEventLog } from '../helpers/delegating.ts';

/**
 * Beacon delivery (src/api/beacon.ts): `text/plain` JSON and the JWT in the body's
 * `access_token`, verified like the header, and never seen again: not in a log line, a metric,
 * an error body, the event log or Sentry.
 */
const FAILING_USER = 'beacon-unlucky';

/** The real log, except that appends for FAILING_USER fail unexpectedly (a 500 for Sentry). */
class FailingForOneUser extends DelegatingEventLog {
  override append(stream: string, records: LogRecordInput[]): Promise<void> {
    if (records.some((r) => r.key === FAILING_USER)) return Promise.reject(new Error('boom: unexpected log failure'));
    return this.real.append(stream, records);
  }
}

async function sentryReceiver(): Promise<{ server: Server; dsn: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push((req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, dsn: `http://publickey@127.0.0.1:${(server.address() as AddressInfo).port}/1`, bodies };
}

describe('beacons: text/plain JSON with the token in the body', () => {
  let t: TestApp;
  let receiver: Awaited<ReturnType<typeof sentryReceiver>>;
  let reporter: ReturnType<typeof createErrorReporter>;
  const lines: string[] = [];
  const tokens: string[] = [];

  before(async () => {
    receiver = await sentryReceiver();
    reporter = createErrorReporter({ dsn: receiver.dsn, environment: 'test', release: 'ugc-service@test' });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
        done();
      },
    });
    t = await buildTestApp({}, { reporter, logDestination: sink, wrapLog: (log: EventLog) => new FailingForOneUser(log) });
  });
  after(async () => {
    await t.close();
    receiver.server.close();
    // Every token any test used, searched for everywhere the service writes.
    const metrics = await t.metrics.registry.metrics();
    for (const token of tokens) {
      const parts = [token, token.split('.')[2] ?? token];
      for (const part of parts) {
        assert.ok(!lines.some((l) => l.includes(part)), 'no token in a log line');
        assert.ok(!metrics.includes(part), 'no token in a metric');
        assert.ok(!receiver.bodies.some((b) => b.includes(part)), 'no token in Sentry');
      }
    }
  });

  const token = async (userId: string, ttlSeconds = 600) => {
    const jwt = await mintToken({ secret: t.secret, userId, admin: false, ttlSeconds });
    tokens.push(jwt);
    return jwt;
  };

  const readLog = (): Promise<EventMessage[]> => readEvents(t.log, t.config.events.topic);

  const beacon = (payload: string | Buffer, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/api/v1/events', headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers }, payload });

  /** The response body and headers must not contain the token (or its signature). */
  function noTokenIn(res: { body: string; headers: Record<string, unknown> }, jwt: string) {
    for (const part of [jwt, jwt.split('.')[2] ?? jwt]) {
      assert.ok(!res.body.includes(part), `token in the response body: ${res.body}`);
      assert.ok(!JSON.stringify(res.headers).includes(part), 'token in a response header');
    }
  }

  it('accepts a batch sent as text/plain with access_token, for the token user, and stores no token', async () => {
    const user = `beacon-${randomUUID()}`;
    const jwt = await token(user);
    const ids = [randomUUID(), randomUUID()];
    const res = await beacon(JSON.stringify({ access_token: jwt, sent_at: new Date().toISOString(), events: ids.map((event_id) => ({ event_id, type: 'page_view' })) }));
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(res.json(), { accepted: 2 });
    const written = (await readLog()).filter((m) => m.user_id === user);
    assert.deepEqual(written.map((m) => m.event_id).sort(), [...ids].sort());
    assert.ok(!JSON.stringify(written).includes(jwt), 'the token is not in the event log');
    noTokenIn(res, jwt);
  });

  it('accepts a single event with access_token, text/plain without a charset, and gzip', async () => {
    const user = `beacon-${randomUUID()}`;
    const jwt = await token(user);
    const single = await beacon(JSON.stringify({ type: 'click', access_token: jwt }), { 'content-type': 'text/plain' });
    assert.equal(single.statusCode, 202, single.body);
    const zipped = await beacon(gzipSync(JSON.stringify({ access_token: jwt, events: [{ type: 'click' }] })), { 'content-encoding': 'gzip' });
    assert.equal(zipped.statusCode, 202, zipped.body);
    assert.equal((await readLog()).filter((m) => m.user_id === user).length, 2);
  });

  it('verifies the body token exactly like the header: expired, tampered, wrong key, missing → 401', async () => {
    const user = `beacon-${randomUUID()}`;
    const good = await token(user);
    const expired = await token(user, -60);
    const wrongKey = await mintToken({ secret: 'x'.repeat(40), userId: user, admin: false, ttlSeconds: 600 });
    tokens.push(wrongKey);
    const tampered = `${good.slice(0, -4)}AAAA`;
    tokens.push(tampered);
    for (const jwt of [expired, wrongKey, tampered, 'not-a-jwt']) {
      const viaBody = await beacon(JSON.stringify({ access_token: jwt, events: [{ type: 'click' }] }));
      const viaHeader = await t.app.inject({
        method: 'POST',
        url: '/api/v1/events',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
        payload: { events: [{ type: 'click' }] },
      });
      assert.equal(viaBody.statusCode, 401);
      assert.equal(viaHeader.statusCode, 401);
      assert.equal(viaBody.json<{ detail: string }>().detail, viaHeader.json<{ detail: string }>().detail, 'same verdict both ways');
      noTokenIn(viaBody, jwt);
    }
    for (const body of [{ events: [{ type: 'click' }] }, { access_token: '', type: 'click' }, { access_token: 42, type: 'click' }, { access_token: null, type: 'click' }]) {
      const res = await beacon(JSON.stringify(body));
      assert.equal(res.statusCode, 401, JSON.stringify(body));
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    assert.equal((await readLog()).filter((m) => m.user_id === user).length, 0, 'nothing written');
  });

  it('refuses a header and a body token together, and access_token on any other route', async () => {
    const user = `beacon-${randomUUID()}`;
    const jwt = await token(user);
    const both = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
      payload: { access_token: jwt, type: 'click' },
    });
    assert.equal(both.statusCode, 401);
    noTokenIn(both, jwt);
    const like = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/films/6f1f4a4e-5f5e-4a0e-9b7b-0a1b2c3d4e5f/like',
      headers: { 'content-type': 'application/json' },
      payload: { access_token: jwt, score: 5 },
    });
    assert.equal(like.statusCode, 401, 'no body token outside the events route');
    const likeText = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/films/6f1f4a4e-5f5e-4a0e-9b7b-0a1b2c3d4e5f/like',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${jwt}` },
      payload: JSON.stringify({ score: 5 }),
    });
    assert.equal(likeText.statusCode, 415, 'text/plain only on the events route');
    assert.equal((await readLog()).filter((m) => m.user_id === user).length, 0);
  });

  it('keeps the contract: all-or-nothing 400, 413 over the limit, malformed JSON 400 — no token in any answer', async () => {
    const user = `beacon-${randomUUID()}`;
    const jwt = await token(user);
    const bad = await beacon(JSON.stringify({ access_token: jwt, events: [{ type: 'click' }, { type: 'Bad!' }] }));
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json<{ errors: { path: string }[] }>().errors.map((e) => e.path), ['/events/1/type']);
    noTokenIn(bad, jwt);
    const big = await beacon(JSON.stringify({ access_token: jwt, events: [{ type: 'click', description: 'x'.repeat(100) }] }).padEnd(t.config.server.bodyLimitBytes + 10, ' '));
    assert.equal(big.statusCode, 413);
    noTokenIn(big, jwt);
    // V8's JSON errors quote the text around the fault: the token must not come back in the detail.
    for (const broken of [`{"access_token":"${jwt}", "events": [}`, `{"access_token":"${jwt}"x`, `{"access_token":${jwt}}`]) {
      const res = await beacon(broken);
      assert.equal(res.statusCode, 400, broken);
      noTokenIn(res, jwt);
    }
    assert.equal((await readLog()).filter((m) => m.user_id === user).length, 0, 'nothing written');
  });

  it('never reports the token to Sentry when a beacon fails unexpectedly', async () => {
    const jwt = await token(FAILING_USER);
    const res = await beacon(JSON.stringify({ access_token: jwt, events: [{ type: 'click' }] }), { 'x-request-id': 'beacon-500' });
    assert.equal(res.statusCode, 500);
    noTokenIn(res, jwt);
    await reporter.flush(2000);
    await eventually(() => Promise.resolve(receiver.bodies.some((b) => b.includes('beacon-500'))), (seen) => seen, 5000, 'the Sentry event');
  });

  it('lists text/plain beside application/json in the OpenAPI document, for POST /api/v1/events only', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
    }>();
    assert.deepEqual(Object.keys(doc.paths['/api/v1/events']?.post?.requestBody?.content ?? {}).sort(), ['application/json', 'text/plain']);
    assert.deepEqual(Object.keys(doc.paths['/api/v1/bookmarks']?.post?.requestBody?.content ?? {}), ['application/json']);
  });

  it('without CORS_ORIGINS, answers no preflight and sends no CORS header', async () => {
    const pre = await t.app.inject({ method: 'OPTIONS', url: '/api/v1/events', headers: { origin: 'https://cinema.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.statusCode, 405, 'a known path without an OPTIONS route');
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://cinema.example' } });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});
