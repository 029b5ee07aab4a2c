import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { BackendError } from '../../src/domain/errors.ts';
import type { EventMessage } from '../../src/domain/events.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import type { LogRecordInput } from '../../src/ports/event-log.ts';
import { corruptingWarehouse, flakyWarehouse, tappedLog } from '../helpers/faults.ts';
import { ALL, LIMIT, byType, etlHarness, metricValue, waitFor } from '../helpers/etl-harness.ts';

/**
 * The ETL against the real embedded engines (SQLite event log, chDB warehouse); faults come from
 * wrappers around them (see etl-harness.ts).
 */
async function batchSizes(metrics: Metrics): Promise<{ count: number; sum: number; atMost: (le: number) => number }> {
  const { values } = await metrics.etlBatchSize.get();
  const named = (suffix: string): number => values.find((v) => v.metricName === `ugc_etl_batch_size_${suffix}`)?.value ?? 0;
  const atMost = (le: number): number => values.find((v) => v.metricName === 'ugc_etl_batch_size_bucket' && v.labels.le === le)?.value ?? 0;
  return { count: named('count'), sum: named('sum'), atMost };
}

void describe('Etl', () => {
  const h = etlHarness();
  const { setup, run, produce, produceMany, lag, readAll, eventsIn } = h;

  void it('loads appended events into the warehouse and commits their offsets', LIMIT, async () => {
    const { options, warehouse } = await setup();
    const { etl, exit, metrics } = run({ warehouse }, options);
    const messages = await produceMany(options.topic, 30);
    await waitFor('30 events in the warehouse', () => eventsIn(warehouse), (n) => n === 30);
    await waitFor('lag 0', () => lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 30, users: 5, by_type: byType(messages) });
    const row = (e: { event_id: string; user_id: string; type: string; occurred_at: string }): string => [e.event_id, e.user_id, e.type, e.occurred_at].join(' ');
    const stored = await warehouse.userEvents('user-3', ALL, 100);
    assert.deepEqual(stored.map(row).sort(), messages.filter((m) => m.user_id === 'user-3').map(row).sort());
    assert.equal(await metricValue(metrics.etlRowsLoaded), 30);
    await etl.stop(1_000);
    assert.equal(await exit, undefined);
  });

  void it('flushes a batch as soon as it holds batchSize records', LIMIT, async () => {
    // A timer of a minute: whatever loads within the deadline was flushed by size.
    const { options, warehouse } = await setup({ batchSize: 100, batchMaxWaitMs: 60_000 });
    const tapped = tappedLog(h.log);
    const { etl, exit, metrics } = run({ log: tapped, warehouse }, options);
    await produceMany(options.topic, 250);
    await waitFor('two full batches', () => batchSizes(metrics), (h) => h.count === 2);
    assert.equal(await eventsIn(warehouse), 200);
    assert.equal(await lag(options), 50, 'the partial batch waits for its timer, uncommitted');
    await waitFor('the rest polled', () => tapped.tap.polled, (n) => n === 250);
    const started = Date.now();
    await etl.stop(10_000);
    assert.ok(Date.now() - started < 5_000, 'stop flushed the partial batch instead of waiting for its timer');
    assert.equal(await eventsIn(warehouse), 250);
    assert.equal(await lag(options), 0);
    const sizes = await batchSizes(metrics);
    assert.deepEqual([sizes.count, sizes.sum, sizes.atMost(100), sizes.atMost(50)], [3, 250, 3, 1], 'batches of 100, 100 and 50');
    assert.equal(await exit, undefined);
  });

  void it('flushes a partial batch batchMaxWaitMs after its first record', LIMIT, async () => {
    const { options, warehouse } = await setup({ batchSize: 100_000, batchMaxWaitMs: 200 });
    const { metrics } = run({ warehouse }, options);
    const appended = performance.now();
    await produceMany(options.topic, 3);
    await waitFor('3 events in the warehouse', () => eventsIn(warehouse), (n) => n === 3);
    assert.ok(performance.now() - appended >= 190, 'not before the timer');
    await waitFor('lag 0', () => lag(options), (n) => n === 0);
    const sizes = await batchSizes(metrics);
    assert.deepEqual([sizes.count, sizes.sum], [1, 3]);
  });

  void it('retries retriable insert failures and loads every record once, committing after the insert', LIMIT, async () => {
    const { options, warehouse } = await setup();
    const messages = await produceMany(options.topic, 40); // appended first: one batch
    const flaky = flakyWarehouse(warehouse, { failFirst: 3 });
    const { metrics } = run({ warehouse: flaky }, options);
    await waitFor('lag 0', () => lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 40, users: 5, by_type: byType(messages) });
    assert.deepEqual([flaky.attempts, flaky.delivered], [4, 1], 'three failures, then the one insert that reached the warehouse');
    assert.equal(await metricValue(metrics.etlInsertFailures, { retriable: 'true' }), 3);
    assert.equal(await metricValue(metrics.etlInsertFailures, { retriable: 'false' }), 0);
    assert.equal(await metricValue(metrics.etlRowsLoaded), 40);
  });

  void it('commits nothing while the warehouse keeps failing; a restarted Etl then loads everything', LIMIT, async () => {
    const { options, warehouse } = await setup();
    const messages = await produceMany(options.topic, 25);
    const down = flakyWarehouse(warehouse, { failFirst: Number.POSITIVE_INFINITY });
    const first = run({ warehouse: down }, options);
    await waitFor('three failed inserts', () => down.attempts, (n) => n >= 3);
    assert.equal(await lag(options), 25);
    const started = Date.now();
    await first.etl.stop(50); // abandons the batch in hand
    assert.ok(Date.now() - started < 2_000, 'stop gave up the batch instead of retrying on');
    assert.equal(await first.exit, undefined);
    assert.equal(await lag(options), 25);
    assert.equal(await eventsIn(warehouse), 0);

    const second = run({ warehouse }, options);
    await waitFor('lag 0', () => lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 25, users: 5, by_type: byType(messages) });
    assert.equal(await metricValue(second.metrics.etlRowsLoaded), 25);
  });

  void it('changes no count when a crash between insert and commit replays the batch', LIMIT, async () => {
    const { options, warehouse } = await setup();
    const messages = await produceMany(options.topic, 20);
    messages.push(...(await produce(options.topic, 'user-0', [
      { type: 'view', film_id: randomUUID(), started_at: '2026-01-01T00:00:00Z', ended_at: '2026-01-01T00:01:00.5Z' },
    ])));
    const crash = new BackendError('injected: commit lost', { retriable: false });
    const crashing = run({ log: tappedLog(h.log, { commitError: crash }), warehouse }, options);
    assert.equal(await crashing.exit, crash, 'the loop died on the commit');
    await crashing.etl.stop(1_000);
    assert.equal(await lag(options), 21, 'inserted but not committed');
    const snapshot = async (): Promise<unknown> => [
      await warehouse.summary(ALL),
      await warehouse.topFilms(ALL, 'watch_seconds', 10),
      await Promise.all(['user-0', 'user-1'].map((u) => warehouse.userEvents(u, ALL, 100))),
    ];
    const before = await snapshot();
    assert.equal((before as [{ events: number }])[0].events, 21);

    const replay = run({ warehouse }, options);
    await waitFor('lag 0', () => lag(options), (n) => n === 0);
    assert.equal(await metricValue(replay.metrics.etlRowsLoaded), 21, 'the batch was loaded again');
    assert.deepEqual(await snapshot(), before);
    assert.deepEqual((await warehouse.summary(ALL)).by_type, byType(messages));
  });

  void it('changes no count when another consumer group replays the whole stream into the same warehouse', LIMIT, async () => {
    const { options, warehouse } = await setup({ batchSize: 40 });
    await produceMany(options.topic, 100);
    const first = run({ warehouse }, options);
    await waitFor('lag 0', () => lag(options), (n) => n === 0);
    await first.etl.stop(1_000);
    const before = await warehouse.summary(ALL);
    assert.equal(before.events, 100);

    const rewound = { ...options, group: `${options.group}-rewound` };
    const second = run({ warehouse }, rewound);
    await waitFor('lag 0 for the new group', () => lag(rewound), (n) => n === 0);
    assert.equal(await metricValue(second.metrics.etlRowsLoaded), 100);
    assert.deepEqual(await warehouse.summary(ALL), before);
  });

  void it('dead-letters poison records with their source position and loads the good ones', LIMIT, async () => {
    const { options, warehouse } = await setup();
    const good = await produceMany(options.topic, 10);
    const [template] = await produce(options.topic, 'user-9', [{ type: 'click' }]);
    assert.ok(template);
    const poison: (LogRecordInput & { reason: RegExp })[] = [
      { key: 'user-1', value: Buffer.from('not json {'), headers: { 'x-trace': 'abc' }, reason: /^value is not JSON$/ },
      { key: 'user-2', value: Buffer.from(JSON.stringify({ hello: 'world' })), reason: /^not an event message: / },
      { key: 'user-3', value: Buffer.from(JSON.stringify({ ...template, event_id: randomUUID(), v: 2 })), reason: /^not an event message: \/v / },
      {
        key: 'user-4', value: Buffer.from(JSON.stringify({ ...template, event_id: randomUUID(), occurred_at: '1969-07-20T20:17:40Z' })),
        reason: /^time out of range: 1969-07-20T20:17:40Z$/,
      },
    ];
    await h.log.append(options.topic, poison.map(({ key, value, headers }) => (headers ? { key, value, headers } : { key, value })));
    const more = await produceMany(options.topic, 5);
    const { metrics } = run({ warehouse }, options);

    await waitFor('lag 0', () => lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 16, users: 5 + 1, by_type: byType([...good, template, ...more]) });
    const source = await readAll(options.topic, 20);
    const dead = await readAll(options.dlqTopic, poison.length);
    for (const p of poison) {
      const from = source.find((r) => r.value.equals(p.value));
      const letter = dead.find((r) => r.value.equals(p.value));
      assert.ok(from && letter, `${p.value.toString()} in both streams`);
      assert.equal(letter.key, p.key);
      assert.match(letter.headers['dlq.reason'] ?? '', p.reason);
      assert.equal(letter.headers['dlq.source.stream'], options.topic);
      assert.equal(letter.headers['dlq.source.partition'], String(from.partition));
      assert.equal(letter.headers['dlq.source.offset'], String(from.offset));
      assert.ok(!Number.isNaN(Date.parse(letter.headers['dlq.failed_at'] ?? '')));
      for (const [k, v] of Object.entries(p.headers ?? {})) assert.equal(letter.headers[k], v, 'original headers kept');
    }
    assert.equal(await metricValue(metrics.etlDeadLettered), poison.length);
    assert.equal(await metricValue(metrics.etlRowsLoaded), 16);
  });

  void it('isolates a row the warehouse refuses: the rest of its batch loads, only it is dead-lettered', LIMIT, async () => {
    const { options, warehouse } = await setup();
    const before = await produceMany(options.topic, 12);
    const [pill] = await produce(options.topic, 'user-2', [{ type: 'poison_pill' }]);
    assert.ok(pill);
    const after = await produceMany(options.topic, 7);
    const picky = corruptingWarehouse(warehouse, (row) => row.type === 'poison_pill');
    const { metrics } = run({ warehouse: picky }, options);

    await waitFor('lag 0', () => lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 19, users: 5, by_type: byType([...before, ...after]) });
    const [letter] = await readAll(options.dlqTopic, 1);
    assert.ok(letter);
    assert.equal((JSON.parse(letter.value.toString()) as EventMessage).event_id, pill.event_id);
    assert.match(letter.headers['dlq.reason'] ?? '', /^warehouse rejected the row: warehouse insert failed \(ClickHouse code 376\)/);
    const [source] = (await readAll(options.topic, 20)).filter((r) => r.value.equals(letter.value));
    assert.ok(source);
    assert.deepEqual([letter.headers['dlq.source.partition'], letter.headers['dlq.source.offset']], [String(source.partition), String(source.offset)]);
    assert.equal(picky.batches[0], 20, 'one batch');
    assert.ok(picky.batches.length <= 1 + 2 * Math.ceil(Math.log2(20)), `bisection took ${picky.batches.length} statements`);
    assert.equal(await metricValue(metrics.etlInsertFailures, { retriable: 'true' }), 0);
    assert.ok((await metricValue(metrics.etlInsertFailures, { retriable: 'false' })) >= 1);
    assert.equal(await metricValue(metrics.etlDeadLettered), 1);
    assert.equal(await metricValue(metrics.etlRowsLoaded), 19);
  });

  void it('loads and commits the batch in hand when stopped', LIMIT, async () => {
    const { options, warehouse } = await setup({ batchMaxWaitMs: 30_000 });
    const tapped = tappedLog(h.log);
    const { etl, exit } = run({ log: tapped, warehouse }, options);
    const messages = await produceMany(options.topic, 7);
    await waitFor('the records in hand', () => tapped.tap.polled, (n) => n === 7);
    assert.equal(await eventsIn(warehouse), 0, 'still waiting for the batch timer');
    await etl.stop(10_000);
    assert.equal(await exit, undefined);
    assert.deepEqual(await warehouse.summary(ALL), { events: 7, users: 5, by_type: byType(messages) });
    assert.equal(await lag(options), 0);
    assert.equal(tapped.tap.commits, 1);
  });
});
