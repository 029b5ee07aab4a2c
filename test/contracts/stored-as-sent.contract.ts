import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { EventMessage } from '../../src/domain/events.ts';
import { toEventRow } from '../../src/pipeline/transform.ts';
import type { LogRecord } from '../../src/ports/event-log.ts';
import type { EventRow, Warehouse } from '../../src/ports/warehouse.ts';

/**
 * Issue #7, the pipeline's half of "text is stored as sent or refused" and "a bad record never
 * stops the others": for records written straight to the event log with arbitrary text (lone
 * surrogates, NUL, line breaks, quotes, BOMs, astral characters in every string and key) and odd
 * times across the whole storable range, whatever the transform accepts the real warehouse
 * stores and returns exactly as it was in the log, and a record with ill-formed text is
 * always refused by the transform, never left for the warehouse to choke on or to alter.
 */
const special = fc.constantFrom('\u0000', '\\', '"', '\n', '\r', '\t', '\u2028', '\ufeff', '\uffff', '\u007f', 'é', '😀', '\u0301');
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const unit = fc.oneof(
  // Rare enough per code unit that most records come out well-formed, and both sides get exercised.
  { weight: 200, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 40, arbitrary: special },
  { weight: 2, arbitrary: loneSurrogate },
);
const text = (minLength: number, maxLength: number): fc.Arbitrary<string> => fc.string({ unit, minLength, maxLength });
// Queries scan an hour either side of their range: keep times where the range can be named.
const FIRST = Date.UTC(1970, 0, 1, 1);
const LAST = Date.UTC(9999, 11, 31, 21);
const time = fc.integer({ min: FIRST, max: LAST }).map((ms) => new Date(ms).toISOString());
const RANGE = { from: new Date(FIRST), to: new Date(LAST + 3_600_000) };

const message = (userId: string): fc.Arbitrary<EventMessage> =>
  fc.record({
    v: fc.constant(1 as const),
    event_id: fc.uuid({ version: 4 }),
    user_id: fc.constant(userId),
    type: fc.constantFrom('click', 'view', 'search', 'custom_thing'),
    element: fc.option(fc.record({ kind: fc.constantFrom('button', 'film'), id: text(1, 40) }), { nil: null }),
    film_id: fc.option(fc.uuid({ version: 4 }), { nil: null }),
    description: fc.option(text(0, 80), { nil: null }),
    occurred_at: time,
    received_at: time,
    started_at: fc.option(time, { nil: null }),
    ended_at: fc.option(time, { nil: null }),
    properties: fc.dictionary(text(1, 12), fc.oneof(text(0, 30), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()), { maxKeys: 4 }),
  });

function illFormed(value: unknown): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([k, v]) => !k.isWellFormed() || illFormed(v));
}

const asRecord = (m: EventMessage, offset: number): LogRecord => ({
  stream: 'events', partition: 0, offset, key: m.user_id, value: Buffer.from(JSON.stringify(m)), headers: {}, timestamp: Date.now(),
});

/** Runs the property against the warehouse `make` builds on a fresh database (closed and cleaned up after). */
export function storedAsSentContract(name: string, make: (database: string) => Promise<{ warehouse: Warehouse; cleanup: () => Promise<void> }>): void {
  void describe(`transform and warehouse agree: ${name}`, () => {
    let warehouse: Warehouse;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ warehouse, cleanup } = await make(`p_${randomBytes(4).toString('hex')}`));
      await warehouse.start();
      await warehouse.migrate();
    });
    after(async () => {
      await warehouse.close();
      await cleanup();
    });

    void it('stores every record the transform accepts exactly as it was in the log, and the transform refuses every ill-formed one', { timeout: 120_000 }, async (t) => {
      let accepted = 0;
      let refused = 0;
      await fc.assert(
        fc.asyncProperty(text(1, 16), fc.integer({ min: 1, max: 6 }), fc.integer(), async (rawUser, count, seed) => {
          // Each run has a user of its own, so its read-back sees only its rows.
          const userId = `${rawUser}-${randomUUID()}`;
          const messages = fc.sample(message(userId), { numRuns: count, seed });
          const rows: EventRow[] = [];
          const expected: EventMessage[] = [];
          for (const [i, m] of messages.entries()) {
            // What a consumer reads back from the log: JSON.stringify turned -0 into 0, and so on.
            const inLog = JSON.parse(JSON.stringify(m)) as EventMessage;
            const result = toEventRow(asRecord(m, i));
            if (illFormed(m)) {
              assert.equal(result.kind, 'dlq', 'ill-formed text never reaches the warehouse');
              assert.match(result.kind === 'dlq' ? result.reason : '', /^lone UTF-16 surrogate in the string at \//);
            }
            if (result.kind === 'ok') {
              rows.push(result.row);
              expected.push(inLog);
              accepted += 1;
            } else {
              refused += 1;
            }
          }
          if (!userId.isWellFormed()) {
            assert.equal(rows.length, 0);
            return;
          }
          await warehouse.insertEvents(rows); // one statement: any refusal fails the property
          const stored = await warehouse.userEvents(userId, RANGE, 100);
          const byId = new Map(stored.map((s) => [s.event_id, s]));
          assert.equal(stored.length, expected.length);
          for (const m of expected) {
            const s = byId.get(m.event_id);
            assert.ok(s, `event ${m.event_id} stored`);
            assert.deepEqual(
              [s.user_id, s.type, s.element, s.film_id, s.description ?? '', s.occurred_at, s.received_at, s.started_at, s.ended_at, s.properties],
              [m.user_id, m.type, m.element, m.film_id, m.description ?? '', m.occurred_at, m.received_at, m.started_at, m.ended_at, m.properties],
            );
          }
        }),
        { numRuns: 60, seed: 20_261_130 },
      );
      t.diagnostic(`${accepted} records stored as sent, ${refused} refused`);
      assert.ok(accepted > 40 && refused > 5, `both sides exercised: ${accepted} accepted, ${refused} refused`);
    });
  });
}
