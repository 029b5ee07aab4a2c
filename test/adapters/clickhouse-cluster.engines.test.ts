import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it, type TestContext } from 'node:test';
import { ClickhouseWarehouse } from '../../src/adapters/warehouse/clickhouse-warehouse.ts';
import type { EventRow } from '../../src/ports/warehouse.ts';
import { warehouseInsightsContract } from '../contracts/warehouse-insights.contract.ts';
import { warehouseContract } from '../contracts/warehouse.contract.ts';
import { engineConfig, unreachable } from '../helpers/engines.ts';
import { assertSameAnswers, clickhouseSql, messyRanges, messyTraffic, newDatabase } from '../helpers/warehouse-fixtures.ts';

/**
 * The warehouse in cluster mode (`CLICKHOUSE_CLUSTER`) on real servers: ON CLUSTER DDL through
 * ZooKeeper's distributed DDL queue, ReplicatedReplacingMergeTree shards behind a Distributed
 * table, synchronous distributed inserts. `npm run engines:up` starts ZooKeeper and the servers
 * of the cluster `ugc_test_cluster` (scripts/engines/clickhouse.sh: CLICKHOUSE_SHARDS servers,
 * one replica each); CLICKHOUSE_TEST_CLUSTER names another cluster of the server at
 * CLICKHOUSE_URL. A missing server, cluster or ZooKeeper fails the suite; it never skips.
 */
const { url } = engineConfig.warehouse.clickhouse;
const cluster = process.env.CLICKHOUSE_TEST_CLUSTER ?? 'ugc_test_cluster';
assert.match(cluster, /^[A-Za-z_][A-Za-z0-9_]*$/, 'CLICKHOUSE_TEST_CLUSTER must be an identifier');

/** Plain HTTP to the server, independent of the adapter under test: setup, inspection, cleanup. */
const sql = clickhouseSql(30_000);

async function rowsOf<T>(query: string): Promise<T[]> {
  return (JSON.parse(await sql(`${query} FORMAT JSON`)) as { data: T[] }).data;
}

interface Host {
  shard: number;
  /** `host:port` of its native protocol, for remote(). */
  address: string;
}

/** One replica per shard, as the servers of `cluster` are configured. */
let hosts: Host[] = [];
/** The `{shard}` macro of each host, in the order of `hosts`. */
const shards: string[] = [];

before(async () => {
  let version: string;
  try {
    version = await sql('SELECT version()');
  } catch (err) {
    throw unreachable('ClickHouse', url, err);
  }
  const members = await rowsOf<{ shard_num: number; replica_num: number; host_address: string; port: number }>(
    `SELECT shard_num, replica_num, host_address, port FROM system.clusters WHERE cluster = '${cluster}' ORDER BY shard_num, replica_num`,
  );
  if (members.length === 0) {
    throw new Error(
      `ClickHouse ${version} at ${url} has no cluster '${cluster}' in its remote_servers. ` +
        'Start the engines with `npm run engines:up` (scripts/engines/clickhouse.sh configures it) or set CLICKHOUSE_TEST_CLUSTER.',
    );
  }
  hosts = members.map((m) => ({ shard: Number(m.shard_num), address: `${m.host_address}:${m.port}` }));
  try {
    await sql(`SELECT count() FROM system.zookeeper WHERE path = '/'`);
  } catch (err) {
    throw unreachable('ZooKeeper (as the ClickHouse server at that URL is configured to reach it)', url, err);
  }
  // Every server of the cluster answers (an ON CLUSTER statement would otherwise wait minutes).
  for (const h of hosts) {
    try {
      shards.push(await sql(`SELECT substitution FROM remote('${h.address}', system, macros) WHERE macro = 'shard'`));
    } catch (err) {
      throw unreachable(`ClickHouse shard ${h.shard} of cluster ${cluster}`, h.address, err);
    }
  }
});

const dropDatabase = async (database: string): Promise<void> => {
  await sql(`DROP DATABASE IF EXISTS ${database} ON CLUSTER ${cluster}`);
};
const clusterWarehouse = (database: string): ClickhouseWarehouse =>
  new ClickhouseWarehouse({ ...engineConfig.warehouse.clickhouse, database, cluster });

const makeClustered = (database: string) => Promise.resolve({ warehouse: clusterWarehouse(database), cleanup: () => dropDatabase(database) });
warehouseContract('clickhouse-cluster', makeClustered);
// Fewer property runs: every query crosses both shards.
warehouseInsightsContract('clickhouse-cluster', makeClustered, { propertyRuns: 10 });

/** A started, migrated cluster warehouse on a database of its own, closed and dropped after the test. */
async function fresh(t: TestContext, database = newDatabase()): Promise<{ w: ClickhouseWarehouse; db: string }> {
  const w = clusterWarehouse(database);
  t.after(async () => {
    await w.close();
    await dropDatabase(database);
  });
  await w.start();
  await w.migrate();
  return { w, db: database };
}

function row(user: string, at: number, overrides: Partial<EventRow> = {}): EventRow {
  const iso = new Date(at).toISOString();
  return {
    event_id: randomUUID(), user_id: user, type: 'view', element_kind: '', element_id: '', film_id: null, description: '',
    occurred_at: iso, received_at: iso, started_at: null, ended_at: null, duration_ms: 0, properties: {}, ...overrides,
  };
}

/** Users of the messy traffic, with SQL-special characters; more than shards, so each shard has some. */
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', "o'x", 'u\\7'];

/** Messy traffic: 2,000 events, 400 of them re-sent, 600 loaded twice. */
const MESSY = { seed: 20_260_311, users: USERS, count: 2_000, resent: 400, reloaded: [100, 700] } as const;

void describe('ClickhouseWarehouse on a cluster', () => {
  const T0 = Date.UTC(2026, 2, 10, 12);
  const ALL = { from: new Date(T0 - 86_400_000), to: new Date(T0 + 86_400_000) };

  void it('creates on every shard a ReplicatedReplacingMergeTree with an active replica behind a Distributed table', async (t) => {
    t.diagnostic(`cluster ${cluster}: ${hosts.map((h) => `shard ${h.shard} at ${h.address}`).join(', ')}`);
    const { db } = await fresh(t);
    for (const h of hosts) {
      const tables = await rowsOf<{ name: string; engine: string; engine_full: string }>(
        `SELECT name, engine, engine_full FROM remote('${h.address}', system, tables) WHERE database = '${db}' ORDER BY name`,
      );
      assert.deepEqual(
        tables.map((x) => [x.name, x.engine]),
        [
          ['elements_daily', 'Distributed'], ['elements_daily_local', 'ReplicatedAggregatingMergeTree'], ['elements_daily_mv', 'MaterializedView'],
          ['event_keys', 'Distributed'], ['event_keys_local', 'ReplicatedReplacingMergeTree'],
          ['events', 'Distributed'], ['events_15m', 'Distributed'], ['events_15m_local', 'ReplicatedAggregatingMergeTree'],
          ['events_15m_mv', 'MaterializedView'], ['events_local', 'ReplicatedReplacingMergeTree'],
          ['films_daily', 'Distributed'], ['films_daily_local', 'ReplicatedAggregatingMergeTree'], ['films_daily_mv', 'MaterializedView'],
          ['schema_migrations', 'ReplicatedMergeTree'],
        ],
        `tables on shard ${h.shard}`,
      );
      assert.match(tables.find((x) => x.name === 'events')?.engine_full ?? '', new RegExp(`^Distributed\\(${cluster}, ${db}, events_local, cityHash64\\(user_id\\)\\)`));

      const [macros] = await rowsOf<{ shard: string; replica: string }>(
        `SELECT anyIf(substitution, macro = 'shard') AS shard, anyIf(substitution, macro = 'replica') AS replica
         FROM remote('${h.address}', system, macros)`,
      );
      assert.ok(macros);
      const replicas = await rowsOf<{
        table: string; engine: string; is_readonly: number; is_session_expired: number; zookeeper_path: string;
        replica_name: string; total_replicas: number; active_replicas: number;
      }>(
        `SELECT table, engine, is_readonly, is_session_expired, zookeeper_path, replica_name, total_replicas, active_replicas
         FROM remote('${h.address}', system, replicas) WHERE database = '${db}' AND table IN ('events_local', 'schema_migrations') ORDER BY table`,
      );
      assert.deepEqual(
        replicas.map((r) => ({ ...r, is_readonly: Number(r.is_readonly), is_session_expired: Number(r.is_session_expired) })),
        [
          {
            table: 'events_local', engine: 'ReplicatedReplacingMergeTree', is_readonly: 0, is_session_expired: 0,
            zookeeper_path: `/clickhouse/tables/${macros.shard}/${db}/events_local`, replica_name: macros.replica,
            total_replicas: 1, active_replicas: 1,
          },
          {
            // The ledger is one replicated table across the whole cluster: every shard a replica.
            table: 'schema_migrations', engine: 'ReplicatedMergeTree', is_readonly: 0, is_session_expired: 0,
            zookeeper_path: `/clickhouse/tables/all/${db}/schema_migrations`, replica_name: `${macros.shard}-${macros.replica}`,
            total_replicas: hosts.length, active_replicas: hosts.length,
          },
        ],
        `replicas on shard ${h.shard}`,
      );
      assert.equal(await sql(`SELECT groupArray(version) FROM (SELECT version FROM remote('${h.address}', ${db}, schema_migrations) ORDER BY version)`), '[1,2,3]');
    }
  });

  void it("puts each user's events on the shard cityHash64(user_id) picks, synchronously, and queries all shards", async (t) => {
    const { w, db } = await fresh(t);
    const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    const rows = users.flatMap((u, i) => [row(u, T0 + i), row(u, T0 + i + 1, { type: 'click' })]);
    await w.insertEvents(rows);
    // insert_distributed_sync: the rows are in the shards' local tables when the insert returns.
    const placed = new Map<string, number>();
    for (const h of hosts) {
      const local = await rowsOf<{ user_id: string; n: string }>(
        `SELECT user_id, count() AS n FROM remote('${h.address}', ${db}, events_local) GROUP BY user_id`,
      );
      if (hosts.length > 1) assert.ok(local.length > 0 && local.length < users.length, `shard ${h.shard} holds some users, not all`);
      for (const r of local) {
        assert.equal(placed.get(r.user_id), undefined, `${r.user_id} on one shard only`);
        placed.set(r.user_id, h.shard);
        assert.equal(Number(r.n), 2, `both events of ${r.user_id} on its shard`);
      }
    }
    assert.equal(placed.size, users.length, 'every user on some shard');
    // Equal weights: shard = cityHash64(user_id) % shards + 1.
    const expected = await rowsOf<{ user_id: string; shard: number }>(
      `SELECT user_id, toUInt32(cityHash64(user_id) % ${hosts.length} + 1) AS shard FROM system.one
       ARRAY JOIN [${users.map((u) => `'${u}'`).join(', ')}] AS user_id`,
    );
    for (const e of expected) assert.equal(placed.get(e.user_id), Number(e.shard), e.user_id);

    assert.deepEqual(await w.summary(ALL), { events: 120, users: 60, by_type: { view: 60, click: 60 } });
    // A re-sent copy is recognised by its key, which sits on its original's shard, and not loaded.
    const first = rows[0];
    assert.ok(first);
    await w.insertEvents([{ ...first, type: 'click', received_at: new Date(T0 + 60_000).toISOString() }]);
    assert.deepEqual(await w.summary(ALL), { events: 120, users: 60, by_type: { view: 60, click: 60 } });
    const shard = hosts.find((h) => h.shard === placed.get(first.user_id))?.address ?? '';
    for (const table of ['events_local', 'event_keys_local']) {
      const copies: { n: string }[] = await rowsOf<{ n: string }>(`SELECT count() AS n FROM remote('${shard}', ${db}, ${table}) WHERE event_id = toUUID('${first.event_id}')`);
      assert.equal(Number(copies[0]?.n), 1, table);
    }
  });

  void it('answers every query exactly like a single-server warehouse on the same messy data', async (t) => {
    const { w: clustered } = await fresh(t);
    const singleDb = newDatabase();
    const single = new ClickhouseWarehouse({ ...engineConfig.warehouse.clickhouse, database: singleDb, cluster: undefined });
    t.after(async () => {
      await single.close();
      await sql(`DROP DATABASE IF EXISTS ${singleDb}`);
    });
    await single.start();
    await single.migrate();
    await assertSameAnswers(clustered, single, messyTraffic(T0, MESSY), messyRanges(T0), USERS);
    assert.equal((await clustered.summary(ALL)).events, 2_000);
  });

  void it('drops a database everywhere, ZooKeeper nodes included, so the same name starts over empty', async (t) => {
    const db = newDatabase();
    const first = clusterWarehouse(db);
    await first.start();
    await first.migrate();
    await first.insertEvents([row('u1', T0)]);
    await first.close();
    await dropDatabase(db);
    for (const h of hosts) {
      assert.equal(await sql(`SELECT count() FROM remote('${h.address}', system, tables) WHERE database = '${db}'`), '0');
    }
    // DROP TABLE of a replicated table's last replica removes its ZooKeeper path; the empty
    // per-database parent nodes stay (harmless: see the re-creation below).
    for (const path of ['all', ...shards].map((s) => `/clickhouse/tables/${s}/${db}`)) {
      const children = await rowsOf<{ name: string }>(`SELECT name FROM system.zookeeper WHERE path = '${path}'`).catch(
        (err: unknown) => (String(err).includes('No node') ? [] : Promise.reject(err instanceof Error ? err : new Error(String(err)))),
      );
      assert.deepEqual(children, [], `nothing left under ${path} in ZooKeeper`);
    }

    const { w } = await fresh(t, db);
    assert.deepEqual(await w.migrate(), [], 'the first migrate of fresh() applied everything');
    assert.deepEqual(await w.summary(ALL), { events: 0, users: 0, by_type: {} });
    assert.equal(
      await sql(`SELECT groupArray(version) FROM (SELECT version FROM ${db}.schema_migrations ORDER BY version)`),
      '[1,2,3]',
      'the ledger starts over: nothing replicated back from the dropped database',
    );
  });
});
