import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { EventMessage } from '../../src/domain/events.ts';
import { type TestApp, buildTestApp, readEvents } from '../helpers/app.ts';

/**
 * Issue #7: the inputs that were accepted and then dropped, stalled the pipeline or gave a
 * 5xx, each with its right answer: stored as sent, or a 400 naming the field.
 */
const FILM = '6f1f4a4e-5f5e-4a0e-9b7b-0a1b2c3d4e5f';
const HOUR = 3_600_000;

interface Problem {
  status: number;
  errors?: { path: string; message: string }[];
}

describe('hostile and odd-but-valid input (issue #7)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ EVENT_LOG_MAX_PENDING: '10000' });
  });
  after(() => t.close());

  const readLog = async (user: string): Promise<EventMessage[]> => (await readEvents(t.log, t.config.events.topic)).filter((m) => m.user_id === user);

  /** Posts raw JSON text (so escapes, 1e309 and invalid bytes reach the server as written). */
  async function post(raw: string | Buffer, user = `u-${randomUUID()}`, url = '/api/v1/events', contentType = 'application/json') {
    const res = await t.app.inject({ method: 'POST', url, headers: { 'content-type': contentType, ...(await t.auth(user)) }, payload: raw });
    return { res, user, problem: res.statusCode >= 400 ? res.json<Problem>() : undefined };
  }

  it('names every property as sent after another client sent a key spelled "\\\\" (V8 JSON.parse bug, nodejs/node#63785)', async () => {
    // Valid input that poisons V8's key cache for objects starting with "" and with nothing.
    for (const props of ['{"\\\\":1}', '{"":"","\\\\":1}']) {
      const { res } = await post(`{"events":[{"type":"poison","properties":${props}}]}`);
      assert.equal(res.statusCode, 202, res.body);
    }
    // Python's json.dumps escapes every non-ASCII character; JSON.stringify escapes control characters.
    const { res, user } = await post('{"events":[{"type":"a","properties":{"\\u00e9t\\u00e9":1}},{"type":"b","properties":{"":"","\\n":2}}]}');
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual((await readLog(user)).map((m) => m.properties), [{ été: 1 }, { '': '', '\n': 2 }]);
    // The flake that found it: a lone surrogate key read as "\\" was accepted instead of refused.
    await assertRefused('{"events":[{"type":"a","properties":{"":"","\\ud800":0}}]}', ['/events/0/properties/\ud800']);
  });

  it('refuses a "__proto__" or constructor.prototype key saying so, not "Body is not valid JSON"; broken JSON still is that', async () => {
    for (const props of ['{"__proto__":{"x":1}}', '{"\\u005f_proto__":{"x":1}}', '{"constructor":{"prototype":1}}']) {
      const { res, user } = await post(`{"events":[{"type":"a","properties":${props}}]}`);
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json<{ detail: string }>().detail, /__proto__.*prototype poisoning/, props);
      assert.deepEqual(await readLog(user), []);
    }
    const { res } = await post('{"events":[{"type":"a"}');
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ detail: string }>().detail, /not valid JSON/);
  });

  /** Asserts a 400 whose errors name exactly `paths`, and that nothing of the user reached the log. */
  async function assertRefused(raw: string | Buffer, paths: string[]) {
    const { res, user, problem } = await post(raw);
    assert.equal(res.statusCode, 400, `${res.statusCode} ${res.body}`);
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.deepEqual([...new Set(problem?.errors?.map((e) => e.path))].sort(), [...paths].sort(), res.body);
    assert.deepEqual(await readLog(user), []);
  }

  it('refuses a lone surrogate in any event string or property key, naming the field', async () => {
    await assertRefused('{"type":"search","description":"abc \\ud83d"}', ['/description']);
    await assertRefused('{"type":"click","element":{"kind":"film","id":"\\udc00x"}}', ['/element/id']);
    await assertRefused('{"type":"click","properties":{"q":"\\ud83d","ok":"y"}}', ['/properties/q']);
    await assertRefused('{"type":"click","properties":{"k\\ud83d":"v"}}', ['/properties/k\ud83d']);
    await assertRefused('{"events":[{"type":"click"},{"type":"search","description":"\\ude00"}]}', ['/events/1/description']);
    // A whole emoji (a surrogate pair) is fine.
    const { res, user } = await post('{"type":"search","description":"abc \\ud83d\\ude00"}');
    assert.equal(res.statusCode, 202);
    assert.equal((await readLog(user))[0]?.description, 'abc 😀');
  });

  it('refuses invalid UTF-8 bytes instead of replacing them with U+FFFD, naming the field', async () => {
    const bytes = (before: string, bad: number[], after: string) => Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]);
    await assertRefused(bytes('{"type":"search","description":"abc ', [0xff], '"}'), ['/description']);
    await assertRefused(bytes('{"type":"search","description":"', [0xed, 0xa0, 0x80], '"}'), ['/description']); // an encoded surrogate
    await assertRefused(bytes('{"type":"search","description":"', [0xc0, 0xaf], '"}'), ['/description']); // overlong
    await assertRefused(bytes('{"type":"search","properties":{"', [0xf0, 0x9f], '":"v"}}'), ['/properties/\udfff\udfff']); // a truncated emoji in a key: one mark per invalid byte
    // A real U+FFFD, sent as valid UTF-8, is text like any other.
    const { res, user } = await post(Buffer.from('{"type":"search","description":"\uFFFD"}'));
    assert.equal(res.statusCode, 202);
    assert.equal((await readLog(user))[0]?.description, '\uFFFD');
  });

  it('refuses times the warehouse cannot store (before 1970, after 2299), naming the field', async () => {
    await assertRefused('{"type":"click","occurred_at":"1969-12-31T23:59:59.000Z"}', ['/occurred_at']);
    await assertRefused('{"type":"click","occurred_at":"0000-01-01T00:00:00Z"}', ['/occurred_at']);
    await assertRefused('{"type":"click","occurred_at":"9999-12-31T23:59:59.999Z"}', ['/occurred_at']);
    await assertRefused('{"type":"view","started_at":"2300-01-01T00:00:00Z","ended_at":"2300-01-01T01:00:00Z"}', ['/started_at', '/ended_at']);
    await assertRefused('{"type":"click","occurred_at":"1970-01-01T00:30:00+01:00"}', ['/occurred_at']); // 1969 in UTC
    // A sent_at far ahead moves a client time from 1970 to before it.
    await assertRefused('{"sent_at":"2200-01-01T00:00:00Z","events":[{"type":"click","occurred_at":"1971-01-01T00:00:00Z"}]}', ['/events/0/occurred_at']);
    // The edges themselves are storable: 1970 as is, 2299 clamped to received_at like any far-future time.
    const { res, user } = await post('{"events":[{"type":"click","occurred_at":"1970-01-01T00:00:00Z"},{"type":"click","occurred_at":"2299-12-31T23:59:59.999Z"}]}');
    assert.equal(res.statusCode, 202);
    const [first, second] = await readLog(user);
    assert.equal(first?.occurred_at, '1970-01-01T00:00:00.000Z');
    assert.equal(second?.occurred_at, second?.received_at);
  });

  it('refuses numbers JSON cannot hold (1e309), naming the property', async () => {
    await assertRefused('{"type":"click","properties":{"n":1e309}}', ['/properties/n']);
    await assertRefused('{"type":"click","properties":{"n":-1e400,"m":1}}', ['/properties/n']);
    const { res, user } = await post('{"type":"click","properties":{"n":1.7976931348623157e308,"z":-0,"t":5e-324}}');
    assert.equal(res.statusCode, 202);
    assert.deepEqual((await readLog(user))[0]?.properties, { n: 1.7976931348623157e308, z: 0, t: 5e-324 });
  });

  it('accepts a leap second on every event time and on sent_at, as 23:59:59.999 of that day', async () => {
    const { res, user } = await post(
      JSON.stringify({
        sent_at: new Date().toISOString().slice(0, 10) + 'T23:59:60Z',
        events: [{ type: 'click', occurred_at: '2016-12-31T23:59:60Z' }],
      }),
    );
    assert.equal(res.statusCode, 202, res.body);
    const single = await post('{"type":"view","occurred_at":"2016-12-31T23:59:60Z","started_at":"2016-12-31T23:59:60.5Z","ended_at":"2016-12-31T18:59:60-05:00"}');
    assert.equal(single.res.statusCode, 202, single.res.body);
    const [m] = await readLog(single.user);
    assert.deepEqual([m?.occurred_at, m?.started_at, m?.ended_at], ['2016-12-31T23:59:59.999Z', '2016-12-31T23:59:59.999Z', '2016-12-31T23:59:59.999Z']);
    assert.equal((await readLog(user)).length, 1);
    // Not where no leap second can be: 60 s in any minute but 23:59 UTC.
    await assertRefused('{"type":"click","occurred_at":"2016-12-31T22:59:60Z"}', ['/occurred_at']);
  });

  it('stores a property key with a control character as sent, and validates the value under it', async () => {
    const { res, user } = await post('{"type":"custom","properties":{"a\\nb":"v","ok":"y","\\u0000":"nul"}}');
    assert.equal(res.statusCode, 202);
    assert.deepEqual((await readLog(user))[0]?.properties, { 'a\nb': 'v', ok: 'y', '\u0000': 'nul' });
    await assertRefused('{"type":"custom","properties":{"a\\nb":{"x":1}}}', ['/properties/a\nb']);
    // Keys of at most 128 characters: the record's key schema was never applied before.
    await assertRefused(`{"type":"custom","properties":{"${'k'.repeat(129)}":"v"}}`, ['/properties']);
    assert.equal((await post(`{"type":"custom","properties":{"${'😀'.repeat(128)}":"v"}}`)).res.statusCode, 202);
    const deep = `{"type":"custom","properties":{"a\\nb":${'{"x":'.repeat(6000)}1${'}'.repeat(6000)}}}`;
    const refused = await post(deep);
    assert.equal(refused.res.statusCode, 400, refused.res.body);
    assert.deepEqual(await readLog(refused.user), []);
  });

  it('keeps an interval ahead of the clock in order: moved back whole, never ending before it starts', async () => {
    const now = Date.now();
    const { res, user } = await post(
      JSON.stringify({ type: 'view', started_at: new Date(now + 23 * HOUR).toISOString(), ended_at: new Date(now + 25 * HOUR).toISOString() }),
    );
    assert.equal(res.statusCode, 202);
    const [m] = await readLog(user);
    assert.ok(m?.started_at && m.ended_at);
    assert.equal(Date.parse(m.ended_at), Date.parse(m.received_at));
    assert.equal(Date.parse(m.ended_at) - Date.parse(m.started_at), 2 * HOUR);
  });

  it('lists schema errors and rule errors of every event in one 400', async () => {
    await assertRefused(
      JSON.stringify({
        events: [
          { type: 'Bad!' },
          { type: 'click', film_id: 'nope' },
          { type: 'view', started_at: '2026-01-01T10:00:00Z', ended_at: '2026-01-01T09:00:00Z' },
          { type: 'click', occurred_at: '1969-01-01T00:00:00Z' },
        ],
      }),
      ['/events/0/type', '/events/1/film_id', '/events/2/ended_at', '/events/3/occurred_at'],
    );
  });

  it('takes film ids in the canonical UUID form only, any case, stored in lower case', async () => {
    const urn = `urn:uuid:${FILM}`;
    await assertRefused(JSON.stringify({ type: 'view', film_id: urn }), ['/film_id']);
    await assertRefused(JSON.stringify({ type: 'view', event_id: `urn:uuid:${randomUUID()}` }), ['/event_id']);
    await assertRefused(JSON.stringify({ type: 'view', film_id: `{${FILM}}` }), ['/film_id']);
    const { res, user } = await post(JSON.stringify({ type: 'view', film_id: FILM.toUpperCase() }));
    assert.equal(res.statusCode, 202);
    assert.equal((await readLog(user))[0]?.film_id, FILM);
    const headers = await t.auth(`u-${randomUUID()}`);
    for (const [method, url, payload] of [
      ['PUT', `/api/v1/films/${urn}/like`, { score: 5 }],
      ['GET', `/api/v1/films/${urn}/likes/summary`, undefined],
      ['POST', `/api/v1/films/${urn}/reviews`, { text: 'x' }],
      ['GET', `/api/v1/films/${urn}/reviews`, undefined],
      ['POST', '/api/v1/bookmarks', { film_id: urn }],
    ] as const) {
      const r = await t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
      assert.equal(r.statusCode, 400, `${method} ${url}: ${r.body}`);
    }
    const upper = await t.app.inject({ method: 'PUT', url: `/api/v1/films/${FILM.toUpperCase()}/like`, headers, payload: { score: 5 } });
    assert.equal(upper.json<{ film_id: string }>().film_id, FILM);
  });

  it('refuses ill-formed text in reviews and bookmark titles, naming the field', async () => {
    const review = await post('{"text":"great \\ud83d"}', undefined, `/api/v1/films/${FILM}/reviews`);
    assert.equal(review.res.statusCode, 400);
    assert.deepEqual(review.problem?.errors?.map((e) => e.path), ['/text']);
    const title = await post(Buffer.concat([Buffer.from(`{"film_id":"${FILM}","title":"a`), Buffer.from([0xfe]), Buffer.from('"}')]), undefined, '/api/v1/bookmarks');
    assert.equal(title.res.statusCode, 400);
    assert.deepEqual(title.problem?.errors?.map((e) => e.path), ['/title']);
  });

  it('answers a body in another charset with 415, and takes UTF-8 however it is spelled', async () => {
    const latin1 = await post('{"type":"click"}', undefined, '/api/v1/events', 'application/json; charset=latin1');
    assert.equal(latin1.res.statusCode, 415);
    assert.equal((await post('{"type":"click"}', undefined, '/api/v1/events', 'application/json; charset=ISO-8859-1')).res.statusCode, 415);
    assert.equal((await post('{"type":"click"}', undefined, '/api/v1/events', 'application/json; charset="UTF-8"')).res.statusCode, 202);
    assert.equal((await post('{"type":"click"}', undefined, '/api/v1/events', 'application/json;charset=utf8')).res.statusCode, 202);
  });

  it('tightens lenient parsing: limit=0x10, a url of just http://', async () => {
    const headers = await t.auth(`u-${randomUUID()}`);
    for (const limit of ['0x10', '1e1', ' 5', '5.0', '+5', '']) {
      const r = await t.app.inject({ method: 'GET', url: `/api/v1/bookmarks?limit=${encodeURIComponent(limit)}`, headers });
      assert.equal(r.statusCode, 400, `limit=${limit}`);
    }
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/bookmarks?limit=16', headers })).statusCode, 200);
    for (const url of ['http://', 'https://', 'http:///path', 'http://:80/']) {
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/bookmarks', headers, payload: { url } });
      assert.equal(r.statusCode, 400, url);
    }
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/bookmarks', headers, payload: { url: 'http://a.example/' } })).statusCode, 201);
  });

  it('answers odd analytics bounds correctly: leap seconds, year 0000, 9999-12-31', async () => {
    const admin = await t.auth('admin', { admin: true });
    for (const query of [
      'to=9999-12-31T23:59:59.999Z',
      'from=0000-01-01T00:00:00Z',
      'from=0000-01-01T00:00:00Z&to=9999-12-31T23:00:00Z',
      'from=2016-12-31T23:59:60Z&to=2017-01-01T00:00:00Z',
      'to=2016-12-31T23:59:60.123Z',
    ]) {
      for (const path of ['/api/v1/analytics/summary', '/api/v1/analytics/films/top', '/api/v1/analytics/users/someone/events']) {
        const r = await t.app.inject({ method: 'GET', url: `${path}?${query}`, headers: admin });
        assert.equal(r.statusCode, 200, `${path}?${query}: ${r.body}`);
      }
    }
    // A correct answer, not just a 200: the clamped range finds an event from 1970 and one from now.
    const user = `range-${randomUUID()}`;
    const row = (occurred: string) => ({
      event_id: randomUUID(), user_id: user, type: 'click', element_kind: '', element_id: '', film_id: null, description: '',
      occurred_at: occurred, received_at: occurred, started_at: null, ended_at: null, duration_ms: 0, properties: {},
    });
    await t.warehouse.insertEvents([row('1970-01-01T00:00:00.000Z'), row(new Date().toISOString())]);
    const events = await t.app.inject({ method: 'GET', url: `/api/v1/analytics/users/${user}/events?from=0000-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z`, headers: admin });
    assert.equal(events.json<{ items: unknown[] }>().items.length, 2);
    const summary = await t.app.inject({ method: 'GET', url: '/api/v1/analytics/summary?from=0000-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z', headers: admin });
    assert.deepEqual([summary.json<{ from: string }>().from, summary.json<{ to: string }>().to], ['1970-01-01T00:00:00.000Z', '2300-01-01T00:00:00.000Z']);
    assert.ok(summary.json<{ events: number }>().events >= 2);
  });

  it("refuses to delete the service's own streams (409), and a 10,000-deep message value (400)", async () => {
    const admin = await t.auth('admin', { admin: true });
    for (const name of [t.config.events.topic, t.config.events.dlqTopic]) {
      const r = await t.app.inject({ method: 'DELETE', url: `/api/v1/topics/${name}`, headers: admin });
      assert.equal(r.statusCode, 409, r.body);
      assert.match(r.json<{ detail: string }>().detail, /own streams/);
    }
    const names = (await t.log.listStreams()).map((s) => s.name);
    assert.ok(names.includes(t.config.events.topic) && names.includes(t.config.events.dlqTopic));
    const deep = `{"value":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    const r = await t.app.inject({ method: 'POST', url: `/api/v1/topics/${t.config.events.dlqTopic}/messages`, headers: { ...admin, 'content-type': 'application/json' }, payload: deep });
    assert.equal(r.statusCode, 400, r.body);
  });

  it('refuses the topic names Kafka refuses ("." and ".."), on the embedded log too', async () => {
    const admin = await t.auth('admin', { admin: true });
    for (const name of ['.', '..']) {
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/topics', headers: admin, payload: { name } });
      assert.equal(r.statusCode, 400, name);
      assert.ok(r.json<Problem>().errors?.some((e) => e.path === '/name'), r.body);
    }
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/topics', headers: admin, payload: { name: `...t-${randomUUID()}` } });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  it('takes topic configs by their Kafka names with string values only', async () => {
    const admin = await t.auth('admin', { admin: true });
    const create = (config: unknown) =>
      t.app.inject({ method: 'POST', url: '/api/v1/topics', headers: admin, payload: { name: `t-${randomUUID()}`, config } });
    for (const config of [{ 'no such config': '1' }, { 'retention.ms': 86400000 }, { 'Retention.MS': '1' }, { 'retention.ms': { x: 1 } }, { 'made.up.name': 'x' }]) {
      const r = await create(config);
      assert.equal(r.statusCode, 400, JSON.stringify(config));
      assert.ok(r.json<Problem>().errors?.every((e) => e.path.startsWith('/config')), r.body);
    }
    assert.equal((await create({ 'retention.ms': '86400000', 'cleanup.policy': 'delete' })).statusCode, 201);
  });
});
