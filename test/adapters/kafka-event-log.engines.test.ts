import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pino from 'pino';
import { KafkaEventLog, type KafkaEventLogOptions } from '../../src/adapters/event-log/kafka-event-log.ts';
import { partitionForKey } from '../../src/adapters/event-log/partitioner.ts';
import { UnavailableError } from '../../src/domain/errors.ts';
import { eventLogContract } from '../contracts/event-log.contract.ts';
import { engineConfig, unreachable } from '../helpers/engines.ts';

const kafka = engineConfig.eventLog.kafka;

function makeLog(overrides: Partial<KafkaEventLogOptions> = {}): KafkaEventLog {
  return new KafkaEventLog({
    ...kafka,
    timeoutMs: 5000,
    defaultPartitions: 4,
    maxPendingRecords: 100_000,
    logger: pino({ level: 'silent' }),
    ...overrides,
  });
}

async function started(overrides: Partial<KafkaEventLogOptions> = {}): Promise<KafkaEventLog> {
  const log = makeLog(overrides);
  try {
    await log.start();
  } catch (err) {
    await log.close();
    throw unreachable('Kafka', kafka.brokers.join(','), err);
  }
  return log;
}

eventLogContract('kafka', async () => {
  const log = await started();
  return { log, cleanup: () => log.close() };
});

describe('KafkaEventLog against a real broker', () => {
  it('places records in the partition Kafka’s own partitioner picks', async () => {
    const log = await started();
    const stream = `p-${randomUUID()}`;
    try {
      await log.createStream(stream, { partitions: 4 });
      const keys = ['user_1', 'user_2', 'user_3', 'пользователь', 'user_5'];
      await Promise.all(keys.map((key) => log.append(stream, [{ key, value: Buffer.from(key) }])));
      const consumer = log.consumer({ group: `g-${randomUUID()}`, stream });
      const got = [];
      const deadline = Date.now() + 15_000;
      while (got.length < keys.length && Date.now() < deadline) got.push(...(await consumer.poll({ maxRecords: 100, maxWaitMs: 200 })));
      await consumer.close();
      for (const r of got) assert.equal(r.partition, partitionForKey(r.key, 4), r.key);
      assert.equal(got.length, keys.length);
    } finally {
      await log.deleteStream(stream).catch(() => undefined);
      await log.close();
    }
  });

  it('reports the replication factor and accepts topic configs', async () => {
    const log = await started();
    const stream = `c-${randomUUID()}`;
    try {
      await log.createStream(stream, { partitions: 2, replicationFactor: 1, config: { 'retention.ms': '3600000' } });
      const info = (await log.listStreams()).find((s) => s.name === stream);
      assert.deepEqual(info, { name: stream, partitions: 2, replicationFactor: 1 });
      await assert.rejects(log.createStream(`bad-${randomUUID()}`, { config: { 'retention.ms': 'forever' } }), { name: 'ValidationError' });
    } finally {
      await log.deleteStream(stream).catch(() => undefined);
      await log.close();
    }
  });

  it('does not list a stream once deleteStream has returned, nor miss one createStream made, while it lists all along', async () => {
    const log = await started();
    const names = Array.from({ length: 10 }, () => `cd-${randomUUID()}`);
    // The client shares one in-flight metadata request among concurrent callers: a listing that
    // joins one sent before the delete completed would still show the topic.
    let listing = true;
    const background = (async () => {
      while (listing) await log.listStreams();
    })();
    try {
      await Promise.all(
        names.map(async (name) => {
          await log.createStream(name, { partitions: 2 });
          assert.ok((await log.listStreams()).some((s) => s.name === name), `${name} listed after creation`);
          await log.deleteStream(name);
          assert.ok(!(await log.listStreams()).some((s) => s.name === name), `${name} not listed after deletion`);
        }),
      );
    } finally {
      listing = false;
      await background;
      await Promise.all(names.map((name) => log.deleteStream(name).catch(() => undefined)));
      await log.close();
    }
  });

  it('lists streams while another client deletes topics, leaving out only the deleted ones', async () => {
    const [log, other] = [await started(), await started()];
    const kept = `keep-${randomUUID()}`;
    const doomed = Array.from({ length: 12 }, () => `gone-${randomUUID()}`);
    try {
      await log.createStream(kept, { partitions: 1 });
      for (const name of doomed) await other.createStream(name, { partitions: 1 });
      // List without pause while the other client deletes: some listings fall between a topic
      // being listed and being described.
      let deleting = true;
      const listings: string[][] = [];
      const lister = Promise.all(
        [1, 2, 3].map(async () => {
          while (deleting) listings.push((await log.listStreams()).map((s) => s.name));
        }),
      );
      try {
        for (const name of doomed) await other.deleteStream(name);
      } finally {
        deleting = false;
        await lister;
      }
      assert.ok(listings.length >= 3);
      for (const names of listings) assert.ok(names.includes(kept), 'a topic that exists is always listed');
      const after = (await log.listStreams()).map((s) => s.name);
      assert.deepEqual(doomed.filter((name) => after.includes(name)), []);
    } finally {
      await log.deleteStream(kept).catch(() => undefined);
      await Promise.all([log.close(), other.close()]);
    }
  });

  it('refuses appends at once when its queue is full', async () => {
    const log = await started({ maxPendingRecords: 10 });
    const stream = `q-${randomUUID()}`;
    try {
      await log.createStream(stream, { partitions: 1 });
      const big = Array.from({ length: 11 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) }));
      await assert.rejects(log.append(stream, big), UnavailableError);
    } finally {
      await log.deleteStream(stream).catch(() => undefined);
      await log.close();
    }
  });

  it('reports consumer health: ready while it holds a partition, not ready while it holds none, ready again once it takes over', async () => {
    const log = await started();
    const stream = `h-${randomUUID()}`;
    const group = `g-${randomUUID()}`;
    try {
      await log.createStream(stream, { partitions: 1 });
      const a = log.consumer({ group, stream });
      assert.deepEqual(a.health?.(), { ready: false, reason: 'joining the group' });
      const pollUntil = async (consumers: typeof a[], done: () => boolean) => {
        const deadline = Date.now() + 30_000;
        while (!done()) {
          assert.ok(Date.now() < deadline, 'timed out');
          await Promise.all(consumers.map((c) => c.poll({ maxRecords: 10, maxWaitMs: 100 })));
        }
      };
      await pollUntil([a], () => a.health?.().ready === true);
      const b = log.consumer({ group, stream });
      // One partition, two members: one of them holds nothing and says so.
      await pollUntil([a, b], () => [a, b].some((c) => c.health?.().reason === 'holds no partitions'));
      const [holder, idle] = a.health?.().ready ? [a, b] : [b, a];
      assert.equal(holder.health?.().ready, true);
      await holder.close();
      assert.deepEqual(holder.health?.(), { ready: false, reason: 'consumer closed' });
      await pollUntil([idle], () => idle.health?.().ready === true);
      await idle.close();
    } finally {
      await log.deleteStream(stream).catch(() => undefined);
      await log.close();
    }
  });

  it('keeps polling without throwing while the cluster is unreachable, and says why it is not ready', async () => {
    const down = makeLog({ brokers: ['127.0.0.1:1'], timeoutMs: 1000 });
    const consumer = down.consumer({ group: `g-${randomUUID()}`, stream: 'ugc.events' });
    const t0 = Date.now();
    assert.deepEqual(await consumer.poll({ maxRecords: 10, maxWaitMs: 200 }), []);
    assert.deepEqual(await consumer.poll({ maxRecords: 10, maxWaitMs: 200 }), []);
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    const health = consumer.health?.();
    assert.equal(health?.ready, false);
    assert.match(health?.reason ?? '', /re-joining the group after/);
    await consumer.close();
    await down.close();
  });

  it('answers within about a second when the cluster is unreachable: start, ping and append fail with UnavailableError', async () => {
    const down = makeLog({ brokers: ['127.0.0.1:1'], timeoutMs: 1000 });
    const t0 = Date.now();
    await assert.rejects(down.ping(), UnavailableError);
    await assert.rejects(down.append('ugc.events', [{ key: 'u', value: Buffer.from('x') }]), UnavailableError);
    assert.ok(Date.now() - t0 < 3500, `took ${Date.now() - t0} ms`);
    await down.close();
  });
});
