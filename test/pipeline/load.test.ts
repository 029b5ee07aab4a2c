import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { BackendError } from '../../src/domain/errors.ts';
import type { EventRow } from '../../src/ports/warehouse.ts';
import { type LoadItem, loadIsolatingBadRows } from '../../src/pipeline/load.ts';

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
      if (refused) return Promise.reject(new BackendError(`cannot parse row ${refused.user_id}`, { retriable: false }));
      loaded.push(...rows.map((r) => r.event_id));
      return Promise.resolve();
    },
  };
}

const ids = (list: LoadItem[]): string[] => list.map((i) => i.row.event_id);

void describe('loadIsolatingBadRows', () => {
  void it('inserts a clean batch in one statement', async () => {
    const batch = items(50);
    const w = fakeWarehouse(new Set());
    assert.deepEqual(await loadIsolatingBadRows(batch, w.insert), []);
    assert.deepEqual(w.calls, [50]);
    assert.deepEqual(w.loaded, ids(batch));
  });

  void it('does not call the warehouse for an empty batch', async () => {
    const w = fakeWarehouse(new Set());
    assert.deepEqual(await loadIsolatingBadRows([], w.insert), []);
    assert.deepEqual(w.calls, []);
  });

  void it('isolates exactly the rows the warehouse refuses and loads every other row once', async () => {
    for (const [size, badOffsets] of [[1, [0]], [2, [1]], [7, [0, 6]], [16, [3]], [100, [0, 41, 42, 99]], [33, Array.from({ length: 33 }, (_, i) => i)]] as const) {
      const batch = items(size);
      const bad = batch.filter((i) => (badOffsets as readonly number[]).includes(i.record.offset));
      const w = fakeWarehouse(new Set(ids(bad)));
      const rejected = await loadIsolatingBadRows(batch, w.insert);
      assert.deepEqual(rejected.map((r) => r.record), bad.map((i) => i.record), `size ${size}`);
      for (const r of rejected) assert.match(r.reason, /^warehouse rejected the row: cannot parse row user-\d+$/);
      assert.deepEqual([...w.loaded].sort(), ids(batch.filter((i) => !bad.includes(i))).sort(), `size ${size}: every good row once`);
    }
  });

  void it('needs about 2·log2(n) statements to find one bad row', async () => {
    const batch = items(1024);
    const w = fakeWarehouse(new Set(ids(batch.slice(700, 701))));
    const rejected = await loadIsolatingBadRows(batch, w.insert);
    assert.deepEqual(rejected.map((r) => r.record.offset), [700]);
    assert.ok(w.calls.length <= 1 + 2 * Math.log2(1024), `${w.calls.length} statements`);
    assert.equal(w.loaded.length, 1023);
  });

  void it('propagates a retriable failure unchanged instead of splitting the batch', async () => {
    const batch = items(8);
    const unavailable = new BackendError('too many parts', { retriable: true });
    let calls = 0;
    const insert = (): Promise<void> => {
      calls += 1;
      return Promise.reject(unavailable);
    };
    await assert.rejects(loadIsolatingBadRows(batch, insert), (err) => err === unavailable);
    assert.equal(calls, 1);
    // An unknown error is not known to be about the data, so it is retried too.
    const unknown = new Error('socket hang up');
    await assert.rejects(loadIsolatingBadRows(batch, () => Promise.reject(unknown)), (err) => err === unknown);
  });

  void it('propagates a retriable failure that happens halfway through isolating a bad row', async () => {
    const batch = items(8);
    const bad = new Set(ids(batch.slice(5, 6)));
    const outage = new BackendError('connection reset', { retriable: true });
    const w = fakeWarehouse(bad);
    let calls = 0;
    const insert = (rows: EventRow[]): Promise<void> => (++calls === 3 ? Promise.reject(outage) : w.insert(rows));
    await assert.rejects(loadIsolatingBadRows(batch, insert), (err) => err === outage);
  });
});
