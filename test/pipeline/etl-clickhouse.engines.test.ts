import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import pino from 'pino';
import { buildOpsServer } from '../../src/api/ops-server.ts';
import { ClickhouseWarehouse } from '../../src/adapters/warehouse/clickhouse-warehouse.ts';
import type { EventMessage } from '../../src/domain/events.ts';
import { storedAsSentContract } from '../contracts/stored-as-sent.contract.ts';
import { corruptingWarehouse } from '../helpers/faults.ts';
import { engineConfig, unreachable } from '../helpers/engines.ts';
import { ALL, byType, etlHarness, metricValue, waitFor } from '../helpers/etl-harness.ts';
import { clickhouseSql } from '../helpers/warehouse-fixtures.ts';

/**
 * Issue #7 on the ClickHouse server (invariants 2 and 3): the ETL loads past rows the server
 * refuses for their content, and a server that refuses every insert for an infrastructure reason
 * (its table gone) while it answers pings makes the ETL unready, never dead-lettering a record.
 */
const { url, username, password } = engineConfig.warehouse.clickhouse;
const sql = clickhouseSql(10_000);
const LIMIT = { timeout: 60_000 };

before(async () => {
  try {
    await sql('SELECT 1');
  } catch (err) {
    throw unreachable('ClickHouse', url, err);
  }
});

storedAsSentContract('clickhouse-server', (database) =>
  Promise.resolve({
    warehouse: new ClickhouseWarehouse({ url, username, password, database }),
    cleanup: async () => void (await sql(`DROP DATABASE IF EXISTS ${database}`)),
  }),
);

void describe('Etl on the ClickHouse server', () => {
  const h = etlHarness({
    warehouse: (database) => ({
      warehouse: new ClickhouseWarehouse({ url, username, password, database }),
      cleanup: async () => void (await sql(`DROP DATABASE IF EXISTS ${database}`)),
    }),
  });

  void it("dead-letters the issue's worst case and a row the server itself refuses (code 25), loading every other user's events", LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    const before = await h.produceMany(options.topic, 12);
    const [pill] = await h.produce(options.topic, 'user-2', [{ type: 'poison_pill' }]);
    assert.ok(pill);
    const poison = { key: 'cutter', value: Buffer.from(JSON.stringify({ ...pill, event_id: randomUUID(), user_id: 'cutter', type: 'search', description: 'abc \ud83d' })) };
    await h.log.append(options.topic, [poison]);
    const after = await h.produceMany(options.topic, 7);
    // The transform refuses lone surrogates itself; this one gets past it, into the server.
    const picky = corruptingWarehouse(warehouse, (row) => row.type === 'poison_pill', (row) => ({ ...row, description: 'abc \ud83d' }));
    const { metrics } = h.run({ warehouse: picky }, options);

    await waitFor('lag 0', () => h.lag(options), (n) => n === 0, 30_000);
    assert.deepEqual(await warehouse.summary(ALL), { events: 19, users: 5, by_type: byType([...before, ...after]) });
    const dead = await h.readAll(options.dlqTopic, 2);
    const reasons = dead.map((d) => d.headers['dlq.reason'] ?? '').sort();
    assert.equal(reasons[0], 'lone UTF-16 surrogate in the string at /description');
    assert.match(reasons[1] ?? '', /^warehouse rejected the row: warehouse insert failed \(ClickHouse code 25\): .*surrogate/);
    assert.ok(dead.some((d) => (JSON.parse(d.value.toString()) as EventMessage).event_id === pill.event_id));
    assert.equal(await metricValue(metrics.etlInsertFailures, { fault: 'infrastructure' }), 0);
  });

  void it('turns unready while the server refuses inserts for its missing table but answers pings, and loads everything once the table is back', LIMIT, async () => {
    const { options, warehouse } = await h.setup({ stallAfterMs: 1_000, suspectAfterAttempts: 1 });
    const { etl, metrics } = h.run({ warehouse }, options);
    const ops = await buildOpsServer({ dependencies: { warehouse }, metrics, logger: pino({ level: 'silent' }), etl: () => Promise.resolve(etl.health()) });
    h.cleanup(() => ops.close());
    const database = (/^events-(\w+)$/.exec(options.topic) ?? [])[1];
    assert.ok(database);
    await sql(`RENAME TABLE t_${database}.events TO t_${database}.events_away`);
    const messages = await h.produceMany(options.topic, 10);

    const stalled = await waitFor('/readyz 503', () => ops.inject('/readyz'), (r) => r.statusCode === 503, 30_000);
    const body = stalled.json<{ dependencies: Record<string, { status: string; error?: string }> }>();
    assert.deepEqual(body.dependencies.warehouse, { status: 'up' });
    assert.match(body.dependencies.etl?.error ?? '', /^records have waited [\d.]+ s without a load/);
    assert.ok((await metricValue(metrics.etlInsertFailures, { fault: 'infrastructure' })) >= 2, 'code 60 UNKNOWN_TABLE is infrastructure');

    await sql(`RENAME TABLE t_${database}.events_away TO t_${database}.events`);
    await waitFor('lag 0', () => h.lag(options), (n) => n === 0, 30_000);
    await waitFor('/readyz 200', () => ops.inject('/readyz'), (r) => r.statusCode === 200, 30_000);
    assert.deepEqual(await warehouse.summary(ALL), { events: 10, users: 5, by_type: byType(messages) });
    assert.equal(await metricValue(metrics.etlDeadLettered), 0, 'nothing dead-lettered for an outage, even with suspectAfterAttempts 1');
  });
});
