import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { type EventMessage, normalizeEvents } from '../../src/domain/events.ts';
import type { LogRecord } from '../../src/ports/event-log.ts';
import { toEventRow } from '../../src/pipeline/transform.ts';

function record(value: Buffer | string | object): LogRecord {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  return { stream: 'events', partition: 0, offset: 0, key: 'user-1', value: bytes, headers: {}, timestamp: Date.now() };
}

function message(overrides: Partial<EventMessage> = {}): EventMessage {
  const result = normalizeEvents([{ type: 'click' }], { userId: 'user-1', receivedAt: new Date('2026-03-10T12:00:00.000Z'), pathOf: () => '' });
  assert.ok(result.ok);
  const [m] = result.messages;
  assert.ok(m);
  return { ...m, ...overrides };
}

function dlqReason(value: Buffer | string | object): string {
  const result = toEventRow(record(value));
  assert.equal(result.kind, 'dlq', 'expected a dead letter');
  return result.reason;
}

void describe('toEventRow', () => {
  void it('maps an event message to a warehouse row with its duration', () => {
    const filmId = randomUUID();
    const result = normalizeEvents([{
      event_id: randomUUID(), type: 'playback_stop', element: { kind: 'film', id: 'tt0111161' }, film_id: filmId,
      description: 'stopped', occurred_at: '2026-03-10T12:00:05.250Z', started_at: '2026-03-10T11:58:00.125Z',
      ended_at: '2026-03-10T12:00:05.250Z', properties: { quality: '4k', position: 125.125, muted: false },
    }], { userId: 'User-Mixed-Case', receivedAt: new Date('2026-03-10T12:00:06.000Z'), pathOf: () => '' });
    assert.ok(result.ok);
    const [m] = result.messages;
    assert.ok(m);
    assert.deepEqual(toEventRow(record(m)), {
      kind: 'ok',
      row: {
        event_id: m.event_id,
        user_id: 'User-Mixed-Case',
        type: 'playback_stop',
        element_kind: 'film',
        element_id: 'tt0111161',
        film_id: filmId,
        description: 'stopped',
        occurred_at: '2026-03-10T12:00:05.250Z',
        received_at: '2026-03-10T12:00:06.000Z',
        started_at: '2026-03-10T11:58:00.125Z',
        ended_at: '2026-03-10T12:00:05.250Z',
        duration_ms: 125_125,
        properties: { quality: '4k', position: 125.125, muted: false },
      },
    });
  });

  void it('maps absent element, film, description and interval to the empty values of the row', () => {
    const m = message();
    assert.deepEqual(toEventRow(record(m)), {
      kind: 'ok',
      row: {
        event_id: m.event_id, user_id: 'user-1', type: 'click', element_kind: '', element_id: '', film_id: null, description: '',
        occurred_at: m.occurred_at, received_at: m.received_at, started_at: null, ended_at: null, duration_ms: 0, properties: {},
      },
    });
  });

  void it('normalises offsets and sub-millisecond digits of other producers to UTC milliseconds', () => {
    const result = toEventRow(record(message({
      occurred_at: '2026-03-10T14:00:00.5+02:00',
      received_at: '2026-03-10T07:30:01.123456-04:30',
      started_at: '2026-03-10T13:59:00+02:00',
      ended_at: '2026-03-10T12:00:00.500Z',
    })));
    assert.equal(result.kind, 'ok');
    assert.equal(result.row.occurred_at, '2026-03-10T12:00:00.500Z');
    assert.equal(result.row.received_at, '2026-03-10T12:00:01.123Z');
    assert.equal(result.row.started_at, '2026-03-10T11:59:00.000Z');
    assert.equal(result.row.ended_at, '2026-03-10T12:00:00.500Z');
    assert.equal(result.row.duration_ms, 60_500);
  });

  void it('lowercases event and film ids but keeps the user id as sent', () => {
    const [eventId, filmId] = [randomUUID().toUpperCase(), randomUUID().toUpperCase()];
    const result = toEventRow(record(message({ event_id: eventId, film_id: filmId, user_id: 'AbC' })));
    assert.equal(result.kind, 'ok');
    assert.equal(result.row.event_id, eventId.toLowerCase());
    assert.equal(result.row.film_id, filmId.toLowerCase());
    assert.equal(result.row.user_id, 'AbC');
  });

  void it('never gives a negative duration when another producer sent ended_at before started_at', () => {
    const result = toEventRow(record(message({ started_at: '2026-03-10T12:00:10Z', ended_at: '2026-03-10T12:00:00Z' })));
    assert.equal(result.kind, 'ok');
    assert.equal(result.row.duration_ms, 0);
  });

  void it('dead-letters a value that is not JSON', () => {
    assert.equal(dlqReason('not json {'), 'value is not JSON');
    assert.equal(dlqReason(Buffer.from([0xff, 0xfe, 0x00])), 'value is not JSON');
    assert.equal(dlqReason(''), 'value is not JSON');
  });

  void it('dead-letters JSON that is not an event message, saying where', () => {
    assert.match(dlqReason({ hello: 'world' }), /^not an event message: /);
    assert.match(dlqReason('null'), /^not an event message: /);
    assert.match(dlqReason([message()]), /^not an event message: /);
    assert.match(dlqReason({ ...message(), v: 2 }), /^not an event message: \/v /);
    assert.match(dlqReason({ ...message(), event_id: 'not-a-uuid' }), /^not an event message: \/event_id /);
    assert.match(dlqReason({ ...message(), type: 'Bad Type' }), /^not an event message: \/type /);
    assert.match(dlqReason({ ...message(), properties: { nested: { no: 1 } } }), /^not an event message: \/properties/);
    assert.match(dlqReason({ ...message(), extra: 1 }), /^not an event message: /);
    const missing: Partial<EventMessage> = message();
    delete missing.occurred_at;
    assert.match(dlqReason(missing), /^not an event message: /);
  });

  void it('dead-letters times the schema accepts but the warehouse cannot hold', () => {
    for (const time of [
      '1969-12-31T23:59:59.999Z', // before the epoch (the oldest ClickHouse stores timestamps as epoch ms)
      '0001-01-01T00:00:00Z',
      '2016-12-31T23:59:60Z', // a leap second: valid RFC 3339, no Date
      '2026-03-10T12:00:00Z[Europe/Paris]', // an RFC 9557 suffix
    ]) {
      assert.equal(dlqReason(message({ occurred_at: time })), `time out of range: ${time}`, time);
    }
    assert.match(dlqReason(message({ started_at: '1900-01-01T00:00:00Z', ended_at: '2026-03-10T12:00:00Z' })), /^time out of range: 1900/);
    assert.match(dlqReason(message({ received_at: '1960-01-01T00:00:00+01:00' })), /^time out of range: 1960/);
  });
});
