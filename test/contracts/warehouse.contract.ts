import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { BackendError } from '../../src/domain/errors.ts';
import type { EventRow, StoredEvent, TimeRange, Warehouse } from '../../src/ports/warehouse.ts';

/**
 * Behaviour every Warehouse adapter must share, written for the ClickHouse server too (18.16
 * and newer): each test gets a database of its own, times stay inside the range every
 * ClickHouse version can store, and nothing depends on background merges having happened.
 *
 * `makeWarehouse(database)` returns a warehouse that is not started yet; `cleanup` runs after the
 * test (after `close()`) and may drop the database. A test may make two warehouses of the same
 * database, closing the first before starting the second (an embedded engine allows one open
 * session per directory).
 */
export function warehouseContract(
  name: string,
  makeWarehouse: (database: string) => Promise<{ warehouse: Warehouse; cleanup: () => Promise<void> }>,
): void {
  void describe(`Warehouse contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    const newDatabase = (): string => `t_${randomBytes(6).toString('hex')}`;

    async function make(database: string): Promise<Warehouse> {
      const { warehouse, cleanup } = await makeWarehouse(database);
      cleanups.push(async () => {
        await warehouse.close();
        await cleanup();
      });
      return warehouse;
    }

    /** A started, migrated warehouse on a database of its own. */
    async function fresh(): Promise<Warehouse> {
      const warehouse = await make(newDatabase());
      await warehouse.start();
      await warehouse.migrate();
      return warehouse;
    }

    const T0 = Date.UTC(2026, 2, 10, 12, 0, 0, 0);
    const at = (ms: number): string => new Date(T0 + ms).toISOString();
    const range = (fromMs: number, toMs: number): TimeRange => ({ from: new Date(T0 + fromMs), to: new Date(T0 + toMs) });
    const ALL = range(-86_400_000, 86_400_000);
    const film = (): string => randomUUID();

    function row(overrides: Partial<EventRow> = {}): EventRow {
      return {
        event_id: randomUUID(),
        user_id: 'user-1',
        type: 'click',
        element_kind: '',
        element_id: '',
        film_id: null,
        description: '',
        occurred_at: at(0),
        received_at: at(0),
        started_at: null,
        ended_at: null,
        duration_ms: 0,
        properties: {},
        ...overrides,
      };
    }

    /** A row of `filmId` with a watched interval of `durationMs` starting at T0. */
    function watched(type: string, filmId: string, durationMs: number, overrides: Partial<EventRow> = {}): EventRow {
      return row({ type, film_id: filmId, started_at: at(0), ended_at: at(durationMs), duration_ms: durationMs, ...overrides });
    }

    /** What userEvents returns for a row. */
    function stored(r: EventRow): StoredEvent {
      return {
        event_id: r.event_id,
        user_id: r.user_id,
        type: r.type,
        element: r.element_kind === '' ? null : { kind: r.element_kind, id: r.element_id },
        film_id: r.film_id,
        description: r.description === '' ? null : r.description,
        occurred_at: r.occurred_at,
        received_at: r.received_at,
        started_at: r.started_at,
        ended_at: r.ended_at,
        properties: r.properties,
      };
    }

    async function snapshot(w: Warehouse, users: string[], films: boolean): Promise<unknown> {
      return {
        summary: await w.summary(ALL),
        views: films ? await w.topFilms(ALL, 'views', 100) : [],
        watch: films ? await w.topFilms(ALL, 'watch_seconds', 100) : [],
        users: await Promise.all(users.map((u) => w.userEvents(u, ALL, 1000))),
      };
    }

    void it('migrate applies the schema once; a second call applies nothing', async () => {
      const w = await make(newDatabase());
      await w.start();
      const applied = await w.migrate();
      assert.ok(applied.length > 0, 'a new database gets every migration');
      assert.deepEqual(applied, [...applied].sort((a, b) => a - b), 'in version order');
      assert.deepEqual(await w.migrate(), []);
      assert.deepEqual(await w.summary(ALL), { events: 0, users: 0, by_type: {} });
      assert.deepEqual(await w.topFilms(ALL, 'views', 10), []);
      assert.deepEqual(await w.userEvents('user-1', ALL, 10), []);
    });

    void it('keeps the data of an existing database across start() and migrate()', async () => {
      const database = newDatabase();
      const first = await make(database);
      await first.start();
      await first.migrate();
      const rows = [row({ type: 'view' }), row({ type: 'click', occurred_at: at(1) }), row({ user_id: 'user-2' })];
      await first.insertEvents(rows);
      await first.close();

      const second = await make(database);
      await second.start();
      assert.deepEqual(await second.migrate(), [], 'nothing left to apply');
      assert.deepEqual(await second.summary(ALL), { events: 3, users: 2, by_type: { view: 1, click: 2 } });
      assert.equal((await second.userEvents('user-1', ALL, 10)).length, 2);
    });

    void it('treats insertEvents([]) as a no-op', async () => {
      const w = await fresh();
      await w.insertEvents([]);
      assert.deepEqual(await w.summary(ALL), { events: 0, users: 0, by_type: {} });
    });

    void it('summarises exactly the events in [from, to)', async () => {
      const w = await fresh();
      const [from, to] = [0, 60_000];
      await w.insertEvents([
        row({ user_id: 'a', type: 'view', occurred_at: at(from) }), // the first instant is in
        row({ user_id: 'a', type: 'view', occurred_at: at(30_000) }),
        row({ user_id: 'b', type: 'click', occurred_at: at(to - 1) }), // the last millisecond is in
        row({ user_id: 'c', type: 'click', occurred_at: at(to) }), // `to` itself is out
        row({ user_id: 'd', type: 'search', occurred_at: at(from - 1) }),
        row({ user_id: 'd', type: 'search', occurred_at: at(to + 3_600_000) }),
      ]);
      assert.deepEqual(await w.summary(range(from, to)), { events: 3, users: 2, by_type: { view: 2, click: 1 } });
      assert.deepEqual(await w.summary(range(to, to + 1)), { events: 1, users: 1, by_type: { click: 1 } });
      assert.deepEqual(await w.summary(range(from - 1, from)), { events: 1, users: 1, by_type: { search: 1 } });
      assert.deepEqual(await w.summary(ALL), { events: 6, users: 4, by_type: { view: 2, click: 2, search: 2 } });
      assert.deepEqual(await w.summary(range(-10_000, -5_000)), { events: 0, users: 0, by_type: {} });
    });

    void it('changes no count when a batch is loaded twice', async () => {
      const w = await fresh();
      const [f1, f2] = [film(), film()];
      const batch = [
        watched('view', f1, 1_500, { user_id: 'a' }),
        watched('playback_start', f1, 0, { user_id: 'b' }),
        watched('playback_stop', f2, 2_250, { user_id: 'b', occurred_at: at(5) }),
        row({ user_id: 'a', type: 'click', occurred_at: at(7) }),
      ];
      await w.insertEvents(batch);
      const before = await snapshot(w, ['a', 'b'], true);
      await w.insertEvents(batch);
      await w.insertEvents(batch.slice(1, 3));
      assert.deepEqual(await snapshot(w, ['a', 'b'], true), before);
      assert.deepEqual((await w.summary(ALL)).events, 4);
    });

    void it('replays a large batch of the longest user ids without a statement growing past max_query_size', async () => {
      const w = await fresh();
      // 64-character ids full of characters SQL must escape: the longest lookups there can be.
      const batch = Array.from({ length: 6_000 }, (_, i) => row({ user_id: `${"'\\".repeat(29)}${String(i).padStart(6, '0')}`, occurred_at: at(i) }));
      await w.insertEvents(batch);
      await w.insertEvents(batch);
      assert.deepEqual(await w.summary(ALL), { events: 6_000, users: 6_000, by_type: { click: 6_000 } });
    });

    void it('keeps the first loaded copy of a re-sent event_id and never loads another', async () => {
      const w = await fresh();
      const f = film();
      const first = watched('view', f, 4_000, {
        user_id: 'a', occurred_at: at(10_000), received_at: at(11_000), description: 'first', properties: { copy: 1 },
      });
      // The client re-sent it later with a corrected clock: other times, other content.
      const resend: EventRow = {
        ...first, type: 'click', occurred_at: at(9_000), received_at: at(20_000), started_at: at(100), ended_at: at(9_100),
        duration_ms: 9_000, description: 'resent', properties: { copy: 2 },
      };
      await w.insertEvents([first]);
      await w.insertEvents([resend]);
      await w.insertEvents([resend, first]);
      assert.deepEqual(await w.summary(ALL), { events: 1, users: 1, by_type: { view: 1 } });
      assert.deepEqual(await w.topFilms(ALL, 'views', 10), [{ film_id: f, views: 1, watch_seconds: 4 }]);
      assert.deepEqual(await w.userEvents('a', ALL, 10), [stored(first)]);
    });

    void it('keeps the first received copy of an event_id sent twice in one batch', async () => {
      const w = await fresh();
      const first = row({ user_id: 'a', type: 'view', occurred_at: at(10_000), received_at: at(11_000) });
      const resend: EventRow = { ...first, type: 'click', occurred_at: at(12_000), received_at: at(13_000) };
      await w.insertEvents([resend, first]);
      assert.deepEqual(await w.userEvents('a', ALL, 10), [stored(first)]);
      assert.deepEqual(await w.summary(ALL), { events: 1, users: 1, by_type: { view: 1 } });
    });

    void it('counts a re-sent event whose copies straddle a range boundary in one range only, so counts add up', async () => {
      const w = await fresh();
      const f = film();
      // A client re-sent the same body 3 h later: clock-skew correction moved the copy's time
      // by 3 h, across the boundary at T0 and beyond any read-time window.
      const first = watched('view', f, 2_000, { user_id: 'a', occurred_at: at(-30_000), received_at: at(-29_000) });
      const resend: EventRow = { ...first, occurred_at: at(3 * 3_600_000), received_at: at(3 * 3_600_000 + 1_000) };
      await w.insertEvents([first]);
      await w.insertEvents([resend]);
      const before = range(-3_600_000, 0);
      const after = range(0, 6 * 3_600_000);
      assert.deepEqual(await w.summary(before), { events: 1, users: 1, by_type: { view: 1 } });
      assert.deepEqual(await w.summary(after), { events: 0, users: 0, by_type: {} });
      assert.deepEqual(await w.summary(range(-3_600_000, 6 * 3_600_000)), { events: 1, users: 1, by_type: { view: 1 } });
      assert.deepEqual(await w.topFilms(before, 'views', 10), [{ film_id: f, views: 1, watch_seconds: 2 }]);
      assert.deepEqual(await w.topFilms(after, 'views', 10), []);
      assert.deepEqual(await w.userEvents('a', before, 10), [stored(first)]);
      assert.deepEqual(await w.userEvents('a', after, 10), []);
    });

    void it("keeps two users' events with one event_id apart: neither suppresses nor merges the other", async () => {
      const w = await fresh();
      const [f1, f2] = [film(), film()];
      const id = randomUUID();
      const a = watched('view', f1, 1_000, { event_id: id, user_id: 'a', occurred_at: at(1_000) });
      const b = watched('playback_start', f2, 0, { event_id: id, user_id: 'b', occurred_at: at(2_000) });
      await w.insertEvents([a]);
      await w.insertEvents([b, a]);
      assert.deepEqual(await w.summary(ALL), { events: 2, users: 2, by_type: { playback_start: 1, view: 1 } });
      assert.deepEqual(await w.topFilms(ALL, 'views', 10), [{ film_id: f1, views: 1, watch_seconds: 1 }, { film_id: f2, views: 1, watch_seconds: 0 }]);
      assert.deepEqual(await w.userEvents('a', ALL, 10), [stored(a)]);
      assert.deepEqual(await w.userEvents('b', ALL, 10), [stored(b)]);
    });

    void it('loads the events of keys whose events never arrived (a crash between the two inserts)', async () => {
      const w = await fresh();
      const lost = row({ user_id: 'a', type: 'view' });
      // A failed insert (the bad row) leaves the keys of its whole batch behind.
      await assert.rejects(w.insertEvents([lost, { ...row(), event_id: 'not-a-uuid' }]));
      // The next copy to come is a re-send with another time: it is loaded, once.
      const resend: EventRow = { ...lost, occurred_at: at(7_000), received_at: at(7_000) };
      await w.insertEvents([resend]);
      await w.insertEvents([lost]);
      await w.insertEvents([resend, lost]);
      assert.deepEqual(await w.userEvents('a', ALL, 10), [stored(resend)]);
      assert.deepEqual(await w.summary(ALL), { events: 1, users: 1, by_type: { view: 1 } });
    });

    void it('ranks films by views (view + playback_start) and by watch_seconds, with a limit', async () => {
      const w = await fresh();
      const [f1, f2, f3] = [film(), film(), film()];
      await w.insertEvents([
        // f1: 3 views, 1.5 s watched (the click and the playback_start interval do not count)
        watched('view', f1, 1_000),
        watched('view', f1, 500, { user_id: 'user-2' }),
        watched('playback_start', f1, 60_000),
        watched('click', f1, 90_000),
        // f2: 1 view, 12.345 s watched
        watched('playback_start', f2, 0),
        watched('playback_progress', f2, 10_000),
        watched('playback_stop', f2, 2_345),
        // f3: 2 views, 0.001 s watched
        watched('view', f3, 1),
        watched('playback_start', f3, 0),
        // no film, and f1 outside the range: neither counts
        row({ type: 'view' }),
        watched('view', f1, 100_000, { occurred_at: at(7_200_000) }),
      ]);
      const r = range(-1_000, 3_600_000);
      const stats = {
        f1: { film_id: f1, views: 3, watch_seconds: 1.5 },
        f2: { film_id: f2, views: 1, watch_seconds: 12.345 },
        f3: { film_id: f3, views: 2, watch_seconds: 0.001 },
      };
      assert.deepEqual(await w.topFilms(r, 'views', 10), [stats.f1, stats.f3, stats.f2]);
      assert.deepEqual(await w.topFilms(r, 'views', 2), [stats.f1, stats.f3]);
      assert.deepEqual(await w.topFilms(r, 'watch_seconds', 10), [stats.f2, stats.f1, stats.f3]);
      assert.deepEqual(await w.topFilms(r, 'watch_seconds', 1), [stats.f2]);
      assert.deepEqual(await w.topFilms(range(-1_000, 0), 'views', 10), []);
    });

    void it("returns a user's events newest first with every field as inserted", async () => {
      const w = await fresh();
      const full = row({
        type: 'playback_stop', element_kind: 'film', element_id: 'tt0111161', film_id: film(), description: 'Смотрю «фильм» ✓',
        occurred_at: at(3_001), received_at: at(3_457), started_at: at(-120_999), ended_at: at(2_123), duration_ms: 123_122,
        properties: { quality: '1080p', position: 12.5, count: 3, negative: -7, muted: true, subtitles: false, empty: '' },
      });
      const bare = row({ type: 'page_view', occurred_at: at(2_000), received_at: at(2_001) });
      const oldest = row({ type: 'click', element_kind: 'person', element_id: 'nm0000151', occurred_at: at(0), received_at: at(999) });
      const outside = row({ occurred_at: at(10_000) });
      const others = [row({ user_id: 'user-2', occurred_at: at(3_001) }), row({ user_id: 'user-10', occurred_at: at(2_500) })];
      await w.insertEvents([oldest, outside, full, ...others, bare]);
      const r = range(0, 10_000);
      assert.deepEqual(await w.userEvents('user-1', r, 10), [full, bare, oldest].map(stored));
      assert.deepEqual(await w.userEvents('user-1', r, 2), [full, bare].map(stored));
      assert.deepEqual(await w.userEvents('user-1', range(0, 2_000), 10), [stored(oldest)]);
      assert.deepEqual(await w.userEvents('nobody', ALL, 10), []);
    });

    void it('keeps user ids with SQL-special characters apart', async () => {
      const w = await fresh();
      const users = ["o'brien", "' OR '1'='1", 'back\\slash', 'trailing\\', '\\', '100%', '100', '%', '_', 'x_y', 'xay', 'a"b', 'tab\tnew\nline'];
      const rows = users.map((user_id, i) => row({ user_id, occurred_at: at(i) }));
      await w.insertEvents(rows);
      for (const [i, user] of users.entries()) {
        const r = rows[i];
        assert.ok(r);
        assert.deepEqual(await w.userEvents(user, ALL, 100), [stored(r)], JSON.stringify(user));
      }
      assert.equal((await w.summary(ALL)).users, users.length);
    });

    void it('rejects a row it can never load with a non-retriable BackendError and writes nothing of its batch', async () => {
      const w = await fresh();
      const good = row();
      const bad: EventRow = { ...row(), event_id: 'not-a-uuid' };
      await assert.rejects(w.insertEvents([good, bad]), (err: unknown) => {
        assert.ok(err instanceof BackendError, `got ${String(err)}`);
        assert.equal(err.retriable, false);
        return true;
      });
      assert.deepEqual(await w.summary(ALL), { events: 0, users: 0, by_type: {} });
      await w.insertEvents([good]);
      assert.equal((await w.summary(ALL)).events, 1, 'the warehouse still works');
    });

    void it('refuses, as data, every row the engine cannot store as sent, each in a batch of good rows that it fails whole', async () => {
      const w = await fresh();
      // Each of these is refused by the engine itself (issue #7): never retried, always isolated.
      const refused: [string, Partial<EventRow>][] = [
        ['a description ending in half an emoji (ClickHouse code 25)', { description: 'abc \ud83d' }],
        ['a user id with a lone high surrogate (code 25)', { user_id: 'u\ud800' }],
        ['an event id that is not a UUID', { event_id: 'not-a-uuid' }],
        ['a negative duration', { duration_ms: -1 }],
        ['a duration beyond any integer type', { duration_ms: 1e30 }],
      ];
      for (const [what, overrides] of refused) {
        await assert.rejects(w.insertEvents([row(), { ...row(), ...overrides }, row()]), (err: unknown) => {
          assert.ok(err instanceof BackendError, `${what}: got ${String(err)}`);
          assert.deepEqual([err.fault, err.retriable], ['data', false], `${what}: ${err.message}`);
          return true;
        });
      }
      assert.deepEqual(await w.summary(ALL), { events: 0, users: 0, by_type: {} });
    });

    void it('answers ping while open, refuses it after close, and closes twice', async () => {
      const w = await fresh();
      await w.ping();
      await w.close();
      await w.close();
      await assert.rejects(w.ping());
    });
  });
}
