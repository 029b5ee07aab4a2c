import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { buildOpsServer } from '../../src/api/ops-server.ts';
import { BackendError } from '../../src/domain/errors.ts';
import { EtlHealthTracker } from '../../src/pipeline/etl-health.ts';
import type { LogRecord } from '../../src/ports/event-log.ts';
import { AssignedLog, flakyWarehouse, tappedLog } from '../helpers/faults.ts';
import { ALL, LIMIT, etlHarness, waitFor } from '../helpers/etl-harness.ts';

/**
 * Invariant 3 of issue #7, "a stall is visible", and the ETL part of invariant 7, "the ETL never
 * exits because a stream vanished": the ETL's health, its /readyz entry, metrics and log lines.
 */

/** A pino logger whose lines the test reads. */
function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

const at = (timestamp: number): LogRecord => ({ stream: 's', partition: 0, offset: 0, key: 'k', value: Buffer.from('{}'), headers: {}, timestamp });

void describe('EtlHealthTracker', () => {
  function tracker(stallAfterMs = 10_000) {
    let now = 1_000_000;
    const { logger, lines } = capturingLogger();
    const t = new EtlHealthTracker({ stallAfterMs, logger, now: () => now });
    return { t, lines, advance: (ms: number) => void (now += ms), now: () => now };
  }

  void it('is ready, with nothing unloaded, before and between batches', () => {
    const { t, advance, now } = tracker();
    assert.deepEqual(t.health(), { ready: true, oldestUnloadedAgeMs: null, lastLoadAt: null });
    advance(3_600_000);
    t.holding([at(now() - 5)]);
    t.loaded();
    assert.deepEqual(t.health(), { ready: true, oldestUnloadedAgeMs: null, lastLoadAt: now() });
  });

  void it('turns unready once the records in hand have waited beyond the bound with nothing loaded, and ready when they load', () => {
    const { t, advance, now } = tracker(10_000);
    advance(60_000);
    t.holding([at(now() - 1_000), at(now() - 2_000)]);
    advance(7_999);
    assert.deepEqual(t.health(), { ready: true, oldestUnloadedAgeMs: 9_999, lastLoadAt: null });
    advance(2);
    const stalled = t.health();
    assert.equal(stalled.ready, false);
    assert.equal(stalled.oldestUnloadedAgeMs, 10_001);
    assert.match(stalled.reason ?? '', /^records have waited 10 s without a load \(bound 10 s\)$/);
    // Measured from the last load, not from the append, when that is later.
    t.holding([at(now() - 3_600_000)]);
    t.loaded();
    t.holding([at(now() - 3_600_000)]);
    advance(9_000);
    assert.equal(t.health().ready, true);
    advance(1_001);
    assert.equal(t.health().reason, 'records have waited 10 s without a load (bound 10 s)');
    t.loaded();
    assert.deepEqual(t.health(), { ready: true, oldestUnloadedAgeMs: null, lastLoadAt: now() });
  });

  void it('stays ready while catching up on a backlog: old records, but a load every batch', () => {
    const { t, advance, now } = tracker(10_000);
    for (let batch = 0; batch < 20; batch++) {
      t.holding([at(now() - 3_600_000)]); // appended an hour ago
      advance(5_000);
      const health = t.health();
      assert.equal(health.ready, true, `batch ${batch}`);
      assert.ok((health.oldestUnloadedAgeMs ?? 0) >= 3_600_000, 'the age still says how far behind it is');
      t.loaded();
    }
  });

  void it('is unready at once while blocked, and says the consumer’s reason', () => {
    const { t } = tracker();
    t.blocked('event log poll: Stream ugc.events does not exist.');
    assert.deepEqual(t.health(), { ready: false, reason: 'event log poll: Stream ugc.events does not exist.', oldestUnloadedAgeMs: null, lastLoadAt: null });
    t.blocked(undefined);
    assert.equal(t.health({ ready: false, reason: 'holds no partitions' }).reason, 'holds no partitions');
    assert.equal(t.health({ ready: true }).ready, true);
  });

  void it('counts a standing backlog in the log as a stall only while nothing is polled and the lag does not fall', () => {
    const { t, advance, now } = tracker(10_000);
    t.backlog(50);
    advance(10_001);
    assert.equal(t.health().reason, '50 records wait in the log but none reached the ETL for 10 s (bound 10 s)');
    t.backlog(40); // falling: someone (another member of the group) makes progress
    advance(5_000);
    assert.equal(t.health().ready, true);
    t.backlog(40);
    advance(5_001);
    assert.equal(t.health().ready, false);
    t.holding([at(now())]); // records reached the ETL: their own age rule takes over
    assert.equal(t.health().ready, true);
    t.loaded();
    t.backlog(0);
    advance(60_000);
    assert.equal(t.health().ready, true);
  });

  void it('logs a warning once per stall episode and a line when it ends', async () => {
    const { t, lines, advance, now } = tracker(1_000);
    t.watch(() => t.health(), 5);
    try {
      t.holding([at(now())]);
      advance(2_000);
      await waitFor('the stall logged', () => lines.length, (n) => n >= 1);
      await new Promise((resolve) => setTimeout(resolve, 50)); // more checks, still one line
      t.loaded();
      await waitFor('the recovery logged', () => lines.length, (n) => n >= 2);
      assert.deepEqual(lines.map((l) => [l.level, l.msg]), [[40, 'ETL stalled'], [30, 'ETL recovered']]);
      assert.match(String(lines[0]?.reason), /records have waited 2\.0 s without a load \(bound 1\.0 s\)/);
    } finally {
      t.unwatch();
    }
  });
});

void describe('Etl health', () => {
  const h = etlHarness();

  void it('makes /readyz 503 with the reason while inserts fail and the warehouse answers pings, and 200 once loading resumes', LIMIT, async () => {
    const { options, warehouse } = await h.setup({ stallAfterMs: 1000 });
    const { logger, lines } = capturingLogger();
    const tooManyParts = (): Error => new BackendError('warehouse insert failed (ClickHouse code 252)', { retriable: true, fault: 'infrastructure' });
    const down = flakyWarehouse(warehouse, { failFirst: Number.POSITIVE_INFINITY, error: tooManyParts });
    const { etl, metrics, exit } = h.run({ warehouse: down, logger }, options);
    const ops = await buildOpsServer({ dependencies: { warehouse: down }, metrics, logger: pino({ level: 'silent' }), etl: () => Promise.resolve(etl.health()) });
    h.cleanup(() => ops.close());
    const readyz = async (): Promise<{ status: number; body: { status: string; dependencies: Record<string, Record<string, unknown>> } }> => {
      const res = await ops.inject('/readyz');
      return { status: res.statusCode, body: res.json() };
    };

    assert.equal((await readyz()).status, 200);
    await h.produceMany(options.topic, 10);
    const stalled = await waitFor('/readyz 503', readyz, (r) => r.status === 503);
    assert.deepEqual(stalled.body.dependencies.warehouse, { status: 'up' }, 'the warehouse itself answers');
    const entry = stalled.body.dependencies.etl;
    assert.equal(entry?.status, 'down');
    assert.match(String(entry?.error), /^records have waited \d+\.\d s without a load \(bound 1\.0 s\)$/);
    assert.ok(Number(entry?.oldest_unloaded_age_ms) >= 1000);
    assert.equal(entry?.last_load_at, null);
    const scraped = await metrics.exposition();
    assert.match(scraped, /^ugc_etl_stalled 1$/m);
    assert.match(scraped, /^ugc_etl_last_load_timestamp_seconds 0$/m);
    const age = Number(/^ugc_etl_oldest_unloaded_age_seconds (\S+)$/m.exec(scraped)?.[1]);
    assert.ok(age >= 1, `age ${age}`);
    await waitFor('the warning', () => lines.filter((l) => l.msg === 'ETL stalled').length, (n) => n === 1);

    down.recover();
    // The records may arrive in more than one poll: a later batch is held (its age shown) for a
    // moment after the first one loads, so wait until nothing is held.
    const recovered = await waitFor('/readyz 200 with nothing held', readyz, (r) => r.status === 200 && r.body.dependencies.etl?.oldest_unloaded_age_ms === null);
    assert.equal(recovered.body.dependencies.etl?.status, 'up');
    assert.ok(Date.now() - Date.parse(String(recovered.body.dependencies.etl?.last_load_at)) < 10_000);
    assert.equal(await h.eventsIn(warehouse), 10);
    await waitFor('the recovery line', () => lines.filter((l) => l.msg === 'ETL recovered').length, (n) => n >= 1);
    assert.equal(lines.filter((l) => l.msg === 'ETL stalled').length, 1, 'one warning for the episode');
    const after = await metrics.exposition();
    assert.match(after, /^ugc_etl_stalled 0$/m);
    assert.match(after, /^ugc_etl_oldest_unloaded_age_seconds 0$/m);
    assert.ok(Number(/^ugc_etl_last_load_timestamp_seconds (\S+)$/m.exec(after)?.[1]) * 1000 > Date.now() - 10_000);
    await etl.stop(1_000);
    assert.equal(await exit, undefined);
  });

  void it('turns unready when records wait in the log but its consumer silently reads none, and ready once they load', LIMIT, async () => {
    const { options, warehouse } = await h.setup({ stallAfterMs: 500 });
    let deaf = true;
    const { etl } = h.run({ log: tappedLog(h.log, { deaf: () => deaf }), warehouse }, options);
    await h.produceMany(options.topic, 10);
    const stuck = await waitFor('unready', () => etl.health(), (x) => !x.ready);
    assert.match(stuck.reason ?? '', /^10 records wait in the log but none reached the ETL for \d+\.\d s \(bound 0\.5 s\)$/);
    assert.equal(stuck.oldestUnloadedAgeMs, null, 'it holds none, so it knows no age');
    deaf = false;
    await waitFor('10 events loaded', () => h.eventsIn(warehouse), (n) => n === 10);
    await waitFor('ready', () => etl.health().ready, (ready) => ready);
  });

  void it('outlives its events stream being deleted: unready with the reason, then loads from the re-created stream', LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    const { etl, exit } = h.run({ warehouse }, options);
    await h.produceMany(options.topic, 5);
    await waitFor('5 events loaded', () => h.eventsIn(warehouse), (n) => n === 5);

    await h.log.deleteStream(options.topic);
    const gone = await waitFor('unready', () => etl.health(), (x) => !x.ready);
    assert.equal(gone.reason, `event log poll: Stream ${options.topic} does not exist.`);
    const settled = await Promise.race([exit.then(() => 'exited'), new Promise((resolve) => setTimeout(() => resolve('running'), 300))]);
    assert.equal(settled, 'running', 'the ETL did not exit');

    await h.log.createStream(options.topic, { partitions: 2 });
    const again = await h.produceMany(options.topic, 7);
    await waitFor('the new stream loaded', () => h.eventsIn(warehouse), (n) => n === 12);
    await waitFor('ready', () => etl.health().ready, (ready) => ready);
    await waitFor('lag 0', () => h.lag(options), (n) => n === 0);
    assert.equal((await warehouse.summary(ALL)).events, 5 + again.length);
  });

  void it('outlives its dead-letter stream being deleted: the batch waits, unready, and is dead-lettered and committed once the stream is back', LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    await h.log.deleteStream(options.dlqTopic);
    const { etl, exit } = h.run({ warehouse }, options);
    await h.produceMany(options.topic, 4);
    await h.log.append(options.topic, [{ key: 'user-1', value: Buffer.from('not json {') }]);
    const blocked = await waitFor('unready', () => etl.health(), (x) => !x.ready);
    assert.equal(blocked.reason, `dead-letter append: Stream ${options.dlqTopic} does not exist.`);
    assert.equal(await h.lag(options), 5, 'nothing committed while the poison has nowhere to go');
    assert.equal(await h.eventsIn(warehouse), 4, 'the good rows are in (a replay changes no count)');

    await h.log.createStream(options.dlqTopic, { partitions: 1 });
    await waitFor('lag 0', () => h.lag(options), (n) => n === 0);
    await h.readAll(options.dlqTopic, 1);
    await waitFor('ready', () => etl.health().ready, (ready) => ready);
    const settled = await Promise.race([exit.then(() => 'exited'), Promise.resolve('running')]);
    assert.equal(settled, 'running');
  });
});

void describe('Etl and partitions given to another member', () => {
  const h = etlHarness();

  void it('leaves the records of a revoked partition to its new owner (neither loaded nor committed here) and loads the rest', LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    const log = new AssignedLog(h.log);
    const down = flakyWarehouse(warehouse, { failFirst: Number.POSITIVE_INFINITY });
    const { logger, lines } = capturingLogger();
    h.run({ log, warehouse: down, logger }, options);
    const produced = await h.produceMany(options.topic, 30);
    const all = await h.readAll(options.topic, 30);
    const revoked = all[0]?.partition ?? 0;
    const kept = all.filter((r) => r.partition !== revoked).length;
    assert.ok(kept > 0 && kept < produced.length, 'the events span the revoked partition and others');
    await waitFor('insert attempts during the outage', () => down.attempts, (n) => n >= 2);

    // A rebalance gives the partition to another member while this one retries through the outage.
    log.held.delete(revoked);
    down.recover();
    await waitFor('the records left to the new owner', () => lines.filter((l) => String(l.msg).startsWith('partitions given to another member')).length, (n) => n >= 1);
    await waitFor('the kept partitions loaded', () => h.eventsIn(warehouse), (n) => n === kept);
    await waitFor('the kept partitions committed', () => h.lag(options), (n) => n === all.length - kept);
  });

  void it('starts no insert while a rebalance is under way, and then leaves the partitions it lost to their new owner', LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    const log = new AssignedLog(h.log);
    const counted = flakyWarehouse(warehouse, { failFirst: 0 });
    // The group starts rebalancing before the batch is ready: `holds` still answers for the old assignment.
    log.startRebalance();
    h.run({ log, warehouse: counted }, options);
    const produced = await h.produceMany(options.topic, 30);
    const all = await h.readAll(options.topic, 30);
    const revoked = all[0]?.partition ?? 0;
    const kept = all.filter((r) => r.partition !== revoked).length;
    assert.ok(kept > 0 && kept < produced.length, 'the events span the revoked partition and others');
    await waitFor('the ETL waiting for the rebalance with its batch', () => log.settleCalls, (n) => n >= 1);
    await sleep(500);
    assert.equal(counted.attempts, 0, 'no insert attempt while the group rebalances');

    // The rebalance ends with the partition given to another member.
    log.held.delete(revoked);
    log.endRebalance();
    await waitFor('the kept partitions loaded', () => h.eventsIn(warehouse), (n) => n === kept);
    await waitFor('the kept partitions committed', () => h.lag(options), (n) => n === all.length - kept);
    await sleep(300);
    assert.equal(await h.eventsIn(warehouse), kept, 'the lost partition is not loaded here');
  });
});
