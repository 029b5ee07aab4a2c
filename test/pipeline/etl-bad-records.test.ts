import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { BackendError } from '../../src/domain/errors.ts';
import type { EventMessage } from '../../src/domain/events.ts';
import type { LogRecordInput } from '../../src/ports/event-log.ts';
import { corruptingWarehouse, flakyWarehouse, refusingWarehouse } from '../helpers/faults.ts';
import { ALL, LIMIT, byType, etlHarness, metricValue, waitFor } from '../helpers/etl-harness.ts';

/**
 * Invariant 2 of issue #7, "a bad record never stops the others", on the real embedded engines:
 * records no client should have been able to send, written straight to the event log (bypassing
 * the API), and rows the warehouse refuses or keeps failing on.
 */
void describe('Etl with bad records', () => {
  const h = etlHarness();

  /** A record of the stream, JSON-encoded like every producer: a lone surrogate is the escape `\ud83d`. */
  function raw(template: EventMessage, overrides: Partial<EventMessage>, key = template.user_id): LogRecordInput {
    return { key, value: Buffer.from(JSON.stringify({ ...template, event_id: randomUUID(), ...overrides })) };
  }

  void it("the issue's worst case: a description ending in half an emoji is dead-lettered with its reason, every other user's events load", LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    const before = await h.produceMany(options.topic, 20);
    const [template] = await h.produce(options.topic, 'user-0', [{ type: 'search' }]);
    assert.ok(template);
    const poison = raw(template, { user_id: 'cutter', description: 'abc \ud83d' }, 'cutter');
    assert.ok(poison.value.toString().includes('"abc \\ud83d"'), 'the raw JSON escape of the issue');
    await h.log.append(options.topic, [poison]);
    const after = await h.produceMany(options.topic, 10);
    const { etl, metrics } = h.run({ warehouse }, options);

    await waitFor('lag 0', () => h.lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 31, users: 5, by_type: byType([...before, template, ...after]) });
    const [letter] = await h.readAll(options.dlqTopic, 1);
    assert.ok(letter?.value.equals(poison.value));
    assert.equal(letter?.headers['dlq.reason'], 'lone UTF-16 surrogate in the string at /description');
    assert.equal(await metricValue(metrics.etlDeadLettered), 1);
    assert.equal(etl.health().ready, true);
  });

  void it('dead-letters every record the warehouse could not store as sent, with its reason, and loads the rest', LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    const [template] = await h.produce(options.topic, 'user-0', [{ type: 'click' }]);
    assert.ok(template);
    const valid = JSON.stringify({ ...template, event_id: randomUUID(), description: 'café' });
    const e = valid.indexOf('é');
    const poison: (LogRecordInput & { reason: string })[] = [
      // A token whose `sub` is "u\ud800" posting an ordinary click (the second input).
      { ...raw(template, { user_id: 'u\ud800' }, 'u\ud800'), reason: 'lone UTF-16 surrogate in the string at /user_id' },
      { ...raw(template, { description: '\udc00 low half first' }), reason: 'lone UTF-16 surrogate in the string at /description' },
      { ...raw(template, { properties: { 'k\ud83d': 'v' } }), reason: 'lone UTF-16 surrogate in the string at /properties/k\ud83d' },
      { ...raw(template, { properties: { k: 'v\udbff' } }), reason: 'lone UTF-16 surrogate in the string at /properties/k' },
      { ...raw(template, { element: { kind: 'button', id: '\ud800' } }), reason: 'lone UTF-16 surrogate in the string at /element/id' },
      // Invalid UTF-8 bytes in place of the é.
      { key: 'user-0', value: Buffer.concat([Buffer.from(valid.slice(0, e)), Buffer.from([0xc3, 0x28]), Buffer.from(valid.slice(e + 1))]), reason: 'value is not valid UTF-8' },
      // Times the warehouse cannot hold.
      { ...raw(template, { occurred_at: '1969-12-31T23:59:59.000Z' }), reason: 'time out of range: 1969-12-31T23:59:59.000Z' },
      { ...raw(template, { occurred_at: '+010000-01-01T00:00:00.000Z' }), reason: 'not an event message: /occurred_at must match format "date-time"' },
      { ...raw(template, { started_at: '0000-01-01T00:00:00.000Z', ended_at: '2026-01-01T00:00:00.000Z' }), reason: 'time out of range: 0000-01-01T00:00:00.000Z' },
    ];
    await h.log.append(options.topic, poison.map(({ key, value }) => ({ key, value })));
    // Odd but storable: a time in the warehouse's last year, and a whole surrogate pair.
    const edge = [raw(template, { occurred_at: '9999-12-31T20:59:59.999Z' }), raw(template, { description: 'abc \ud83d\ude00' })];
    await h.log.append(options.topic, edge);
    const good = await h.produceMany(options.topic, 10);
    h.run({ warehouse }, options);

    await waitFor('lag 0', () => h.lag(options), (n) => n === 0);
    // (Queries scan an hour either side of their range: keep it inside what the warehouse can name.)
    const everything = { from: new Date(Date.UTC(1970, 0, 1, 1)), to: new Date(Date.UTC(9999, 11, 31, 22)) };
    assert.equal((await warehouse.summary(everything)).events, 1 + edge.length + good.length);
    const stored = await warehouse.userEvents('user-0', everything, 100);
    assert.ok(stored.some((s) => s.occurred_at === '9999-12-31T20:59:59.999Z'));
    assert.ok(stored.some((s) => s.description === 'abc 😀'), 'a whole pair is stored as sent');
    const dead = await h.readAll(options.dlqTopic, poison.length);
    for (const p of poison) {
      const letter = dead.find((r) => r.value.equals(p.value));
      assert.equal(letter?.headers['dlq.reason'], p.reason);
    }
  });

  void it('after a restart with a poisoned record already in the log, loads everyone else and dead-letters the poison once', LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    const [template] = await h.produce(options.topic, 'user-1', [{ type: 'click' }]);
    assert.ok(template);
    const poison = raw(template, { user_id: 'cutter', description: 'abc \ud83d' }, 'cutter');
    await h.log.append(options.topic, [poison]);
    const good = await h.produceMany(options.topic, 15);
    // The first run never gets a batch in (as before the fix, when the poison failed every insert): nothing commits.
    const down = flakyWarehouse(warehouse, { failFirst: Number.POSITIVE_INFINITY });
    const first = h.run({ warehouse: down }, options);
    await waitFor('three failed inserts', () => down.attempts, (n) => n >= 3);
    await first.etl.stop(50);
    assert.equal(await h.lag(options), 17);

    h.run({ warehouse }, options);
    await waitFor('lag 0', () => h.lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 16, users: 5, by_type: byType([template, ...good]) });
    const [letter] = await h.readAll(options.dlqTopic, 1);
    assert.ok(letter?.value.equals(poison.value));
  });

  void it('isolates a row chDB itself refuses for a lone surrogate (ClickHouse code 25) and dead-letters it with the engine reason', LIMIT, async () => {
    const { options, warehouse } = await h.setup();
    const before = await h.produceMany(options.topic, 12);
    const [pill] = await h.produce(options.topic, 'user-2', [{ type: 'poison_pill' }]);
    assert.ok(pill);
    const after = await h.produceMany(options.topic, 7);
    // The transform refuses lone surrogates itself; this puts one past it, into the real engine.
    const picky = corruptingWarehouse(warehouse, (row) => row.type === 'poison_pill', (row) => ({ ...row, description: 'abc \ud83d' }));
    const { metrics } = h.run({ warehouse: picky }, options);

    await waitFor('lag 0', () => h.lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 19, users: 5, by_type: byType([...before, ...after]) });
    const [letter] = await h.readAll(options.dlqTopic, 1);
    assert.equal((JSON.parse(letter?.value.toString() ?? '{}') as EventMessage).event_id, pill.event_id);
    assert.match(letter?.headers['dlq.reason'] ?? '', /^warehouse rejected the row: warehouse insert failed \(ClickHouse code 25\): .*surrogate/);
    assert.ok(picky.batches.length <= 1 + 2 * Math.ceil(Math.log2(20)), `bisection took ${picky.batches.length} statements`);
    assert.ok((await metricValue(metrics.etlInsertFailures, { fault: 'data', retriable: 'false' })) >= 1);
    assert.equal(await metricValue(metrics.etlInsertFailures, { fault: 'infrastructure' }), 0);
  });

  void it('bisects a batch that keeps failing with an unclassified error while the warehouse answers pings', LIMIT, async () => {
    const { options, warehouse } = await h.setup({ suspectAfterAttempts: 3 });
    const before = await h.produceMany(options.topic, 12);
    const [pill] = await h.produce(options.topic, 'user-2', [{ type: 'poison_pill' }]);
    assert.ok(pill);
    const after = await h.produceMany(options.topic, 7);
    // What the adapter makes of a ClickHouse code it does not know.
    const unknown = (): Error => new BackendError('warehouse insert failed (ClickHouse code 9999)', { retriable: true, fault: 'unknown' });
    const odd = refusingWarehouse(warehouse, (row) => row.type === 'poison_pill', unknown);
    const { metrics, etl } = h.run({ warehouse: odd }, options);

    await waitFor('lag 0', () => h.lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 19, users: 5, by_type: byType([...before, ...after]) });
    const [letter] = await h.readAll(options.dlqTopic, 1);
    assert.equal((JSON.parse(letter?.value.toString() ?? '{}') as EventMessage).event_id, pill.event_id);
    assert.equal(
      letter?.headers['dlq.reason'],
      'warehouse kept failing on the row (3 attempts) while answering pings: warehouse insert failed (ClickHouse code 9999)',
    );
    assert.deepEqual(odd.batches.slice(0, 3), [20, 20, 20], 'the whole batch three times before suspecting its rows');
    assert.ok(odd.batches.length <= 3 + 2 * Math.ceil(Math.log2(20)) + 2, `${odd.batches.length} statements`);
    assert.ok((await metricValue(metrics.etlInsertFailures, { fault: 'unknown' })) >= 5);
    assert.equal(etl.health().ready, true);
  });

  void it('never dead-letters on an infrastructure failure: the batch waits, however long, and loads once the warehouse is back', LIMIT, async () => {
    const { options, warehouse } = await h.setup({ suspectAfterAttempts: 1 });
    const messages = await h.produceMany(options.topic, 10);
    const tooManyParts = (): Error => new BackendError('warehouse insert failed (ClickHouse code 252)', { retriable: true, fault: 'infrastructure' });
    const down = flakyWarehouse(warehouse, { failFirst: Number.POSITIVE_INFINITY, error: tooManyParts });
    const { metrics } = h.run({ warehouse: down }, options);
    await waitFor('ten failed inserts', () => down.attempts, (n) => n >= 10);
    assert.equal(await h.lag(options), 10);
    down.recover();
    await waitFor('lag 0', () => h.lag(options), (n) => n === 0);
    assert.deepEqual(await warehouse.summary(ALL), { events: 10, users: 5, by_type: byType(messages) });
    assert.equal(await metricValue(metrics.etlDeadLettered), 0);
    assert.equal(down.delivered, 1, 'one insert of the whole batch');
  });
});
