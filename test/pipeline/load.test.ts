import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { BackendError } from '../../src/domain/errors.ts';
import type { EventRow } from '../../src/ports/warehouse.ts';
import { type LoadDeps, type LoadItem, loadIsolatingBadRows } from '../../src/pipeline/load.ts';

function items(count: number): LoadItem[] {
  return Array.from({ length: count }, (_, offset) => {
    const row: EventRow = {
      event_id: randomUUID(), user_id: `user-${offset}`, type: 'click', element_kind: '', element_id: '', film_id: null,
      description: '', occurred_at: '2026-03-10T12:00:00.000Z', received_at: '2026-03-10T12:00:00.000Z', started_at: null,
      ended_at: null, duration_ms: 0, properties: {},
    };
    return { record: { stream: 'events', partition: 0, offset, key: row.user_id, value: Buffer.from('{}'), headers: {}, timestamp: 0 }, row };
  });
}

/**
 * A warehouse stand-in with ClickHouse's insert semantics: a statement containing a bad row
 * fails as a whole (non-retriably) and writes nothing.
 */
function fakeWarehouse(bad: ReadonlySet<string>): { insert: (rows: EventRow[]) => Promise<void>; loaded: string[]; calls: number[] } {
  const loaded: string[] = [];
  const calls: number[] = [];
  return {
    loaded,
    calls,
    insert: (rows) => {
      calls.push(rows.length);
      const refused = rows.find((r) => bad.has(r.event_id));
      if (refused) return Promise.reject(new BackendError(`cannot parse row ${refused.user_id}`, { retriable: false, fault: 'data' }));
      loaded.push(...rows.map((r) => r.event_id));
      return Promise.resolve();
    },
  };
}

const ids = (list: LoadItem[]): string[] => list.map((i) => i.row.event_id);

/** Deps around `insert`: the warehouse answers pings unless told otherwise; back-off is counted, not slept. */
function deps(insert: LoadDeps['insert'], options: { answers?: () => boolean } = {}): LoadDeps & { backoffs: number; pings: number } {
  const d = {
    backoffs: 0,
    pings: 0,
    insert,
    answers: () => {
      d.pings += 1;
      return Promise.resolve(options.answers ? options.answers() : true);
    },
    backoff: () => {
      d.backoffs += 1;
      return Promise.resolve();
    },
  };
  return d;
}

const SUSPECT = { suspectAfter: 3 };

void describe('loadIsolatingBadRows', () => {
  void it('inserts a clean batch in one statement', async () => {
    const batch = items(50);
    const w = fakeWarehouse(new Set());
    assert.deepEqual(await loadIsolatingBadRows(batch, deps(w.insert), SUSPECT), []);
    assert.deepEqual(w.calls, [50]);
    assert.deepEqual(w.loaded, ids(batch));
  });

  void it('does not call the warehouse for an empty batch', async () => {
    const w = fakeWarehouse(new Set());
    assert.deepEqual(await loadIsolatingBadRows([], deps(w.insert), SUSPECT), []);
    assert.deepEqual(w.calls, []);
  });

  void it('isolates exactly the rows the warehouse refuses and loads every other row once', async () => {
    for (const [size, badOffsets] of [[1, [0]], [2, [1]], [7, [0, 6]], [16, [3]], [100, [0, 41, 42, 99]], [33, Array.from({ length: 33 }, (_, i) => i)]] as const) {
      const batch = items(size);
      const bad = batch.filter((i) => (badOffsets as readonly number[]).includes(i.record.offset));
      const w = fakeWarehouse(new Set(ids(bad)));
      const d = deps(w.insert);
      const rejected = await loadIsolatingBadRows(batch, d, SUSPECT);
      assert.deepEqual(rejected.map((r) => r.record), bad.map((i) => i.record), `size ${size}`);
      for (const r of rejected) assert.match(r.reason, /^warehouse rejected the row: cannot parse row user-\d+$/);
      assert.deepEqual([...w.loaded].sort(), ids(batch.filter((i) => !bad.includes(i))).sort(), `size ${size}: every good row once`);
      assert.deepEqual([d.backoffs, d.pings], [0, 0], 'a data error is never retried and needs no ping');
    }
  });

  void it('needs about 2·log2(n) statements to find one bad row', async () => {
    const batch = items(1024);
    const w = fakeWarehouse(new Set(ids(batch.slice(700, 701))));
    const rejected = await loadIsolatingBadRows(batch, deps(w.insert), SUSPECT);
    assert.deepEqual(rejected.map((r) => r.record.offset), [700]);
    assert.ok(w.calls.length <= 1 + 2 * Math.log2(1024), `${w.calls.length} statements`);
    assert.equal(w.loaded.length, 1023);
  });

  void it('retries an infrastructure failure for as long as it lasts, never splitting the batch', async () => {
    const batch = items(8);
    const w = fakeWarehouse(new Set());
    let calls = 0;
    const insert = (rows: EventRow[]): Promise<void> =>
      ++calls <= 50 ? Promise.reject(new BackendError('too many parts', { retriable: true, fault: 'infrastructure' })) : w.insert(rows);
    const d = deps(insert);
    assert.deepEqual(await loadIsolatingBadRows(batch, d, SUSPECT), []);
    assert.deepEqual(w.calls, [8], 'the whole batch, once it recovered');
    assert.equal(d.backoffs, 50);
    assert.equal(d.pings, 0);
  });

  void it('retries an unknown failure while the warehouse does not answer, then bisects once it does', async () => {
    const batch = items(8);
    const poison = batch[5];
    assert.ok(poison);
    let up = false;
    const w = fakeWarehouse(new Set());
    let calls = 0;
    const insert = (rows: EventRow[]): Promise<void> => {
      calls += 1;
      if (calls === 10) up = true;
      if (rows.some((r) => r.event_id === poison.row.event_id)) return Promise.reject(new Error('socket says something odd'));
      return w.insert(rows);
    };
    const d = deps(insert, { answers: () => up });
    const rejected = await loadIsolatingBadRows(batch, d, SUSPECT);
    assert.deepEqual(rejected.map((r) => r.record.offset), [5]);
    assert.match(rejected[0]?.reason ?? '', /^warehouse kept failing on the row \(3 attempts\) while answering pings: socket says something odd$/);
    assert.deepEqual([...w.loaded].sort(), ids(batch.filter((i) => i !== poison)).sort());
    assert.ok(d.backoffs >= 9, 'no bisection while pings failed');
  });

  void it('dead-letters nothing and keeps retrying while an unknown failure comes with failing pings', async () => {
    const batch = items(4);
    let calls = 0;
    const stop = new Error('stopping');
    const d = deps(() => Promise.reject(new Error('mystery')), { answers: () => false });
    d.backoff = () => (++calls >= 20 ? Promise.reject(stop) : Promise.resolve());
    await assert.rejects(loadIsolatingBadRows(batch, d, SUSPECT), (err) => err === stop);
    assert.equal(calls, 20);
  });

  void it('propagates the rejection of backoff (the ETL stopping) halfway through isolating a bad row', async () => {
    const batch = items(8);
    const bad = new Set(ids(batch.slice(5, 6)));
    const outage = new BackendError('connection reset', { retriable: true });
    const stopping = new Error('stopping');
    const w = fakeWarehouse(bad);
    let calls = 0;
    const insert = (rows: EventRow[]): Promise<void> => (++calls === 3 ? Promise.reject(outage) : w.insert(rows));
    const d = deps(insert);
    d.backoff = () => Promise.reject(stopping);
    await assert.rejects(loadIsolatingBadRows(batch, d, SUSPECT), (err) => err === stopping);
  });
});
