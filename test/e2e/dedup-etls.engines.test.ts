import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { KafkaEventLog } from '../../src/adapters/event-log/kafka-event-log.ts';
import { mintToken } from '../../src/api/auth.ts';
import { eventually } from '../helpers/app.ts';
import { engineConfig } from '../helpers/engines.ts';
import { seeded } from '../helpers/random.ts';
import { type RunningService, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';
import { clickhouseSql } from '../helpers/warehouse-fixtures.ts';

const cluster = process.env.CLICKHOUSE_TEST_CLUSTER ?? 'ugc_test_cluster';
const sql = clickhouseSql(30_000);

/**
 * Load-time deduplication on the production chain (Kafka → two `etl` processes → ClickHouse
 * server, single and 2-shard cluster): one ETL is SIGKILLed at random points and restarted while
 * both load small batches of events that include re-sent copies and one id shared by every user.
 * Afterwards the warehouse holds exactly one row per `(user_id, event_id)` and the rollups count
 * each event once.
 */
for (const mode of ['single', 'cluster'] as const) {
  void describe(`end to end: two ETLs, SIGKILLs and re-sends on ClickHouse (${mode})`, () => {
    const run = randomBytes(4).toString('hex');
    const secret = randomBytes(32).toString('hex');
    const db = `e2e_dedup_${mode}_${run}`;
    let tmp: TempDir | undefined;
    const env = (): Record<string, string> => ({
      DATA_DIR: tmp?.dir ?? '',
      AUTH_JWT_SECRET: secret,
      EVENT_LOG: 'kafka',
      KAFKA_BROKERS: engineConfig.eventLog.kafka.brokers.join(','),
      WAREHOUSE: 'clickhouse',
      CLICKHOUSE_URL: engineConfig.warehouse.clickhouse.url,
      CLICKHOUSE_DATABASE: db,
      ...(mode === 'cluster' ? { CLICKHOUSE_CLUSTER: cluster } : {}),
      EVENTS_TOPIC: `e2e.${run}.events`,
      EVENTS_DLQ_TOPIC: `e2e.${run}.dlq`,
      EVENTS_TOPIC_PARTITIONS: '4',
      ETL_GROUP: `e2e-${run}`,
      ETL_BATCH_SIZE: '20',
      ETL_BATCH_MAX_WAIT_MS: '50',
      ETL_HTTP_PORT: '0',
    });
    after(async () => {
      await stopAll();
      await tmp?.cleanup();
      await sql(`DROP DATABASE IF EXISTS ${db}${mode === 'cluster' ? ` ON CLUSTER ${cluster}` : ''}`).catch(() => undefined);
      const kafka = new KafkaEventLog({ ...engineConfig.eventLog.kafka, defaultPartitions: 1, maxPendingRecords: 1, logger: pino({ level: 'silent' }) });
      for (const topic of [`e2e.${run}.events`, `e2e.${run}.dlq`]) await kafka.deleteStream(topic).catch(() => undefined);
      await kafka.close();
    });

    const bearer = async (user: string, admin = false) => `Bearer ${await mintToken({ secret, userId: user, admin, ttlSeconds: 600 })}`;

    it('stores every event once: replays after kills, re-sent copies, one id shared by every user', async () => {
      tmp = await makeTempDir('ugc-e2e-dedup-');
      const api = await startService(env(), 'api');
      const post = async (user: string, events: object[]) => {
        const res = await fetch(`${api.url}/api/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: await bearer(user) },
          body: JSON.stringify({ events }),
        });
        assert.equal(res.status, 202);
      };
      const summary = async () => {
        const res = await fetch(`${api.url}/api/v1/analytics/summary`, { headers: { authorization: await bearer('admin', true) } });
        const { events, users, by_type } = (await res.json()) as { events: number; users: number; by_type: Record<string, number> };
        return { events, users, by_type };
      };
      let victim: RunningService = await startService(env(), 'etl');
      const survivor = await startService(env(), 'etl');
      const random = seeded(mode === 'single' ? 1 : 2);
      const users = Array.from({ length: 20 }, (_, i) => `dedup-${run}-${i}`);
      const shared = randomUUID();
      const sent = new Map<string, string[]>();
      const rounds = 3;
      for (let round = 0; round < rounds; round++) {
        for (const user of users) {
          const ids = Array.from({ length: 10 }, () => randomUUID());
          sent.set(user, [...(sent.get(user) ?? []), ...ids]);
          const events = ids.map((event_id) => ({ event_id, type: 'click' }));
          if (round === 0) events.push({ event_id: shared, type: 'search' });
          await post(user, events);
          // A client re-sending part of an earlier request: the same ids, another type.
          await post(user, ids.slice(0, 3).map((event_id) => ({ event_id, type: 'view' })));
        }
        await sleep(Math.floor(random() * 300));
        victim.child.kill('SIGKILL');
        assert.equal((await victim.exited).signal, 'SIGKILL');
        victim = await startService(env(), 'etl');
      }
      const expected = { events: users.length * (rounds * 10 + 1), users: users.length, by_type: { click: users.length * rounds * 10, search: users.length } };
      const result = await eventually(summary, (s) => s.events >= expected.events, 90_000, `${expected.events} events`);
      assert.deepEqual(result, expected);
      // Every ETL stopped cleanly (last batches committed): still exactly one row per event.
      for (const etl of [victim, survivor]) etl.child.kill('SIGTERM');
      for (const etl of [victim, survivor]) assert.equal((await etl.exited).code, 0);
      assert.deepEqual(await summary(), expected);
      assert.equal(await sql(`SELECT count() = uniqExact(user_id, event_id) FROM ${db}.events`), '1', 'one row per (user_id, event_id)');
      assert.equal(await sql(`SELECT count() FROM ${db}.events`), String(expected.events));
      api.child.kill('SIGTERM');
      assert.equal((await api.exited).code, 0);
    });
  });
}
