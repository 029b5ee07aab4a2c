import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';
import { join } from 'node:path';
import { ChdbWarehouse } from '../../src/adapters/warehouse/chdb-warehouse.ts';
import { dialectFor } from '../../src/adapters/warehouse/clickhouse-dialect.ts';
import { ClickhouseWarehouse, type ClickhouseWarehouseOptions } from '../../src/adapters/warehouse/clickhouse-warehouse.ts';
import { MIGRATIONS, migrationsTable } from '../../src/adapters/warehouse/migrations.ts';
import { BackendError } from '../../src/domain/errors.ts';
import type { EventRow } from '../../src/ports/warehouse.ts';
import { warehouseInsightsContract } from '../contracts/warehouse-insights.contract.ts';
import { warehouseContract } from '../contracts/warehouse.contract.ts';
import { engineConfig, unreachable } from '../helpers/engines.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { assertSameAnswers, clickhouseSql, messyRanges, messyTraffic, newDatabase } from '../helpers/warehouse-fixtures.ts';

const { url, username, password } = engineConfig.warehouse.clickhouse;

/** Plain HTTP to the server, independent of the adapter under test: setup, inspection, cleanup. */
const sql = clickhouseSql(10_000);

let version = '';

before(async () => {
  try {
    version = await sql('SELECT version()');
  } catch (err) {
    throw unreachable('ClickHouse', url, err);
  }
});

const dropDatabase = async (database: string): Promise<void> => {
  await sql(`DROP DATABASE IF EXISTS ${database}`);
};

const makeServer = (database: string) =>
  Promise.resolve({
    warehouse: new ClickhouseWarehouse({ url, username, password, database }),
    cleanup: () => dropDatabase(database),
  });
warehouseContract('clickhouse-server', makeServer);
warehouseInsightsContract('clickhouse-server', makeServer);

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

/** Cross-engine traffic: 3,000 events, 500 of them re-sent, 800 loaded twice. */
const MESSY = { seed: 20_260_310, users: USERS, count: 3_000, resent: 500, reloaded: [100, 900] } as const;

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
    assert.equal(versions, '[1,2,3]', 'one row per applied version');
  });

  void it('upgrades a database loaded before load-time dedup: keys (hashed by the server) and rollups are backfilled', async (t) => {
    const db = newDatabase();
    t.after(() => dropDatabase(db));
    const [version] = (await sql('SELECT version()')).split('\n');
    const ctx = { db, d: dialectFor(version ?? ''), cluster: undefined };
    await sql(`CREATE DATABASE ${db}`);
    await sql(migrationsTable(ctx));
    for (const statement of MIGRATIONS[0]?.statements(ctx) ?? []) await sql(statement);
    await sql(`INSERT INTO ${db}.schema_migrations (version, name) VALUES (1, 'events table')`);
    const id = randomUUID();
    const user = "o'neil\\x";
    const time = ctx.d.timeValue('2026-05-01T10:00:00.000Z');
    const row = JSON.stringify({ event_id: id, user_id: user, type: 'view', element_kind: '', element_id: '', film_id: null, description: '',
      occurred_at: time, received_at: time, started_at: null, ended_at: null, duration_ms: 0, properties: '{}', loaded_at: '2026-05-01 10:00:00' });
    await sql(`INSERT INTO ${db}.events FORMAT JSONEachRow ${row}\n${row}`);
    const w = new ClickhouseWarehouse({ url, username, password, database: db });
    t.after(() => w.close());
    await w.start();
    assert.deepEqual(await w.migrate(), [2, 3]);
    const range = { from: new Date('2026-05-01T00:00:00Z'), to: new Date('2026-05-02T00:00:00Z') };
    assert.deepEqual(await w.summary(range), { events: 1, users: 1, by_type: { view: 1 } });
    await w.insertEvents([{
      event_id: id, user_id: user, type: 'click', element_kind: '', element_id: '', film_id: null, description: '',
      occurred_at: '2026-05-01T11:00:00.000Z', received_at: '2026-05-01T11:00:00.000Z', started_at: null, ended_at: null, duration_ms: 0, properties: {},
    }]);
    assert.deepEqual(await w.summary(range), { events: 1, users: 1, by_type: { view: 1 } }, 'the backfilled key is found by its JavaScript hash');
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
    const ranges = messyRanges(T0);
    await assertSameAnswers(server, embedded, messyTraffic(T0, MESSY), ranges, USERS);
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
