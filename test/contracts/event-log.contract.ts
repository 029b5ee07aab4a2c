import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConflictError, NotFoundError } from '../../src/domain/errors.ts';
import type { EventLog, EventLogConsumer, LogRecord, LogRecordInput } from '../../src/ports/event-log.ts';

/**
 * Behaviour every EventLog adapter must share. Written for a real broker too: random names per
 * test, nothing assumed about offsets except that a fresh stream starts at 0, and reads loop
 * until a deadline instead of trusting one poll (a Kafka consumer may need a rebalance first).
 * A consumer counts as positioned once its first poll has returned.
 */
export function eventLogContract(
  name: string,
  makeLog: () => Promise<{ log: EventLog; cleanup: () => Promise<void> }>,
): void {
  void describe(`EventLog contract: ${name}`, () => {
    let log: EventLog;
    let cleanup: () => Promise<void>;
    const deadlineMs = 15_000;

    before(async () => {
      ({ log, cleanup } = await makeLog());
    });
    after(async () => {
      await cleanup();
    });

    const unique = (prefix: string): string => `${prefix}-${randomUUID()}`;
    const input = (key: string, value: string, headers?: Record<string, string>): LogRecordInput =>
      (headers ? { key, value: Buffer.from(value), headers } : { key, value: Buffer.from(value) });

    /** A stream that exists for the duration of one test. */
    async function withStream(partitions: number, fn: (stream: string) => Promise<void>): Promise<void> {
      const stream = unique('t');
      await log.createStream(stream, { partitions });
      try {
        await fn(stream);
      } finally {
        await log.deleteStream(stream);
      }
    }

    /** Polls until `count` records arrived or the deadline passed; returns everything received. */
    async function readAtLeast(consumer: EventLogConsumer, count: number): Promise<LogRecord[]> {
      const got: LogRecord[] = [];
      const deadline = Date.now() + deadlineMs;
      while (got.length < count && Date.now() < deadline) {
        got.push(...(await consumer.poll({ maxRecords: 500, maxWaitMs: 200 })));
      }
      return got;
    }

    /** Reads `count` records, then checks nothing more arrives in a short while. */
    async function readExactly(consumer: EventLogConsumer, count: number): Promise<LogRecord[]> {
      const got = await readAtLeast(consumer, count);
      got.push(...(await consumer.poll({ maxRecords: 500, maxWaitMs: 300 })));
      assert.equal(got.length, count, `expected exactly ${count} records, got ${got.length}`);
      return got;
    }

    const values = (records: LogRecord[]): string[] => records.map((r) => r.value.toString());
    const sorted = (xs: string[]): string[] => [...xs].sort();

    void it('creates, lists and deletes streams', async () => {
      const [a, b] = [unique('t-a'), unique('t-b')];
      await log.createStream(b, { partitions: 3 });
      await log.createStream(a, { partitions: 1 });
      await log.ensureStream(a, { partitions: 1 });
      const listed = (await log.listStreams()).filter((s) => s.name === a || s.name === b);
      assert.deepEqual(listed.map((s) => s.name), [a, b], 'listed once each, sorted by name');
      assert.equal(listed[1]?.partitions, 3);
      assert.ok((listed[0]?.replicationFactor ?? 0) >= 1);
      await log.deleteStream(a);
      await log.deleteStream(b);
      const names = (await log.listStreams()).map((s) => s.name);
      assert.ok(!names.includes(a) && !names.includes(b));
    });

    void it('rejects a duplicate stream with ConflictError and unknown streams with NotFoundError', async () => {
      await withStream(1, async (stream) => {
        await assert.rejects(log.createStream(stream, { partitions: 1 }), ConflictError);
      });
      const missing = unique('missing');
      await assert.rejects(log.deleteStream(missing), NotFoundError);
      await assert.rejects(log.append(missing, [input('k', 'v')]), NotFoundError);
      const consumer = log.consumer({ group: unique('g'), stream: missing });
      await assert.rejects(consumer.poll({ maxRecords: 1, maxWaitMs: 10 }), NotFoundError);
      await consumer.close();
    });

    void it('fails only the append to an unknown stream among concurrent appends', async () => {
      await withStream(1, async (stream) => {
        const results = await Promise.allSettled([
          log.append(stream, [input('k', 'a')]),
          log.append(unique('missing'), [input('k', 'x')]),
          log.append(stream, [input('k', 'b')]),
        ]);
        assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
        assert.ok(results[1]?.status === 'rejected' && results[1].reason instanceof NotFoundError);
        const consumer = log.consumer({ group: unique('g'), stream });
        assert.deepEqual(sorted(values(await readExactly(consumer, 2))), ['a', 'b']);
        await consumer.close();
      });
    });

    void it('delivers every appended record exactly once with key, value and headers intact', async () => {
      await withStream(1, async (stream) => {
        const binary = Buffer.from([0, 255, 128, 10, 13]);
        await log.append(stream, [
          input('user-1', 'first', { 'content-type': 'application/json', trace: 'abc' }),
          { key: 'user-2', value: binary },
          input('user-1', 'third'),
        ]);
        const consumer = log.consumer({ group: unique('g'), stream });
        const got = await readExactly(consumer, 3);
        assert.deepEqual(got.map((r) => r.offset), [0, 1, 2], 'a fresh stream starts at offset 0');
        assert.deepEqual(got.map((r) => [r.stream, r.key]), [[stream, 'user-1'], [stream, 'user-2'], [stream, 'user-1']]);
        assert.deepEqual(got[0]?.headers, { 'content-type': 'application/json', trace: 'abc' });
        assert.deepEqual(got[1]?.headers, {});
        assert.ok(Buffer.isBuffer(got[1]?.value) && got[1].value.equals(binary));
        assert.ok(got.every((r) => Math.abs(r.timestamp - Date.now()) < 60_000));
        await consumer.close();
      });
    });

    void it('keeps the records of one key in one partition, in append order', async () => {
      await withStream(4, async (stream) => {
        for (let batch = 0; batch < 5; batch++) {
          await log.append(stream, [0, 1, 2].map((i) => input(`key-${i}`, `${i}:${batch}`)));
        }
        const consumer = log.consumer({ group: unique('g'), stream });
        const got = await readExactly(consumer, 15);
        for (const key of ['key-0', 'key-1', 'key-2']) {
          const mine = got.filter((r) => r.key === key);
          assert.equal(new Set(mine.map((r) => r.partition)).size, 1, `${key} spans partitions`);
          assert.deepEqual(mine.map((r) => r.value.toString().split(':')[1]), ['0', '1', '2', '3', '4']);
        }
        await consumer.close();
      });
    });

    void it('resumes a group after its committed records and re-delivers uncommitted ones', async () => {
      await withStream(1, async (stream) => {
        const group = unique('g');
        await log.append(stream, Array.from({ length: 10 }, (_, i) => input('k', String(i))));
        const first = log.consumer({ group, stream });
        const got = await readExactly(first, 10);
        await first.commit(got.slice(0, 6));
        await first.close();

        const second = log.consumer({ group, stream });
        assert.deepEqual(values(await readExactly(second, 4)), ['6', '7', '8', '9']);
        await second.close();

        const other = log.consumer({ group: unique('g'), stream });
        assert.equal((await readExactly(other, 10)).length, 10, 'another group reads from the start');
        await other.close();
      });
    });

    void it('delivers to a new member only what was appended after a full commit', async () => {
      await withStream(2, async (stream) => {
        const group = unique('g');
        await log.append(stream, ['a', 'b', 'c'].map((v) => input(v, v)));
        const first = log.consumer({ group, stream });
        await first.commit(await readExactly(first, 3));
        await first.close();
        await log.append(stream, ['d', 'e'].map((v) => input(v, v)));
        const second = log.consumer({ group, stream });
        assert.deepEqual(sorted(values(await readExactly(second, 2))), ['d', 'e']);
        await second.close();
      });
    });

    void it("skips existing records when a group starts from 'latest'", async () => {
      await withStream(2, async (stream) => {
        await log.append(stream, ['old-1', 'old-2'].map((v) => input(v, v)));
        const consumer = log.consumer({ group: unique('g'), stream, from: 'latest' });
        assert.deepEqual(await consumer.poll({ maxRecords: 10, maxWaitMs: 300 }), []);
        await log.append(stream, ['new-1', 'new-2'].map((v) => input(v, v)));
        assert.deepEqual(sorted(values(await readExactly(consumer, 2))), ['new-1', 'new-2']);
        await consumer.close();
      });
    });

    void it('reports lag that falls as records are committed', async () => {
      await withStream(1, async (stream) => {
        await log.append(stream, Array.from({ length: 8 }, (_, i) => input('k', String(i))));
        const consumer = log.consumer({ group: unique('g'), stream });
        const got = await readExactly(consumer, 8);
        assert.equal(await consumer.lag(), 8);
        await consumer.commit(got.slice(0, 5));
        assert.equal(await consumer.lag(), 3);
        await consumer.commit(got);
        assert.equal(await consumer.lag(), 0);
        await consumer.close();
      });
    });

    void it('keeps every record of many concurrent appends', async () => {
      await withStream(3, async (stream) => {
        await Promise.all(Array.from({ length: 50 }, (_, a) =>
          log.append(stream, Array.from({ length: 20 }, (_, i) => input(`user-${a % 7}`, `${a}/${i}`)))));
        const consumer = log.consumer({ group: unique('g'), stream });
        const got = await readExactly(consumer, 1000);
        assert.equal(new Set(values(got)).size, 1000, 'no record lost or duplicated');
        const offsets = got.map((r) => `${r.partition}/${r.offset}`);
        assert.equal(new Set(offsets).size, 1000, 'no offset handed out twice');
        await consumer.close();
      });
    });

    void it('returns [] after about maxWaitMs when nothing arrives', async () => {
      await withStream(1, async (stream) => {
        await log.append(stream, [input('k', 'warm-up')]);
        const consumer = log.consumer({ group: unique('g'), stream });
        await readExactly(consumer, 1);
        const started = performance.now();
        assert.deepEqual(await consumer.poll({ maxRecords: 10, maxWaitMs: 250 }), []);
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 200 && elapsed < 2_000, `waited ${elapsed} ms`);
        await consumer.close();
      });
    });

    void it('wakes a waiting poll promptly when a record is appended', async () => {
      await withStream(1, async (stream) => {
        await log.append(stream, [input('k', 'warm-up')]);
        const consumer = log.consumer({ group: unique('g'), stream });
        await readExactly(consumer, 1);
        const started = performance.now();
        const waiting = consumer.poll({ maxRecords: 10, maxWaitMs: 10_000 });
        await log.append(stream, [input('k', 'wake')]);
        assert.deepEqual(values(await waiting), ['wake']);
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 1_000, `woke after ${elapsed} ms`);
        await consumer.close();
      });
    });

    void it('outlives its stream being deleted and reads the re-created stream from its start, its old commits ignored', async () => {
      // Issue #7: the ETL must never die because its stream vanished; it waits and resumes.
      const stream = unique('t');
      await log.createStream(stream, { partitions: 1 });
      const consumer = log.consumer({ group: unique('g'), stream });
      try {
        await log.append(stream, ['a', 'b', 'c'].map((v) => input('k', v)));
        const old = await readExactly(consumer, 3);
        await log.deleteStream(stream);
        // While it is gone a poll ends with [] or NotFoundError, nothing else, and the consumer stays usable.
        for (let i = 0; i < 3; i++) {
          await consumer.poll({ maxRecords: 10, maxWaitMs: 100 }).catch((err: unknown) => {
            assert.ok(err instanceof NotFoundError, `a poll of a deleted stream failed with ${String(err)}`);
            return [];
          });
        }
        await log.createStream(stream, { partitions: 1 });
        await log.append(stream, [input('k', 'new-0')]);
        // Offsets of the old stream's records (up to 3) must not skip the new stream's first records.
        await consumer.commit(old).catch(() => undefined);
        const got: LogRecord[] = [];
        const deadline = Date.now() + deadlineMs;
        while (got.length < 1 && Date.now() < deadline) {
          got.push(...(await consumer.poll({ maxRecords: 10, maxWaitMs: 200 }).catch((err: unknown) => {
            assert.ok(err instanceof NotFoundError, String(err));
            return [];
          })));
        }
        assert.deepEqual(values(got), ['new-0']);
        await log.append(stream, [input('k', 'new-1')]);
        assert.deepEqual(values(await readExactly(consumer, 1)), ['new-1']);
      } finally {
        await consumer.close();
        await log.deleteStream(stream).catch(() => undefined);
      }
    });

    void it('returns [] from a waiting poll when its signal aborts', async () => {
      await withStream(1, async (stream) => {
        const consumer = log.consumer({ group: unique('g'), stream });
        const controller = new AbortController();
        const started = performance.now();
        const waiting = consumer.poll({ maxRecords: 10, maxWaitMs: 10_000, signal: controller.signal });
        setTimeout(() => controller.abort(), 50);
        assert.deepEqual(await waiting, []);
        assert.ok(performance.now() - started < 5_000);
        await consumer.close();
      });
    });
  });
}
