import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type TestApp, buildTestApp } from '../helpers/app.ts';

describe('topics (admin)', () => {
  let t: TestApp;
  let admin: { authorization: string };
  before(async () => {
    t = await buildTestApp();
    admin = await t.auth('ops', { admin: true });
  });
  after(() => t.close());

  const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, headers = admin) =>
    t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });

  it('lists the service’s own streams', async () => {
    const { items } = (await inject('GET', '/topics')).json<{ items: { name: string; partitions: number; replication_factor: number }[] }>();
    assert.deepEqual(
      items.find((s) => s.name === 'ugc.events'),
      { name: 'ugc.events', partitions: 4, replication_factor: 1 },
    );
    assert.ok(items.some((s) => s.name === 'ugc.events.dlq'));
  });

  it('creates (201), refuses a duplicate (409), deletes (204) and 404s an unknown topic', async () => {
    const name = `t.${randomUUID()}`;
    const created = await inject('POST', '/topics', { name, partitions: 3, config: { 'retention.ms': '60000' } });
    assert.equal(created.statusCode, 201);
    assert.deepEqual(created.json(), { name, partitions: 3, replication_factor: 1 });
    assert.equal((await inject('POST', '/topics', { name })).statusCode, 409);
    assert.ok((await inject('GET', '/topics')).json<{ items: { name: string }[] }>().items.some((s) => s.name === name));
    assert.equal((await inject('DELETE', `/topics/${name}`)).statusCode, 204);
    assert.equal((await inject('DELETE', `/topics/${name}`)).statusCode, 404);
  });

  it('rejects bad names and options with 400', async () => {
    for (const body of [{ name: 'bad name' }, { name: '' }, { name: 'x'.repeat(250) }, { name: 'ok', partitions: 0 }, { name: 'ok', extra: 1 }, { name: 'ok', replication_factor: 3 }]) {
      assert.equal((await inject('POST', '/topics', body)).statusCode, 400, JSON.stringify(body).slice(0, 60));
    }
    assert.equal((await inject('DELETE', '/topics/bad%20name')).statusCode, 400);
  });

  it('writes raw messages (202 after the ack) keyed by the caller by default; unknown topic is 404', async () => {
    const name = `m.${randomUUID()}`;
    await inject('POST', '/topics', { name, partitions: 1 });
    assert.deepEqual((await inject('POST', `/topics/${name}/messages`, { value: 'hello' })).json(), { accepted: 1 });
    assert.equal((await inject('POST', `/topics/${name}/messages`, { value: { a: 1 }, key: 'k1' })).statusCode, 202);
    const consumer = t.log.consumer({ group: `g-${randomUUID()}`, stream: name });
    const records = await consumer.poll({ maxRecords: 10, maxWaitMs: 1000 });
    await consumer.close();
    assert.deepEqual(
      records.map((r) => [r.key, r.value.toString()]),
      [
        ['ops', 'hello'],
        ['k1', '{"a":1}'],
      ],
    );
    assert.equal((await inject('POST', `/topics/nope-${randomUUID()}/messages`, { value: 'x' })).statusCode, 404);
    assert.equal((await inject('POST', `/topics/${name}/messages`, { value: 5 })).statusCode, 400);
  });

  it('is for admins only', async () => {
    const user = await t.auth('someone');
    assert.equal((await inject('GET', '/topics', undefined, user)).statusCode, 403);
    assert.equal((await inject('POST', '/topics', { name: 'x' }, user)).statusCode, 403);
    assert.equal((await inject('DELETE', '/topics/ugc.events', undefined, user)).statusCode, 403);
    assert.equal((await inject('POST', '/topics/ugc.events/messages', { value: 'x' }, user)).statusCode, 403);
  });
});

describe('analytics (admin) reads the warehouse', () => {
  let t: TestApp;
  let admin: { authorization: string };
  const film = randomUUID();
  const user = `viewer-${randomUUID().slice(0, 8)}`;
  const from = '2026-03-01T00:00:00.000Z';
  const to = '2026-03-02T00:00:00.000Z';
  before(async () => {
    t = await buildTestApp();
    admin = await t.auth('analyst', { admin: true });
    // Rows as the ETL writes them; the ETL itself is tested end to end elsewhere.
    const base = { element_kind: '', element_id: '', description: '', received_at: '2026-03-01T12:00:00.000Z', properties: {} };
    await t.warehouse.insertEvents([
      { ...base, event_id: randomUUID(), user_id: user, type: 'view', film_id: film, occurred_at: '2026-03-01T10:00:00.000Z', started_at: '2026-03-01T10:00:00.000Z', ended_at: '2026-03-01T10:10:00.000Z', duration_ms: 600_000 },
      { ...base, event_id: randomUUID(), user_id: user, type: 'click', film_id: null, occurred_at: '2026-03-01T11:00:00.000Z', started_at: null, ended_at: null, duration_ms: 0 },
      { ...base, event_id: randomUUID(), user_id: 'other', type: 'playback_start', film_id: film, occurred_at: '2026-03-01T12:00:00.000Z', started_at: null, ended_at: null, duration_ms: 0 },
      { ...base, event_id: randomUUID(), user_id: user, type: 'click', film_id: null, occurred_at: '2026-03-05T00:00:00.000Z', started_at: null, ended_at: null, duration_ms: 0 },
    ]);
  });
  after(() => t.close());

  const get = (url: string, headers = admin) => t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers });

  it('summarises a time range', async () => {
    const res = await get(`/analytics/summary?from=${from}&to=${to}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { from, to, events: 3, users: 2, by_type: { click: 1, playback_start: 1, view: 1 } });
  });

  it('ranks films by views and watch time', async () => {
    const res = await get(`/analytics/films/top?metric=watch_seconds&from=${from}&to=${to}&limit=5`);
    assert.deepEqual(res.json(), { items: [{ film_id: film, views: 2, watch_seconds: 600 }] });
    assert.equal((await get('/analytics/films/top?metric=likes')).statusCode, 400);
  });

  it("lists a user's events newest first", async () => {
    const res = await get(`/analytics/users/${user}/events?from=${from}&to=2026-04-01T00:00:00Z&limit=2`);
    const { items } = res.json<{ items: { type: string; occurred_at: string; film_id: string | null; started_at: string | null }[] }>();
    assert.deepEqual(items.map((e) => [e.type, e.occurred_at]), [
      ['click', '2026-03-05T00:00:00.000Z'],
      ['click', '2026-03-01T11:00:00.000Z'],
    ]);
  });

  it('rejects bad ranges and is for admins only', async () => {
    assert.equal((await get('/analytics/summary?from=yesterday')).statusCode, 400);
    assert.equal((await get(`/analytics/summary?from=${to}&to=${from}`)).statusCode, 400);
    assert.equal((await get('/analytics/summary', await t.auth('nosy'))).statusCode, 403);
    assert.equal((await get(`/analytics/users/${user}/events`, await t.auth(user))).statusCode, 403);
  });
});
