import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@clickhouse/client';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { KafkaEventLog } from '../../src/adapters/event-log/kafka-event-log.ts';
import { mintToken } from '../../src/api/auth.ts';
import { eventually } from '../helpers/app.ts';
import { engineConfig } from '../helpers/engines.ts';
import { type RunningService, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

const KAFKA_PID_FILE =
  process.env.KAFKA_PID_FILE ?? `${process.env.UGC_ENGINES_RUN ?? `${process.env.UGC_ENGINES_DIR ?? `${homedir()}/.cache/ugc-engines`}/run`}/kafka/node1/kafka.pid`;

/**
 * The production chain with real engines, as separate processes: HTTP → Kafka → ETL →
 * ClickHouse server, and HTTP → MongoDB protocol. Every run uses its own topic, consumer
 * group and databases, so runs never see each other's data.
 */
describe('end to end on Kafka, ClickHouse server and MongoDB', () => {
  const run = randomBytes(4).toString('hex');
  const secret = randomBytes(32).toString('hex');
  let tmp: TempDir;
  let env: Record<string, string>;
  let api: RunningService;

  before(async () => {
    tmp = await makeTempDir('ugc-engines-e2e-');
    env = {
      DATA_DIR: tmp.dir,
      AUTH_JWT_SECRET: secret,
      EVENT_LOG: 'kafka',
      KAFKA_BROKERS: engineConfig.eventLog.kafka.brokers.join(','),
      WAREHOUSE: 'clickhouse',
      CLICKHOUSE_URL: engineConfig.warehouse.clickhouse.url,
      CLICKHOUSE_DATABASE: `e2e_${run}`,
      STORE: 'mongodb',
      MONGODB_URL: engineConfig.store.mongodb.url,
      MONGODB_DATABASE: `e2e_${run}`,
      EVENTS_TOPIC: `e2e.${run}.events`,
      EVENTS_DLQ_TOPIC: `e2e.${run}.dlq`,
      EVENTS_TOPIC_PARTITIONS: '4',
      ETL_GROUP: `e2e-${run}`,
      ETL_BATCH_MAX_WAIT_MS: '200',
      // Each etl process serves its metrics on a port of its own.
      ETL_HTTP_PORT: '0',
    };
    api = await startService(env, 'api');
  });
  after(async () => {
    await stopAll();
    await tmp.cleanup();
    // Leave the shared engines as we found them.
    const mongo = new MongoClient(engineConfig.store.mongodb.url, { serverSelectionTimeoutMS: 2000 });
    await mongo.db(env.MONGODB_DATABASE).dropDatabase().finally(() => mongo.close());
    const clickhouse = createClient({ url: engineConfig.warehouse.clickhouse.url });
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${env.CLICKHOUSE_DATABASE ?? ''}` }).finally(() => clickhouse.close());
    const kafka = new KafkaEventLog({ ...engineConfig.eventLog.kafka, defaultPartitions: 1, maxPendingRecords: 1, logger: pino({ level: 'silent' }) });
    for (const topic of [env.EVENTS_TOPIC, env.EVENTS_DLQ_TOPIC]) await kafka.deleteStream(topic ?? '').catch(() => undefined);
    await kafka.close();
  });

  const bearer = async (user: string, admin = false) => ({
    authorization: `Bearer ${await mintToken({ secret, userId: user, admin, ttlSeconds: 600 })}`,
  });

  async function post(path: string, user: string, body: unknown, method = 'POST') {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(await bearer(user)) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function summary(): Promise<{ events: number; users: number; by_type: Record<string, number> }> {
    const res = await fetch(`${api.url}/api/v1/analytics/summary`, { headers: await bearer('admin', true) });
    assert.equal(res.status, 200);
    return (await res.json()) as { events: number; users: number; by_type: Record<string, number> };
  }

  it('reports every backend ready', async () => {
    const res = await fetch(`${api.url}/readyz`);
    assert.deepEqual(await res.json(), {
      status: 'ready',
      dependencies: { event_log: { status: 'up' }, warehouse: { status: 'up' }, store: { status: 'up' } },
    });
  });

  it('two ETL processes share a 4-partition topic and load every event exactly once, duplicates included', async () => {
    const etls = [await startService(env, 'etl'), await startService(env, 'etl')];
    const owned = (etl: RunningService): number[] => {
      const last = etl.logs.filter((l) => l.message === 'consumer group assignment').at(-1)?.partitions;
      return Array.isArray(last) ? (last as number[]) : [];
    };
    // The group has settled once both members own a share of the partitions.
    await eventually(
      () => Promise.resolve(etls.map((etl) => owned(etl))),
      (shares) => shares.every((p) => p.length > 0) && shares.reduce((n, p) => n + p.length, 0) === 4,
      30_000,
      'both ETL processes own partitions',
    );
    const users = Array.from({ length: 40 }, (_, i) => `user-${run}-${i}`);
    const dup = randomUUID();
    let sent = 0;
    await Promise.all(
      users.map(async (user, i) => {
        const events = Array.from({ length: 25 }, (_, j) => ({ type: j % 5 === 0 ? 'view' : 'click', film_id: randomUUID() }));
        const res = await post('/api/v1/events', user, { events: i === 0 ? [...events, { type: 'click', event_id: dup }] : events });
        assert.equal(res.status, 202);
        sent += events.length;
      }),
    );
    // The same event sent again in another request counts once.
    assert.equal((await post('/api/v1/events', users[0] ?? '', { type: 'click', event_id: dup })).status, 202);
    sent += 1;

    const result = await eventually(summary, (s) => s.events >= sent, 60_000, `${sent} events in ClickHouse`);
    assert.equal(result.events, sent);
    assert.equal(result.users, users.length);
    assert.equal(result.by_type.view, users.length * 5);

    // Still exact once the processes stop (their last batches committed, nothing re-loaded twice).
    for (const etl of etls) etl.child.kill('SIGTERM');
    for (const etl of etls) assert.equal((await etl.exited).code, 0);
    assert.equal((await summary()).events, sent);
  });

  it('loses nothing when an ETL process is killed mid-stream: the survivor takes over its partitions', async () => {
    const base = (await summary()).events;
    const [victim, survivor] = [await startService(env, 'etl'), await startService(env, 'etl')];
    const sendBatch = async (tag: string) => {
      const users = Array.from({ length: 20 }, (_, i) => `${tag}-${run}-${i}`);
      await Promise.all(
        users.map(async (user) => {
          const res = await post('/api/v1/events', user, { events: Array.from({ length: 10 }, () => ({ type: 'click' })) });
          assert.equal(res.status, 202);
        }),
      );
      return users.length * 10;
    };
    let sent = await sendBatch('before');
    victim.child.kill('SIGKILL');
    assert.equal((await victim.exited).signal, 'SIGKILL');
    sent += await sendBatch('after');
    // The group notices the dead member within its session timeout (10 s) and rebalances.
    const result = await eventually(summary, (s) => s.events >= base + sent, 60_000, `${sent} more events in ClickHouse`);
    assert.equal(result.events, base + sent, 'every event exactly once');
    survivor.child.kill('SIGTERM');
    assert.equal((await survivor.exited).code, 0);
  });

  it('serves likes, bookmarks and reviews from MongoDB with the contract’s rules', async () => {
    const film = randomUUID();
    const [alice, bob] = [`alice-${run}`, `bob-${run}`];
    assert.equal((await post(`/api/v1/films/${film}/like`, alice, { score: 9 }, 'PUT')).status, 201);
    assert.equal((await post(`/api/v1/films/${film}/like`, alice, { like: false }, 'PUT')).status, 200);
    assert.equal((await post(`/api/v1/films/${film}/like`, bob, { score: 7 }, 'PUT')).status, 201);
    const summaryRes = await fetch(`${api.url}/api/v1/films/${film}/likes/summary`, { headers: await bearer(alice) });
    assert.deepEqual(await summaryRes.json(), { film_id: film, likes: 1, dislikes: 1, count: 2, average_score: 3.5 });
    assert.equal((await post('/api/v1/bookmarks', alice, { film_id: film })).status, 201);
    assert.equal((await post('/api/v1/bookmarks', alice, { film_id: film })).status, 200);
    const review = await post(`/api/v1/films/${film}/reviews`, alice, { text: 'Kept me awake.', score: 8 });
    assert.equal(review.status, 201);
    assert.equal((await post(`/api/v1/films/${film}/reviews`, alice, { text: 'again' })).status, 409);
    const vote = await post(`/api/v1/reviews/${String(review.body.id)}/vote`, bob, { value: 1 }, 'PUT');
    assert.deepEqual([vote.status, vote.body.upvotes], [200, 1]);
    assert.equal((await post(`/api/v1/reviews/${String(review.body.id)}/vote`, alice, { value: 1 }, 'PUT')).status, 403);
  });

  it('answers 503 with Retry-After within about a second while Kafka does not answer, and recovers', async () => {
    // Freeze the broker: connections stay open but nothing answers — the worst case for a
    // client, which would otherwise wait forever. Locally the broker is our process (SIGSTOP);
    // in GitHub Actions it is a service container (docker pause).
    const container = process.env.KAFKA_CONTAINER_ID;
    const pid = container ? 0 : Number(readFileSync(KAFKA_PID_FILE, 'utf8').trim());
    assert.ok(container || pid > 0, `broker pid from ${KAFKA_PID_FILE}`);
    const freeze = (on: boolean) => {
      if (container) execFileSync('docker', [on ? 'pause' : 'unpause', container]);
      else process.kill(pid, on ? 'SIGSTOP' : 'SIGCONT');
    };
    freeze(true);
    try {
      const t0 = Date.now();
      const res = await fetch(`${api.url}/api/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await bearer(`frozen-${run}`)) },
        body: JSON.stringify({ type: 'click' }),
      });
      const elapsed = Date.now() - t0;
      assert.equal(res.status, 503);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.ok(elapsed < 2500, `answered in ${elapsed} ms`);
      const ready = await fetch(`${api.url}/readyz`);
      assert.equal(ready.status, 503);
    } finally {
      freeze(false);
    }
    await eventually(
      async () => (await post('/api/v1/events', `thawed-${run}`, { type: 'click' })).status,
      (status) => status === 202,
      30_000,
      'events accepted again after the broker resumed',
    );
  });
});
