import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createErrorReporter } from '../../src/observability/error-reporter.ts';
import type { UgcStore } from '../../src/ports/ugc-store.ts';
import { type TestApp, buildTestApp, eventually } from '../helpers/app.ts';

/** A Sentry ingestion endpoint of our own: it keeps the events of every envelope it receives. */
async function sentryReceiver(): Promise<{ server: Server; dsn: string; events: Record<string, unknown>[] }> {
  const events: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      // Envelope: a header line, then (item header, item payload) line pairs.
      const lines = body.toString('utf8').split('\n').filter((l) => l.length > 0);
      for (let i = 1; i + 1 < lines.length; i += 2) {
        const header = JSON.parse(lines[i] ?? '{}') as { type?: string };
        if (header.type === 'event') events.push(JSON.parse(lines[i + 1] ?? '{}') as Record<string, unknown>);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, dsn: `http://publickey@127.0.0.1:${(server.address() as AddressInfo).port}/1`, events };
}

describe('ECS logs and Sentry error reports', () => {
  let t: TestApp;
  let receiver: Awaited<ReturnType<typeof sentryReceiver>>;
  const lines: string[] = [];
  let real: ReturnType<typeof createErrorReporter>;

  before(async () => {
    receiver = await sentryReceiver();
    real = createErrorReporter({ dsn: receiver.dsn, environment: 'test', release: 'ugc-service@test' });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
        done();
      },
    });
    // A store whose reads fail unexpectedly: the kind of bug Sentry is for.
    const faulty = (store: UgcStore): UgcStore =>
      new Proxy(store, {
        get(target, prop) {
          if (prop === 'getLike') return () => Promise.reject(new Error('boom: secret backend detail'));
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    t = await buildTestApp({}, { reporter: real, logDestination: sink, wrapStore: faulty });
  });
  after(async () => {
    await t.close();
    receiver.server.close();
  });

  const entries = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  it('writes one ECS access log line per request with request id, user id and route, and never the token', async () => {
    const headers = { ...(await t.auth('log-user')), 'x-request-id': 'ecs-req-1' };
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me/likes?limit=5', headers });
    assert.equal(res.statusCode, 200);
    const line = await eventually(
      () => Promise.resolve(entries().find((e) => e['http.request.id'] === 'ecs-req-1' && e.message === 'request completed')),
      (e) => e !== undefined,
      2000,
    );
    assert.ok(line);
    assert.equal(line['log.level'], 'info');
    assert.match(String(line['@timestamp']), /^\d{4}-\d\d-\d\dT/);
    assert.ok(line['ecs.version'] ?? (line.ecs as { version?: string } | undefined)?.version, 'ecs.version');
    assert.equal(line['user.id'], 'log-user');
    assert.equal(line['url.path'], '/api/v1/users/me/likes');
    assert.equal(line['ugc.route'], '/api/v1/users/me/likes');
    assert.equal(line['http.response.status_code'], 200);
    assert.equal(line['http.request.method'], 'GET');
    assert.equal(typeof line['event.duration'], 'number');
    const token = headers.authorization.slice('Bearer '.length);
    assert.ok(!lines.some((l) => l.includes(token) || l.includes('Bearer ')), 'no token in any log line');
  });

  it('reports an unexpected 500 to Sentry with the request id and user id, and hides the cause from the client', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/films/${crypto.randomUUID()}/like`,
      headers: { ...(await t.auth('unlucky-user')), 'x-request-id': 'fail-req-1' },
    });
    assert.equal(res.statusCode, 500);
    assert.ok(!res.body.includes('boom') && !res.body.includes('secret'), 'no backend detail in the response');
    assert.equal(res.json<{ request_id: string }>().request_id, 'fail-req-1');
    await real.flush(2000);
    const event = await eventually(() => Promise.resolve(receiver.events.find((e) => (e.tags as Record<string, string> | undefined)?.request_id === 'fail-req-1')), (e) => e !== undefined, 5000);
    assert.ok(event);
    assert.deepEqual(event.user, { id: 'unlucky-user' });
    assert.equal((event.tags as Record<string, string>).route, '/api/v1/films/:film_id/like');
    assert.match(JSON.stringify(event.exception), /boom/);
  });

  it('does not report 4xx', async () => {
    const before = receiver.events.length;
    const auth = await t.auth('careful-user');
    assert.equal((await t.app.inject({ method: 'PUT', url: `/api/v1/films/not-a-uuid/like`, headers: auth, payload: { score: 1 } })).statusCode, 400);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/users/me/likes' })).statusCode, 401);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/topics', headers: auth })).statusCode, 403);
    assert.equal((await t.app.inject({ method: 'GET', url: '/nowhere', headers: auth })).statusCode, 404);
    await real.flush(2000);
    assert.equal(receiver.events.length, before);
  });
});
