import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import type { EventRow, TimeRange, Warehouse } from '../../src/ports/warehouse.ts';

/**
 * The analytics questions every Warehouse adapter answers the same, with exact values on known
 * data: time series by hour and local day (DST days of 23 and 25 hours), active users, one film's
 * report with its retention curve, top clicked elements, and counts that add up across any split
 * of a range (rollup buckets inside, events at the edges). Same conventions as
 * `warehouse.contract.ts`.
 */
export function warehouseInsightsContract(
  name: string,
  makeWarehouse: (database: string) => Promise<{ warehouse: Warehouse; cleanup: () => Promise<void> }>,
  options: { propertyRuns?: number } = {},
): void {
  void describe(`Warehouse insights contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function fresh(): Promise<Warehouse> {
      const { warehouse, cleanup } = await makeWarehouse(`t_${randomBytes(6).toString('hex')}`);
      cleanups.push(async () => {
        await warehouse.close();
        await cleanup();
      });
      await warehouse.start();
      await warehouse.migrate();
      return warehouse;
    }

    const iso = (ms: number): string => new Date(ms).toISOString();
    const range = (from: string | number, to: string | number): TimeRange => ({ from: new Date(from), to: new Date(to) });

    function row(occurredMs: number, overrides: Partial<EventRow> = {}): EventRow {
      return {
        event_id: randomUUID(), user_id: 'u', type: 'click', element_kind: '', element_id: '', film_id: null, description: '',
        occurred_at: iso(occurredMs), received_at: iso(occurredMs), started_at: null, ended_at: null, duration_ms: 0, properties: {},
        ...overrides,
      };
    }

    /** One event at hh:40 of every UTC hour in [from, to). */
    const hourly = (from: string, to: string, overrides: Partial<EventRow> = {}): EventRow[] => {
      const rows: EventRow[] = [];
      for (let t = Date.parse(from) + 40 * 60_000; t < Date.parse(to); t += 3_600_000) rows.push(row(t, overrides));
      return rows;
    };

    void it('counts events per local day of a time zone: the spring DST day has 23 hours, the autumn one 25', async () => {
      const w = await fresh();
      await w.insertEvents([...hourly('2026-03-28T00:00Z', '2026-03-31T00:00Z'), ...hourly('2026-10-24T00:00Z', '2026-10-27T00:00Z')]);
      const berlin = await w.eventSeries(range('2026-03-28T23:00Z', '2026-03-30T22:00Z'), 'day', 'Europe/Berlin');
      assert.deepEqual(berlin, [
        { start: '2026-03-28T23:00:00.000Z', date: '2026-03-29', total: 23, by_type: { click: 23 } },
        { start: '2026-03-29T22:00:00.000Z', date: '2026-03-30', total: 24, by_type: { click: 24 } },
      ]);
      const autumn = await w.eventSeries(range('2026-10-24T22:00Z', '2026-10-25T23:00Z'), 'day', 'Europe/Berlin');
      assert.deepEqual(autumn, [{ start: '2026-10-24T22:00:00.000Z', date: '2026-10-25', total: 25, by_type: { click: 25 } }]);
      const utc = await w.eventSeries(range('2026-03-29T00:00Z', '2026-03-30T00:00Z'), 'day', 'UTC');
      assert.deepEqual(utc, [{ start: '2026-03-29T00:00:00.000Z', date: '2026-03-29', total: 24, by_type: { click: 24 } }]);
    });

    void it('counts events per hour, by type, with hours of a half-hour zone starting at :30 UTC', async () => {
      const w = await fresh();
      await w.insertEvents([
        ...hourly('2026-03-10T00:00Z', '2026-03-10T03:00Z'),
        row(Date.parse('2026-03-10T01:10Z'), { type: 'view' }),
        row(Date.parse('2026-03-10T01:50Z'), { type: 'view' }),
      ]);
      const r = range('2026-03-10T00:00Z', '2026-03-10T03:00Z');
      assert.deepEqual(await w.eventSeries(r, 'hour', 'UTC'), [
        { start: '2026-03-10T00:00:00.000Z', date: '2026-03-10', total: 1, by_type: { click: 1 } },
        { start: '2026-03-10T01:00:00.000Z', date: '2026-03-10', total: 3, by_type: { click: 1, view: 2 } },
        { start: '2026-03-10T02:00:00.000Z', date: '2026-03-10', total: 1, by_type: { click: 1 } },
      ]);
      assert.deepEqual(await w.eventSeries(r, 'hour', 'Asia/Kolkata'), [
        { start: '2026-03-10T00:30:00.000Z', date: '2026-03-10', total: 2, by_type: { click: 1, view: 1 } }, // 00:40, 01:10
        { start: '2026-03-10T01:30:00.000Z', date: '2026-03-10', total: 2, by_type: { click: 1, view: 1 } }, // 01:40, 01:50
        { start: '2026-03-10T02:30:00.000Z', date: '2026-03-10', total: 1, by_type: { click: 1 } }, // 02:40
      ]);
      // A millisecond range reads the one event in it.
      const one = Date.parse('2026-03-10T01:40Z');
      assert.deepEqual(await w.eventSeries(range(one, one + 1), 'hour', 'UTC'), [
        { start: '2026-03-10T01:00:00.000Z', date: '2026-03-10', total: 1, by_type: { click: 1 } },
      ]);
    });

    void it('counts distinct active users per local day, ISO week and month', async () => {
      const w = await fresh();
      const at = (t: string, user: string): EventRow => row(Date.parse(t), { user_id: user });
      await w.insertEvents([
        at('2026-03-02T10:00Z', 'a'), at('2026-03-02T11:00Z', 'a'), at('2026-03-02T12:00Z', 'b'), // Monday
        at('2026-03-03T10:00Z', 'a'), // Tuesday
        at('2026-03-08T23:30Z', 'c'), // Sunday in UTC, Monday 00:30 in Berlin
        at('2026-04-01T12:00Z', 'd'),
      ]);
      const r = range('2026-03-01T00:00Z', '2026-05-01T00:00Z');
      assert.deepEqual(await w.activeUsers(r, 'day', 'UTC'), [
        { start: '2026-03-02T00:00:00.000Z', date: '2026-03-02', users: 2 },
        { start: '2026-03-03T00:00:00.000Z', date: '2026-03-03', users: 1 },
        { start: '2026-03-08T00:00:00.000Z', date: '2026-03-08', users: 1 },
        { start: '2026-04-01T00:00:00.000Z', date: '2026-04-01', users: 1 },
      ]);
      assert.deepEqual(await w.activeUsers(r, 'week', 'Europe/Berlin'), [
        { start: '2026-03-01T23:00:00.000Z', date: '2026-03-02', users: 2 },
        { start: '2026-03-08T23:00:00.000Z', date: '2026-03-09', users: 1 },
        { start: '2026-03-29T22:00:00.000Z', date: '2026-03-30', users: 1 },
      ]);
      assert.deepEqual(await w.activeUsers(r, 'month', 'UTC'), [
        { start: '2026-03-01T00:00:00.000Z', date: '2026-03-01', users: 3 },
        { start: '2026-04-01T00:00:00.000Z', date: '2026-04-01', users: 1 },
      ]);
    });

    void it("reports a film's views, viewers, watch time, completion and retention curve from playback positions", async () => {
      const w = await fresh();
      const [film, other] = [randomUUID(), randomUUID()];
      const t0 = Date.parse('2026-03-10T12:00Z');
      const play = (user: string, type: string, position: number, extra: Partial<EventRow> = {}): EventRow =>
        row(t0 + position * 1000, { user_id: user, type, film_id: film, properties: { position_s: position, duration_s: 100 }, ...extra });
      const watched = (user: string, ms: number): Partial<EventRow> => ({ started_at: iso(t0), ended_at: iso(t0 + ms), duration_ms: ms, user_id: user });
      await w.insertEvents([
        play('u1', 'playback_start', 0), play('u1', 'playback_progress', 10), play('u1', 'playback_progress', 50),
        play('u1', 'playback_stop', 100, watched('u1', 100_000)),
        play('u2', 'playback_start', 0), play('u2', 'playback_stop', 20, watched('u2', 20_000)),
        play('u3', 'playback_start', 0),
        play('u4', 'playback_start', 0), play('u4', 'playback_progress', 55, { ...watched('u4', 5_500), properties: { position_s: 55 } }),
        row(t0, { user_id: 'u5', type: 'view', film_id: film, ...watched('u5', 1_000) }),
        row(t0, { user_id: 'u5', type: 'click', film_id: film }),
        play('u6', 'playback_progress', 99, { film_id: other }),
        play('u7', 'playback_progress', 99, { occurred_at: iso(t0 - 86_400_000) }), // outside the range
      ]);
      const report = await w.filmReport(film, range(t0 - 3_600_000, t0 + 3_600_000));
      const shares = [1, ...Array<number>(4).fill(0.75), ...Array<number>(7).fill(0.5), ...Array<number>(9).fill(0.25)];
      assert.deepEqual(report, {
        film_id: film,
        views: 5, // four playback_start and one view
        viewers: 5,
        watch_seconds: 126.5,
        avg_watch_seconds: 126.5 / 5,
        duration_seconds: 100,
        avg_completion: (1 + 0.2 + 0 + 0.55) / 4,
        retention: shares.map((share, k) => ({ at: k / 20, share })),
      });
      const unknown = randomUUID();
      assert.deepEqual(await w.filmReport(unknown, range(t0 - 3_600_000, t0 + 3_600_000)), {
        film_id: unknown, views: 0, viewers: 0, watch_seconds: 0, avg_watch_seconds: 0, duration_seconds: null, avg_completion: null, retention: [],
      });
    });

    void it('ranks clicked elements, of one kind or all, with distinct users', async () => {
      const w = await fresh();
      const t0 = Date.parse('2026-03-10T12:00Z');
      const click = (kind: string, id: string, user: string, type = 'click'): EventRow => row(t0, { element_kind: kind, element_id: id, user_id: user, type });
      await w.insertEvents([
        click('trailer', 'tr1', 'a'), click('trailer', 'tr1', 'a'), click('trailer', 'tr1', 'b'), click('trailer', 'tr2', 'a'),
        click('category', 'c1', 'a'), click('category', 'c1', 'c'), click('trailer', 'tr2', 'z', 'view'), click('person', 'p1', 'a', 'hover'),
      ]);
      const r = range(t0 - 86_400_000 * 3, t0 + 86_400_000 * 3);
      const tr1 = { kind: 'trailer', id: 'tr1', events: 3, users: 2 };
      const tr2 = { kind: 'trailer', id: 'tr2', events: 1, users: 1 };
      const c1 = { kind: 'category', id: 'c1', events: 2, users: 2 };
      assert.deepEqual(await w.topElements(r, { type: 'click', kind: 'trailer', limit: 10 }), [tr1, tr2]);
      assert.deepEqual(await w.topElements(r, { type: 'click', kind: undefined, limit: 10 }), [tr1, c1, tr2]);
      assert.deepEqual(await w.topElements(r, { type: 'click', kind: undefined, limit: 1 }), [tr1]);
      assert.deepEqual(await w.topElements(r, { type: 'hover', kind: undefined, limit: 10 }), [{ kind: 'person', id: 'p1', events: 1, users: 1 }]);
      assert.deepEqual(await w.topElements(range(t0 + 1, t0 + 2), { type: 'click', kind: undefined, limit: 10 }), []);
    });

    void it('adds up: the counts of [a, b) and [b, c) are those of [a, c), and each equals the events in it', async () => {
      const w = await fresh();
      const start = Date.parse('2026-03-09T00:00Z');
      const span = 3 * 86_400_000;
      const films = [randomUUID(), randomUUID()];
      // Reproducible times from a fixed stride; users and films cycle.
      const rows = Array.from({ length: 300 }, (_, i) =>
        row(start + ((i * 7_919_993) % span), {
          user_id: `u${i % 17}`, type: i % 3 === 0 ? 'view' : 'click', film_id: films[i % 2] ?? null,
          element_kind: 'trailer', element_id: `t${i % 4}`,
        }),
      );
      await w.insertEvents(rows);
      const inRange = (a: number, b: number) => rows.filter((r) => Date.parse(r.occurred_at) >= a && Date.parse(r.occurred_at) < b);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: span }), fc.integer({ min: 0, max: span }), fc.integer({ min: 0, max: span }), async (...p) => {
          const [a, b, c] = p.sort((x, y) => x - y).map((x) => start + x) as [number, number, number];
          const [left, right, whole] = await Promise.all([w.summary(range(a, b)), w.summary(range(b, c)), w.summary(range(a, c))]);
          assert.equal(left.events + right.events, whole.events);
          assert.equal(whole.events, inRange(a, c).length);
          assert.equal(whole.users, new Set(inRange(a, c).map((r) => r.user_id)).size);
          const views = (await w.topFilms(range(a, c), 'views', 10)).reduce((n, f) => n + f.views, 0);
          assert.equal(views, inRange(a, c).filter((r) => r.type === 'view').length);
          const clicks = (await w.topElements(range(a, c), { type: 'click', kind: 'trailer', limit: 10 })).reduce((n, e) => n + e.events, 0);
          assert.equal(clicks, inRange(a, c).filter((r) => r.type === 'click').length);
        }),
        { numRuns: options.propertyRuns ?? 25 },
      );
    });
  });
}
