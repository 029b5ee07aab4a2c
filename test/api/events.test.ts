import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { EventMessage } from '../../src/domain/events.ts';
import { type TestApp, buildTestApp, readEvents } from '../helpers/app.ts';

const FILM = '6f1f4a4e-5f5e-4a0e-9b7b-0a1b2c3d4e5f';

describe('POST /api/v1/events', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ EVENT_LOG_MAX_PENDING: '1000' });
  });
  after(() => t.close());

  const readLog = (): Promise<EventMessage[]> => readEvents(t.log, t.config.events.topic);

  async function post(body: unknown, headers: Record<string, string> = {}, userId = `u-${randomUUID()}`) {
    return t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: { 'content-type': 'application/json', ...(await t.auth(userId)), ...headers },
      payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
  }

  it('accepts one event with 202 and writes it to the log keyed by the token user', async () => {
    const user = `u-${randomUUID()}`;
    const eventId = randomUUID();
    const res = await post({ event_id: eventId, type: 'click', element: { kind: 'trailer', id: 't-1' }, film_id: FILM, properties: { a: 1, b: 'x', c: true } }, {}, user);
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), { accepted: 1 });
    const written = (await readLog()).find((m) => m.event_id === eventId);
    assert.ok(written, 'event is in the log');
    assert.equal(written.user_id, user);
    assert.deepEqual(written.element, { kind: 'trailer', id: 't-1' });
    assert.deepEqual(written.properties, { a: 1, b: 'x', c: true });
    assert.equal(written.occurred_at, written.received_at, 'server time when occurred_at is absent');
  });

  it('accepts a batch, generates missing event ids and corrects client clock skew from sent_at', async () => {
    const user = `u-${randomUUID()}`;
    // The client clock is one hour behind: it says it sent at 11:00 what happened at 10:59.
    const sentAt = new Date(Date.now() - 3_600_000);
    const occurred = new Date(sentAt.getTime() - 60_000);
    const res = await post(
      { sent_at: sentAt.toISOString(), events: [{ type: 'page_view', occurred_at: occurred.toISOString() }, { type: 'click' }] },
      {},
      user,
    );
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), { accepted: 2 });
    const mine = (await readLog()).filter((m) => m.user_id === user);
    assert.equal(mine.length, 2);
    const view = mine.find((m) => m.type === 'page_view');
    assert.ok(view);
    const lag = Date.parse(view.received_at) - Date.parse(view.occurred_at);
    assert.equal(lag, 60_000, 'occurred_at = received_at - (sent_at - occurred_at)');
    assert.match(mine[1]?.event_id ?? '', /^[0-9a-f-]{36}$/);
  });

  it('clamps times more than 24 h in the future to received_at', async () => {
    const user = `u-${randomUUID()}`;
    const res = await post({ type: 'click', occurred_at: new Date(Date.now() + 3 * 86_400_000).toISOString() }, {}, user);
    assert.equal(res.statusCode, 202);
    const [m] = (await readLog()).filter((e) => e.user_id === user);
    assert.equal(m?.occurred_at, m?.received_at);
  });

  it('rejects a batch with one bad event: 400 listing every bad event by index, nothing written', async () => {
    const user = `u-${randomUUID()}`;
    const res = await post(
      {
        events: [
          { type: 'click' },
          { type: 'Click!' },
          { type: 'view', film_id: 'not-a-uuid', surprise: 1 },
          { type: 'view', started_at: '2026-01-01T10:00:00Z', ended_at: '2026-01-01T09:00:00Z' },
        ],
      },
      {},
      user,
    );
    assert.equal(res.statusCode, 400);
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    const problem = res.json<{ status: number; errors: { path: string; message: string }[] }>();
    assert.equal(problem.status, 400);
    const paths = problem.errors.map((e) => e.path).sort();
    // Schema errors and rule errors (ended_at < started_at) together, in one 400 (issue #7, invariant 5).
    assert.deepEqual(paths, ['/events/1/type', '/events/2/film_id', '/events/2/surprise', '/events/3/ended_at']);
    assert.equal((await readLog()).filter((m) => m.user_id === user).length, 0);
    // Rules the schema cannot express are reported the same way when the schema passes.
    const interval = await post({ events: [{ type: 'click' }, { type: 'view', started_at: '2026-01-01T10:00:00Z', ended_at: '2026-01-01T09:00:00Z' }] }, {}, user);
    assert.equal(interval.statusCode, 400);
    assert.deepEqual(interval.json<{ errors: unknown[] }>().errors, [{ path: '/events/1/ended_at', message: 'must not be before started_at' }]);
    assert.equal((await readLog()).filter((m) => m.user_id === user).length, 0);
  });

  it('rejects unknown fields at the top level and in element, but not inside properties', async () => {
    assert.equal((await post({ type: 'click', properties: { anything_goes: 'yes' } })).statusCode, 202);
    const res = await post({ type: 'click', element: { kind: 'film', id: 'x', extra: true } });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json<{ errors: { path: string }[] }>().errors.map((e) => e.path), ['/element/extra']);
    assert.equal((await post({ sent_at: new Date().toISOString(), events: [{ type: 'click' }], more: 1 })).statusCode, 400);
  });

  it('rejects nested or oversized properties', async () => {
    const nested = await post({ type: 'click', properties: { deep: { no: 1 } } });
    assert.equal(nested.statusCode, 400);
    const big = await post({ type: 'click', properties: { blob: 'x'.repeat(9000) } });
    assert.equal(big.statusCode, 400);
    assert.deepEqual(big.json<{ errors: { path: string }[] }>().errors.map((e) => e.path), ['/properties']);
  });

  it('rejects an empty batch, a batch over 1000 and wrong types without coercion', async () => {
    assert.equal((await post({ events: [] })).statusCode, 400);
    assert.equal((await post({ events: Array.from({ length: 1001 }, () => ({ type: 'click' })) })).statusCode, 400);
    assert.equal((await post({ type: 'click', description: 5 })).statusCode, 400);
    assert.equal((await post({})).statusCode, 400);
  });

  it('answers malformed JSON with 400 and a wrong content type with 415', async () => {
    const bad = await post('{"type":');
    assert.equal(bad.statusCode, 400);
    assert.match(bad.headers['content-type'] ?? '', /problem\+json/);
    // text/plain is a beacon's JSON (test/api/beacon.test.ts): not JSON is a 400, not a 415.
    const text = await post('type=click', { 'content-type': 'text/plain' });
    assert.equal(text.statusCode, 400);
    const xml = await post('<type>click</type>', { 'content-type': 'application/xml' });
    assert.equal(xml.statusCode, 415);
    assert.match(xml.headers['content-type'] ?? '', /problem\+json/);
    const form = await post('type=click', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.statusCode, 415);
  });

  it('accepts gzip bodies and rejects corrupt gzip and unknown encodings', async () => {
    const user = `u-${randomUUID()}`;
    const body = gzipSync(JSON.stringify({ events: [{ type: 'click' }, { type: 'view' }] }));
    const ok = await post(body, { 'content-encoding': 'gzip' }, user);
    assert.equal(ok.statusCode, 202);
    assert.deepEqual(ok.json(), { accepted: 2 });
    assert.equal((await post(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' })).statusCode, 400);
    assert.equal((await post('{"type":"click"}', { 'content-encoding': 'br' })).statusCode, 415);
  });

  it('answers 413 for a body over the limit, also when it only gets there after decompression', async () => {
    const huge = JSON.stringify({ events: [{ type: 'click', description: 'x'.repeat(1000) }] }).padEnd(1_100_000, ' ');
    const plain = await post(huge);
    assert.equal(plain.statusCode, 413);
    assert.match(plain.headers['content-type'] ?? '', /problem\+json/);
    const bomb = gzipSync(huge);
    assert.ok(bomb.length < 20_000, 'the compressed body is small');
    const zipped = await post(bomb, { 'content-encoding': 'gzip' });
    assert.equal(zipped.statusCode, 413);
  });

  it('answers 503 with Retry-After when the log cannot take the events, and writes nothing', async () => {
    const user = `u-${randomUUID()}`;
    // More records than the log may hold in its queue at once (EVENT_LOG_MAX_PENDING=1000).
    const res = await post({ events: Array.from({ length: 1000 }, () => ({ type: 'click' })) }, {}, user);
    const res2 = await post({ events: Array.from({ length: 1000 }, () => ({ type: 'click' })) }, {}, user);
    assert.deepEqual([res.statusCode, res2.statusCode].sort(), [202, 202], 'a full queue-sized batch fits');
    const pending = await Promise.all(Array.from({ length: 4 }, () => post({ events: Array.from({ length: 600 }, () => ({ type: 'click' })) }, {}, user)));
    const codes = pending.map((r) => r.statusCode);
    assert.ok(codes.includes(503), `some concurrent request overflowed the queue: ${codes.join(',')}`);
    for (const r of pending.filter((p) => p.statusCode === 503)) {
      assert.equal(r.headers['retry-after'], '1');
      assert.match(r.headers['content-type'] ?? '', /problem\+json/);
    }
    const accepted = pending.filter((r) => r.statusCode === 202).length;
    assert.equal((await readLog()).filter((m) => m.user_id === user).length, 2000 + accepted * 600);
  });

  it('requires a token', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/events', payload: { type: 'click' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });
});
