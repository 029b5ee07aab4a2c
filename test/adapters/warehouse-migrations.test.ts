import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dialectFor } from '../../src/adapters/warehouse/clickhouse-dialect.ts';
import { MIGRATIONS, migrationsTable } from '../../src/adapters/warehouse/migrations.ts';

const flat = (sql: string) => sql.replace(/\s+/g, ' ').trim();

describe('warehouse migrations', () => {
  it('are numbered 1, 2, 3 … with no gaps, so every node applies them in one order', () => {
    assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
  });

  it('create plain replacing tables on a single server, with the type of each server generation', () => {
    const modern = MIGRATIONS.flatMap((m) => m.statements({ db: 'ugc', d: dialectFor('26.7.2.1'), cluster: undefined })).map(flat);
    assert.equal(modern.length, 1);
    assert.match(modern[0] ?? '', /^CREATE TABLE IF NOT EXISTS ugc\.events \(.*occurred_at DateTime64\(3, 'UTC'\).*\) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM\(occurred_at\) ORDER BY \(toDate\(occurred_at\), user_id, occurred_at, event_id\)$/);
    const legacy = MIGRATIONS.flatMap((m) => m.statements({ db: 'ugc', d: dialectFor('18.16.1'), cluster: undefined })).map(flat);
    assert.match(legacy[0] ?? '', /occurred_at UInt64/);
    assert.doesNotMatch(legacy[0] ?? '', /LowCardinality|bloom_filter/);
    assert.equal(flat(migrationsTable({ db: 'ugc', d: dialectFor('26.1'), cluster: undefined })), 'CREATE TABLE IF NOT EXISTS ugc.schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version');
  });

  it('create replicated local tables behind a Distributed table ON CLUSTER when a cluster is configured', () => {
    const ctx = { db: 'ugc', d: dialectFor('24.8'), cluster: 'ugc_cluster' };
    const [local, distributed, ...rest] = MIGRATIONS.flatMap((m) => m.statements(ctx)).map(flat);
    assert.equal(rest.length, 0);
    assert.match(local ?? '', /^CREATE TABLE IF NOT EXISTS ugc\.events_local ON CLUSTER ugc_cluster \(/);
    assert.match(local ?? '', /ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/ugc\/events_local', '\{replica\}'\) PARTITION BY/);
    assert.equal(
      distributed,
      'CREATE TABLE IF NOT EXISTS ugc.events ON CLUSTER ugc_cluster AS ugc.events_local ENGINE = Distributed(ugc_cluster, ugc, events_local, cityHash64(user_id))',
    );
    assert.match(flat(migrationsTable(ctx)), /ON CLUSTER ugc_cluster .* ENGINE = ReplicatedMergeTree\('\/clickhouse\/tables\/all\/ugc\/schema_migrations', '\{shard\}-\{replica\}'\)/);
  });
});
