import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { EventRow } from '../../src/ports/warehouse.ts';
import { type TestApp, buildTestApp } from '../helpers/app.ts';

/** The insight routes over HTTP: exact answers on known rows, their OpenAPI entries, and the 4xx of bad queries. */
describe('analytics insights (admin)', () => {
  let t: TestApp;
  let admin: { authorization: string };
  const film = randomUUID();
  const from = '2026-03-28T00:00:00.000Z';
  const to = '2026-03-31T00:00:00.000Z';

  const row = (occurred: string, overrides: Partial<EventRow> = {}): EventRow => ({
    event_id: randomUUID(), user_id: 'u1', type: 'click', element_kind: '', element_id: '', film_id: null, description: '',
    occurred_at: occurred, received_at: occurred, started_at: null, ended_at: null, duration_ms: 0, properties: {}, ...overrides,
  });

  before(async () => {
    t = await buildTestApp();
    admin = await t.auth('analyst', { admin: true });
    await t.warehouse.insertEvents([
      // 2026-03-29 is Berlin's spring DST day: 23:00 UTC on the 28th is already the 29th there.
      row('2026-03-28T23:30:00.000Z', { element_kind: 'trailer', element_id: 'tr1' }),
      row('2026-03-29T12:00:00.000Z', { user_id: 'u2', element_kind: 'trailer', element_id: 'tr1' }),
      row('2026-03-29T12:00:00.000Z', { user_id: 'u2', element_kind: 'person', element_id: 'p1' }),
      row('2026-03-29T13:00:00.000Z', { user_id: 'u2', type: 'playback_start', film_id: film, properties: { position_s: 0, duration_s: 200 } }),
      row('2026-03-29T13:10:00.000Z', {
        user_id: 'u2', type: 'playback_stop', film_id: film, properties: { position_s: 100, duration_s: 200 },
        started_at: '2026-03-29T13:00:00.000Z', ended_at: '2026-03-29T13:10:00.000Z', duration_ms: 600_000,
      }),
      row('2026-03-30T08:00:00.000Z', { user_id: 'u3', type: 'playback_start', film_id: film, properties: { position_s: 0, duration_s: 200 } }),
    ]);
  });
  after(() => t.close());

  const get = (url: string, headers = admin) => t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers });

  it('series: events per local day in a time zone, and per hour', async () => {
    const res = await get(`/analytics/events/series?interval=day&tz=Europe/Berlin&from=${from}&to=${to}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      from, to, interval: 'day', tz: 'Europe/Berlin',
      items: [
        { start: '2026-03-28T23:00:00.000Z', date: '2026-03-29', total: 5, by_type: { click: 3, playback_start: 1, playback_stop: 1 } },
        { start: '2026-03-29T22:00:00.000Z', date: '2026-03-30', total: 1, by_type: { playback_start: 1 } },
      ],
    });
    const utc = (await get(`/analytics/events/series?from=${from}&to=${to}`)).json<{ items: { date: string; total: number }[] }>();
    assert.deepEqual(utc.items.map((b) => [b.date, b.total]), [['2026-03-28', 1], ['2026-03-29', 4], ['2026-03-30', 1]]);
    const hourly = (await get(`/analytics/events/series?interval=hour&from=2026-03-29T12:00:00Z&to=2026-03-29T14:00:00Z`)).json<{ items: { start: string; total: number }[] }>();
    assert.deepEqual(hourly.items.map((b) => [b.start, b.total]), [['2026-03-29T12:00:00.000Z', 2], ['2026-03-29T13:00:00.000Z', 2]]);
  });

  it('active users per day, week and month', async () => {
    const days = (await get(`/analytics/users/active?interval=day&from=${from}&to=${to}`)).json<{ items: { date: string; users: number }[] }>();
    assert.deepEqual(days.items.map((d) => [d.date, d.users]), [['2026-03-28', 1], ['2026-03-29', 1], ['2026-03-30', 1]]);
    const week = (await get(`/analytics/users/active?interval=week&tz=Europe/Berlin&from=${from}&to=${to}`)).json<{ items: unknown[] }>();
    assert.deepEqual(week.items, [
      { start: '2026-03-22T23:00:00.000Z', date: '2026-03-23', users: 2 }, // u1 and u2, both on Sunday the 29th in Berlin
      { start: '2026-03-29T22:00:00.000Z', date: '2026-03-30', users: 1 },
    ]);
    const month = (await get(`/analytics/users/active?interval=month&from=${from}&to=${to}`)).json<{ items: unknown[] }>();
    assert.deepEqual(month.items, [{ start: '2026-03-01T00:00:00.000Z', date: '2026-03-01', users: 3 }]);
  });

  it("film report: views, viewers, watch time, completion and retention", async () => {
    const res = await get(`/analytics/films/${film.toUpperCase()}/report?from=${from}&to=${to}`);
    assert.equal(res.statusCode, 200);
    const body = res.json<Record<string, unknown>>();
    assert.deepEqual(body, {
      from, to, film_id: film, views: 2, viewers: 2, watch_seconds: 600, avg_watch_seconds: 300, duration_seconds: 200,
      avg_completion: 0.25,
      retention: Array.from({ length: 21 }, (_, k) => ({ at: k / 20, share: k === 0 ? 1 : k <= 10 ? 0.5 : 0 })),
    });
  });

  it('top clicked elements, by kind', async () => {
    const all = await get(`/analytics/elements/top?from=${from}&to=${to}`);
    assert.deepEqual(all.json(), {
      from, to,
      items: [{ kind: 'trailer', id: 'tr1', events: 2, users: 2 }, { kind: 'person', id: 'p1', events: 1, users: 1 }],
    });
    const persons = (await get(`/analytics/elements/top?kind=person&from=${from}&to=${to}`)).json<{ items: unknown[] }>();
    assert.deepEqual(persons.items, [{ kind: 'person', id: 'p1', events: 1, users: 1 }]);
  });

  it('takes a zone in any letter case or by a legacy alias, and answers in its canonical name', async () => {
    for (const [tz, canonical] of [['utc', 'UTC'], ['gmt', 'UTC'], ['europe/berlin', 'Europe/Berlin'], ['US/Pacific', 'America/Los_Angeles'], ['Canada/East-Saskatchewan', 'America/Regina'], ['Etc/GMT-14', 'Etc/GMT-14'], ['Etc/GMT+12', 'Etc/GMT+12']] as const) {
      for (const path of ['/analytics/events/series', '/analytics/users/active']) {
        const res = await get(`${path}?tz=${encodeURIComponent(tz)}&from=${from}&to=${to}`);
        assert.equal(res.statusCode, 200, `${path} ${tz}: ${res.body}`);
        assert.equal(res.json<{ tz: string }>().tz, canonical);
      }
    }
  });

  it('answers 400 to bad zones, intervals and ids, 403 to non-admins, and is in the OpenAPI', async () => {
    for (const url of [
      '/analytics/events/series?tz=Mars/Olympus', '/analytics/events/series?tz=../../etc', "/analytics/events/series?tz=x'y",
      '/analytics/events/series?tz=SystemV/AST4', '/analytics/users/active?tz=SystemV/AST4',
      '/analytics/events/series?interval=minute', `/analytics/events/series?interval=hour&from=2020-01-01T00:00:00Z&to=${to}`,
      '/analytics/users/active?interval=year', '/analytics/films/not-a-uuid/report', '/analytics/elements/top?kind=Bad!',
      '/analytics/elements/top?limit=0',
    ]) {
      assert.equal((await get(url)).statusCode, 400, url);
    }
    assert.equal((await get('/analytics/events/series', await t.auth('nosy'))).statusCode, 403);
    const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    for (const path of ['/api/v1/analytics/events/series', '/api/v1/analytics/users/active', '/api/v1/analytics/films/{film_id}/report', '/api/v1/analytics/elements/top']) {
      assert.ok(spec.paths[path], path);
    }
  });
});
