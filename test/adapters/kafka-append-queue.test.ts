import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AppendQueue } from '../../src/adapters/event-log/kafka-append-queue.ts';
import { UnavailableError } from '../../src/domain/errors.ts';

/**
 * AppendQueue is the producer's scheduling, independent of Kafka: `send` here stands for one
 * produce request whose answer the test controls (the real one runs in the engine suites and
 * in test/chaos).
 */
interface Sent {
  stream: string;
  partition: number;
  records: string[];
  at: number;
  answer: (err?: Error) => void;
}

function harness(options: { deadlineMs?: number; stallMs?: number; auto?: number } = {}) {
  const sent: Sent[] = [];
  const stalls: number[] = [];
  const queue = new AppendQueue<string>({
    deadlineMs: options.deadlineMs ?? 200,
    stallMs: options.stallMs ?? 60_000,
    onStall: (_stream, partition) => stalls.push(partition),
    send: (stream, partition, records) =>
      new Promise<void>((resolve, reject) => {
        const answer = (err?: Error) => (err ? reject(err) : resolve());
        sent.push({ stream, partition, records, at: Date.now(), answer });
        if (options.auto !== undefined) setTimeout(answer, options.auto);
      }),
  });
  return { queue, sent, stalls };
}

async function until(done: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('condition not met');
    await sleep(2);
  }
}

describe('AppendQueue (the Kafka producer’s per-partition scheduling)', () => {
  it('sends the appends of one event-loop turn to a partition in one request, in order', async () => {
    const { queue, sent } = harness();
    const done = [queue.enqueue('s', 0, ['a']), queue.enqueue('s', 0, ['b', 'c']), queue.enqueue('s', 1, ['x'])];
    await until(() => sent.length === 2);
    assert.deepEqual(
      sent.map((s) => [s.partition, s.records]),
      [
        [0, ['a', 'b', 'c']],
        [1, ['x']],
      ],
    );
    for (const s of sent) s.answer();
    await Promise.all(done);
    await queue.drain();
  });

  it('keeps one request in flight per partition and coalesces what arrives meanwhile into the next', async () => {
    const { queue, sent } = harness({ deadlineMs: 1000 });
    const first = queue.enqueue('s', 0, ['1']);
    await until(() => sent.length === 1);
    const later = [queue.enqueue('s', 0, ['2']), queue.enqueue('s', 0, ['3'])];
    await sleep(20);
    assert.equal(sent.length, 1, 'no second request while the first is unanswered');
    sent[0]?.answer();
    await first;
    await until(() => sent.length === 2);
    assert.deepEqual(sent[1]?.records, ['2', '3']);
    sent[1]?.answer();
    await Promise.all(later);
    await queue.drain();
  });

  it('fails an append still waiting at its deadline with UnavailableError and never sends it', async () => {
    const { queue, sent } = harness({ deadlineMs: 100 });
    const first = queue.enqueue('s', 0, ['stuck']);
    await until(() => sent.length === 1);
    const firstFails = assert.rejects(first, UnavailableError);
    const waiting = queue.enqueue('s', 0, ['never']);
    await assert.rejects(waiting, (err: unknown) => err instanceof UnavailableError && /not sent/.test(err.message));
    await firstFails;
    sent[0]?.answer();
    await sleep(20);
    assert.deepEqual(
      sent.flatMap((s) => s.records),
      ['stuck'],
      'the timed-out append was dropped, not written later',
    );
    await queue.drain();
  });

  it('answers an append in flight by its deadline even when the broker answers later', async () => {
    const { queue, sent } = harness({ deadlineMs: 80 });
    const started = Date.now();
    const append = queue.enqueue('s', 0, ['slow']);
    await assert.rejects(append, UnavailableError);
    const took = Date.now() - started;
    assert.ok(took >= 70 && took < 1000, `answered after ${took} ms`);
    sent[0]?.answer();
    await queue.drain();
  });

  it('refuses unsent, once its lane is free, an append with less time left than the lane’s requests take', async () => {
    const { queue, sent } = harness({ deadlineMs: 300 });
    const slow = queue.enqueue('s', 0, ['slow']);
    await until(() => sent.length === 1);
    const late = queue.enqueue('s', 0, ['late']);
    await sleep(220);
    sent[0]?.answer(); // took ~220 ms; `late` has ~80 ms left, less than min(220, 150)
    await slow;
    await assert.rejects(late, (err: unknown) => err instanceof UnavailableError && /not sent/.test(err.message));
    const fresh = queue.enqueue('s', 0, ['fresh']);
    await until(() => sent.length === 2);
    assert.deepEqual(sent[1]?.records, ['fresh'], 'the refused append was never written');
    sent[1]?.answer();
    await fresh;
    await queue.drain();
  });

  it('rejects the appends of a failed request with its error', async () => {
    const { queue, sent } = harness();
    const append = queue.enqueue('s', 2, ['x']);
    await until(() => sent.length === 1);
    sent[0]?.answer(new UnavailableError('broker gone'));
    await assert.rejects(append, /broker gone/);
    await queue.drain();
  });

  it('frees a partition whose request stays unanswered past stallMs, reports the stall and sends on', async () => {
    const { queue, sent, stalls } = harness({ deadlineMs: 5000, stallMs: 150 });
    void queue.enqueue('s', 3, ['lost']).catch(() => undefined);
    await until(() => sent.length === 1);
    const next = queue.enqueue('s', 3, ['next']);
    await until(() => sent.length === 2, 3000);
    assert.deepEqual(stalls, [3]);
    assert.deepEqual(sent[1]?.records, ['next']);
    sent[1]?.answer();
    await next;
    sent[0]?.answer();
    await queue.drain();
  });

  it('answers every append by its deadline, sends each at most once, in order per partition, whatever the request latencies (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ partition: fc.integer({ min: 0, max: 2 }), gapMs: fc.integer({ min: 0, max: 15 }), latencyMs: fc.integer({ min: 0, max: 80 }) }), { minLength: 1, maxLength: 25 }),
        async (plan) => {
          const deadlineMs = 60;
          // The deadline is a timer: on a loaded machine it fires as late as the event loop runs late.
          const loopDelay = monitorEventLoopDelay({ resolution: 5 });
          loopDelay.enable();
          const latencies = plan.map((p) => p.latencyMs);
          const sent: { partition: number; records: number[] }[] = [];
          const queue = new AppendQueue<number>({
            deadlineMs,
            stallMs: 60_000,
            onStall: () => assert.fail('no stall expected'),
            send: (_s, partition, records) => {
              sent.push({ partition, records });
              return sleep(latencies[sent.length - 1] ?? 0);
            },
          });
          const outcomes = plan.map(async (step, i) => {
            await sleep(plan.slice(0, i).reduce((t, p) => t + p.gapMs, 0));
            const started = Date.now();
            const ok = await queue.enqueue('s', step.partition, [i]).then(
              () => true,
              () => false,
            );
            return { i, ok, took: Date.now() - started };
          });
          const results = await Promise.all(outcomes);
          await queue.drain();
          loopDelay.disable();
          const lateMs = loopDelay.max / 1e6;
          for (const r of results) assert.ok(r.took < deadlineMs + 50 + lateMs, `append ${r.i} answered after ${r.took} ms (event loop up to ${lateMs.toFixed(0)} ms late)`);
          const written = sent.flatMap((s) => s.records);
          assert.equal(new Set(written).size, written.length, 'a record was sent twice');
          for (const r of results) if (r.ok) assert.ok(written.includes(r.i), `acknowledged append ${r.i} was never sent`);
          for (const partition of [0, 1, 2]) {
            const order = sent.filter((s) => s.partition === partition).flatMap((s) => s.records);
            assert.deepEqual(order, [...order].sort((a, b) => a - b), `partition ${partition} out of order`);
          }
        },
      ),
      { numRuns: 30, seed: 8 },
    );
  });
});
