import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';
import { join } from 'node:path';
import { ChdbWarehouse } from '../../src/adapters/warehouse/chdb-warehouse.ts';
import { dialectFor } from '../../src/adapters/warehouse/clickhouse-dialect.ts';
import { ClickhouseWarehouse, type ClickhouseWarehouseOptions } from '../../src/adapters/warehouse/clickhouse-warehouse.ts';
import { BackendError } from '../../src/domain/errors.ts';
import type { EventRow } from '../../src/ports/warehouse.ts';
import { warehouseContract } from '../contracts/warehouse.contract.ts';
import { engineConfig, unreachable } from '../helpers/engines.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const { url, username, password } = engineConfig.warehouse.clickhouse;

/** Plain HTTP to the server, independent of the adapter under test: setup, inspection, cleanup. */
async function sql(query: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'X-ClickHouse-User': username, 'X-ClickHouse-Key': password },
    body: query,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`ClickHouse answered ${response.status}: ${text}`);
  return text.trim();
}

let version = '';

before(async () => {
  try {
    version = await sql('SELECT version()');
  } catch (err) {
    throw unreachable('ClickHouse', url, err);
  }
});

const newDatabase = (): string => `t_${randomBytes(6).toString('hex')}`;
const dropDatabase = async (database: string): Promise<void> => {
  await sql(`DROP DATABASE IF EXISTS ${database}`);
};

warehouseContract('clickhouse-server', (database) =>
  Promise.resolve({
    warehouse: new ClickhouseWarehouse({ url, username, password, database }),
    cleanup: () => dropDatabase(database),
  }),
);

/** A started, migrated warehouse on a database of its own, closed and dropped after the test. */
async function fresh(t: TestContext, options: Partial<ClickhouseWarehouseOptions> = {}): Promise<{ w: ClickhouseWarehouse; db: string }> {
  const db = newDatabase();
  const w = new ClickhouseWarehouse({ url, username, password, database: db, ...options });
  t.after(async () => {
    await w.close();
    await dropDatabase(db);
  });
  await w.start();
  await w.migrate();
  return { w, db };
}

function rows(count: number, t0: number): EventRow[] {
  const films = Array.from({ length: 50 }, () => randomUUID());
  return Array.from({ length: count }, (_, i) => {
    const at = new Date(t0 + i).toISOString();
    return {
      event_id: randomUUID(), user_id: `user-${i % 1_000}`, type: i % 4 === 0 ? 'view' : 'click', element_kind: 'film',
      element_id: `el-${i}`, film_id: films[i % films.length] ?? null, description: '', occurred_at: at, received_at: at,
      started_at: null, ended_at: null, duration_ms: 0, properties: { i },
    };
  });
}

/** Users of the cross-engine data, with SQL-special characters. */
const USERS = ['u1', 'u2', "o'x", 'u\\3'];

/**
 * Reproducible messy traffic: ties on occurred_at (whole seconds), missing films and intervals,
 * special characters, and late re-sends of some events with other content.
 */
function messyTraffic(t0: number): EventRow[][] {
  let seed = 20_260_310;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(xs: readonly T[], fallback: T): T => xs[Math.floor(random() * xs.length)] ?? fallback;
  const films = Array.from({ length: 8 }, () => randomUUID());
  const types = ['view', 'playback_start', 'playback_progress', 'playback_stop', 'click', 'search'];
  const iso = (ms: number): string => new Date(ms).toISOString();
  const first = Array.from({ length: 3_000 }, (_, i): EventRow => {
    const occurred = t0 + Math.floor(random() * 40) * 1_000 - 20_000;
    const started = random() < 0.5 ? occurred - Math.floor(random() * 5_000) : null;
    const duration = started === null ? 0 : Math.floor(random() * 10_000);
    return {
      event_id: randomUUID(), user_id: pick(USERS, 'u1'), type: pick(types, 'view'), element_kind: pick(['', 'film'], ''),
      element_id: pick(['', 'e1'], ''), film_id: random() < 0.3 ? null : pick(films, null), description: pick(['', 'd', 'Ж'], ''),
      occurred_at: iso(occurred), received_at: iso(occurred + Math.floor(random() * 3_000)),
      started_at: started === null ? null : iso(started), ended_at: started === null ? null : iso(started + duration),
      duration_ms: duration, properties: { i },
    };
  });
  const resent = first.slice(0, 500).map((r) => ({
    ...r, type: pick(types, 'view'), duration_ms: 777, received_at: iso(Date.parse(r.received_at) + 1 + Math.floor(random() * 5_000)),
  }));
  return [first, resent, first.slice(100, 900)];
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Rejects with a retriable BackendError within `withinMs`. */
async function rejectsRetriable(promise: Promise<unknown>, withinMs: number): Promise<void> {
  const started = performance.now();
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof BackendError, `got ${String(err)}`);
    assert.equal(err.retriable, true, err.message);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < withinMs, `took ${Math.round(elapsed)} ms`);
}

void describe('ClickhouseWarehouse on the server', () => {
  const T0 = Date.UTC(2026, 2, 10, 12);
  const ALL = { from: new Date(T0 - 86_400_000), to: new Date(T0 + 86_400_000) };

  void it('reports the server version and builds the schema with the dialect of that version', async (t) => {
    t.diagnostic(`ClickHouse server ${version}`);
    const { w, db } = await fresh(t);
    const type = await sql(`SELECT type FROM system.columns WHERE database = '${db}' AND table = 'events' AND name = 'occurred_at'`);
    assert.equal(type, dialectFor(version).timestamp);
    if (version.startsWith('18.')) assert.equal(type, 'UInt64', '18.x has no DateTime64: epoch milliseconds');

    await w.insertEvents(rows(3, T0));
    // Columns a row leaves out get their DEFAULT (18.x would store 0000-00-00 without the
    // column list the adapter sends).
    assert.equal(await sql(`SELECT countIf(toUInt32(loaded_at) = 0) FROM ${db}.events`), '0');
    assert.equal(await sql(`SELECT countIf(toUInt32(applied_at) = 0) FROM ${db}.schema_migrations`), '0');
  });

  void it('migrates idempotently: again on the same warehouse and from a new one', async (t) => {
    const { w, db } = await fresh(t);
    assert.deepEqual(await w.migrate(), []);
    const again = new ClickhouseWarehouse({ url, username, password, database: db });
    t.after(() => again.close());
    await again.start();
    assert.deepEqual(await again.migrate(), []);
    const versions = await sql(`SELECT groupArray(version) FROM (SELECT version FROM ${db}.schema_migrations ORDER BY version)`);
    assert.equal(versions, '[1]', 'one row per applied version');
  });

  void it('loads a 20,000-row batch as one insert, and a retried batch changes no count', async (t) => {
    const { w, db } = await fresh(t);
    const batch = rows(20_000, T0);
    const started = performance.now();
    await w.insertEvents(batch);
    const elapsed = performance.now() - started;
    t.diagnostic(`20,000 rows in ${Math.round(elapsed)} ms`);
    assert.ok(elapsed < 10_000, `took ${Math.round(elapsed)} ms`);
    // One INSERT of one month's rows writes one part; an insert per event would write many.
    assert.equal(await sql(`SELECT count() FROM system.parts WHERE database = '${db}' AND table = 'events' AND active`), '1');

    const expected = { events: 20_000, users: 1_000, by_type: { click: 15_000, view: 5_000 } };
    assert.deepEqual(await w.summary(ALL), expected);
    await w.insertEvents(batch);
    assert.deepEqual(await w.summary(ALL), expected);
    // Merging collapses the copies on disk too (queries are exact before that).
    await sql(`OPTIMIZE TABLE ${db}.events FINAL`);
    assert.equal(await sql(`SELECT count() FROM ${db}.events`), '20000');
  });

  void it('answers every query exactly like the embedded engine (chDB) on the same data', async (t) => {
    const { w: server } = await fresh(t);
    const tmp = await makeTempDir('ugc-chdb-');
    const embedded = new ChdbWarehouse({ path: join(tmp.dir, 'chdb'), database: newDatabase() });
    t.after(async () => {
      await embedded.close();
      await tmp.cleanup();
    });
    await embedded.start();
    await embedded.migrate();
    for (const batch of messyTraffic(T0)) {
      await server.insertEvents(batch);
      await embedded.insertEvents(batch);
    }
    const ranges = [[-20_000, 20_000], [-5_000, 3_000], [0, 1], [-100_000, 100_000], [1_000, 1_000]]
      .map(([from = 0, to = 0]) => ({ from: new Date(T0 + from), to: new Date(T0 + to) }));
    for (const r of ranges) {
      assert.deepEqual(await server.summary(r), await embedded.summary(r));
      for (const metric of ['views', 'watch_seconds'] as const) {
        for (const limit of [1, 3, 100]) assert.deepEqual(await server.topFilms(r, metric, limit), await embedded.topFilms(r, metric, limit));
      }
      for (const user of USERS) {
        for (const limit of [5, 1_000]) assert.deepEqual(await server.userEvents(user, r, limit), await embedded.userEvents(user, r, limit));
      }
    }
    assert.equal((await server.summary(ranges[3] ?? ALL)).events, 3_000);
  });

  void it('fails fast and retriably when nothing listens on the port', async (t) => {
    const closed = createServer();
    const port = await listen(closed);
    const w = new ClickhouseWarehouse({ url: `http://127.0.0.1:${port}`, username, password, database: newDatabase() });
    t.after(() => w.close());
    // The port is closed again before the warehouse uses it.
    await new Promise<void>((resolve) => { closed.close(() => resolve()); });
    await rejectsRetriable(w.start(), 3_000);
    await rejectsRetriable(w.ping(), 3_000);
    await rejectsRetriable(w.insertEvents(rows(10, T0)), 3_000);
  });

  void it('fails fast and retriably when the server goes away after start', async (t) => {
    // A TCP relay to the real server that the test can cut, like a server or network going down.
    const sockets = new Set<Socket>();
    const target = new URL(url);
    const relay = createServer((client) => {
      const upstream = connect(Number(target.port || 80), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined).on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    const port = await listen(relay);
    const { w } = await fresh(t, { url: `http://127.0.0.1:${port}` });
    await w.insertEvents(rows(10, T0));
    await w.ping();

    relay.close();
    for (const s of sockets) s.destroy();
    await rejectsRetriable(w.ping(), 3_000);
    await rejectsRetriable(w.insertEvents(rows(10, T0)), 3_000);
    await rejectsRetriable(w.summary(ALL), 3_000);
  });

  void it('times out retriably on a server that accepts connections and never answers', async (t) => {
    const held = new Set<Socket>();
    const blackHole = createServer((s) => { held.add(s); });
    const port = await listen(blackHole);
    t.after(() => {
      for (const s of held) s.destroy();
      blackHole.close();
    });
    const w = new ClickhouseWarehouse({
      url: `http://127.0.0.1:${port}`, username, password, database: newDatabase(), requestTimeoutMs: 1_000, pingTimeoutMs: 500,
    });
    t.after(() => w.close());
    await rejectsRetriable(w.start(), 3_000);
    await rejectsRetriable(w.ping(), 2_000);
  });
});
