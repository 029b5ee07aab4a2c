import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Compile } from 'typebox/compile';
import { EventMessage, normalizeEvents } from '../../src/domain/events.ts';
import type { LogRecord } from '../../src/ports/event-log.ts';
import type { EventRow } from '../../src/ports/warehouse.ts';
import { type TransformResult, toEventRow } from '../../src/pipeline/transform.ts';
import { seeded } from '../helpers/random.ts';

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
  void it('keeps property names spelled with a leading escape after the process parsed a key "\\\\" (V8 JSON.parse bug, nodejs/node#63785)', () => {
    // V8 takes the wrong turn where an object's hidden class has one way on, so the prefix key is one nothing else uses.
    JSON.parse('{"prefix-9f2c":"","\\\\":0}');
    // Spliced in as text: an object with these keys built by JavaScript first would hide the bug.
    const text = JSON.stringify(message()).replace('"properties":{}', '"properties":{"prefix-9f2c":"","\\n":1}');
    assert.ok(text.includes('"\\n"'));
    const result = toEventRow(record(text));
    assert.equal(result.kind, 'ok');
    assert.deepEqual(result.kind === 'ok' ? Object.keys(result.row.properties) : undefined, ['prefix-9f2c', '\n']);
  });

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
    assert.equal(dlqReason(''), 'value is not JSON');
  });

  void it('dead-letters a value that is not valid UTF-8 instead of loading U+FFFD in its place', () => {
    assert.equal(dlqReason(Buffer.from([0xff, 0xfe, 0x00])), 'value is not valid UTF-8');
    const json = Buffer.from(JSON.stringify(message({ description: 'café' })));
    const at = json.indexOf(Buffer.from('é'));
    // A lone continuation byte, a truncated sequence, an overlong form, a UTF-16 surrogate encoded in UTF-8.
    for (const bad of [[0x80], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0xbd]]) {
      const value = Buffer.concat([json.subarray(0, at), Buffer.from(bad), json.subarray(at + 2)]);
      assert.equal(dlqReason(value), 'value is not valid UTF-8', Buffer.from(bad).toString('hex'));
    }
  });

  void it('dead-letters a lone UTF-16 surrogate in any string or key, naming where, on both paths', () => {
    // Written as JSON escapes (`\ud83d`), as JSON.stringify and clients cutting a string with slice() write them.
    const cases: [Partial<EventMessage>, string][] = [
      [{ description: 'abc \ud83d' }, '/description'],
      [{ description: '\udc00 trailing low half' }, '/description'],
      [{ user_id: 'u\ud800' }, '/user_id'],
      [{ element: { kind: 'button', id: 'x\udfff' } }, '/element/id'],
      [{ properties: { 'k\ud800': 'v' } }, '/properties/k\ud800'],
      [{ properties: { ok: 'v\udbff' } }, '/properties/ok'],
      [{ properties: { 'a/b~': 'v\udbff' } }, '/properties/a~1b~0'],
    ];
    for (const [overrides, at] of cases) {
      assert.equal(dlqReason(message(overrides)), `lone UTF-16 surrogate in the string at ${at}`, JSON.stringify(overrides));
      // The slow path too (an extra field sends the message past the fast path).
      assert.equal(dlqReason({ ...message(overrides), extra: 1 }), `lone UTF-16 surrogate in the string at ${at}`);
    }
    // A whole pair is text like any other, stored as sent.
    const emoji = toEventRow(record(message({ description: 'abc \ud83d\ude00' })));
    assert.ok(emoji.kind === 'ok' && emoji.row.description === 'abc 😀');
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

/** toEventRow as it was before the fast path (compiled schema, Date round trips): the reference. */
const referenceCheck = Compile(EventMessage);
class ReferenceBadTime extends Error {}
function referenceUtc(t: string): string {
  const ms = Date.parse(t);
  if (!Number.isFinite(ms) || ms < 0 || ms >= Date.UTC(10000, 0)) throw new ReferenceBadTime(`time out of range: ${t}`);
  return new Date(ms).toISOString();
}
function referenceToEventRow(r: LogRecord): TransformResult {
  let value: unknown;
  try {
    value = JSON.parse(r.value.toString('utf8'));
  } catch {
    return { kind: 'dlq', reason: 'value is not JSON' };
  }
  if (!referenceCheck.Check(value)) {
    const first = referenceCheck.Errors(value)[0];
    return { kind: 'dlq', reason: `not an event message: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}` };
  }
  const m = value;
  try {
    const started = m.started_at === null ? null : referenceUtc(m.started_at);
    const ended = m.ended_at === null ? null : referenceUtc(m.ended_at);
    const row: EventRow = {
      event_id: m.event_id.toLowerCase(),
      user_id: m.user_id,
      type: m.type,
      element_kind: m.element?.kind ?? '',
      element_id: m.element?.id ?? '',
      film_id: m.film_id?.toLowerCase() ?? null,
      description: m.description ?? '',
      occurred_at: referenceUtc(m.occurred_at),
      received_at: referenceUtc(m.received_at),
      started_at: started,
      ended_at: ended,
      duration_ms: started !== null && ended !== null ? Math.max(0, Date.parse(ended) - Date.parse(started)) : 0,
      properties: m.properties,
    };
    return { kind: 'ok', row };
  } catch (err) {
    if (err instanceof ReferenceBadTime) return { kind: 'dlq', reason: err.message };
    throw err;
  }
}

const TIMES = [
  '2026-03-10T12:00:00.000Z', '1970-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '0000-01-01T00:00:00.000Z',
  '9999-12-31T23:59:59.999Z', '2024-02-29T12:00:00.000Z', '2000-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z',
  '2100-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-03-10T24:00:00.000Z',
  '2016-12-31T23:59:60.000Z', '2016-12-31T23:59:60Z', '2017-01-01T00:59:60+01:00', '2026-03-10T12:00:00Z',
  '2026-03-10T12:00:00.5Z', '2026-03-10T12:00:00.1234Z', '2026-03-10T12:00:00.123456789Z', '2026-03-10T12:00:00.000+00:00',
  '2026-03-10T12:00:00.000-00:00', '2026-03-10T14:00:00.000+02:00', '2026-03-10T07:30:01.123456-04:30',
  '9999-12-31T23:59:59.999-01:00', '1970-01-01T00:30:00.000+01:00', '2026-03-10t12:00:00.000z', '2026-03-10 12:00:00.000Z',
  '2026-03-10T12:00:00.000', '+002026-03-10T12:00:00.000Z', '2026-03-10T12:00:00.000Z[Europe/Paris]',
  '2026-03-10T12:00:00.000Z ', '２０２６-03-10T12:00:00.000Z', '2026-03-10T12:00:00,000Z', '', 1_773_144_000_000, null,
];
const UUIDS = [
  '8f14e45f-ceea-467f-a8f5-0a1b2c3d4e5f', '8F14E45F-CEEA-467F-A8F5-0A1B2C3D4E5F', '8f14e45f-CEEA-467f-a8f5-0a1b2c3d4e5f',
  '8f14e45fceea467fa8f50a1b2c3d4e5f', '{8f14e45f-ceea-467f-a8f5-0a1b2c3d4e5f}', '8f14e45f-ceea-467f-a8f5-0a1b2c3d4e5g',
  '8f14e45f-ceea-467f-a8f5-0a1b2c3d4e5f\n', 'not-a-uuid', '', 42, null,
];
const EMOJI = '\u{1F3AC}';
const VARIANTS: Record<string, unknown[]> = {
  v: [1, 2, '1', 0, null, true],
  event_id: UUIDS,
  user_id: ['user-1', '', 'A', 'x'.repeat(64), 'x'.repeat(65), EMOJI.repeat(32), EMOJI.repeat(64), EMOJI.repeat(65), 7, null],
  type: ['click', 'Bad', 'a'.repeat(64), 'a'.repeat(65), 'play-back', '9lives', 'é', '', 1],
  element: [
    null, { kind: 'film', id: 'tt1' }, { kind: 'film' }, { kind: 'film', id: '' }, { kind: 'film', id: 'x', extra: 1 },
    { kind: 'Film', id: 'x' }, { kind: 'a'.repeat(32), id: 'x' }, { kind: 'a'.repeat(33), id: 'x' }, { kind: 'film', id: 'x'.repeat(256) },
    { kind: 'film', id: 'x'.repeat(257) }, { kind: 'film', id: EMOJI.repeat(200) }, { kind: 'film', id: 3 }, [], 'film',
  ],
  film_id: UUIDS,
  description: [null, '', 'x'.repeat(1000), 'x'.repeat(1001), EMOJI.repeat(600), EMOJI.repeat(1001), 5, false],
  occurred_at: TIMES,
  received_at: TIMES,
  started_at: TIMES,
  ended_at: TIMES,
  properties: [
    {}, { a: 1 }, { a: 'x', b: true, c: -1.5e300 }, { a: null }, { a: {} }, { a: [] }, { 'a\nb': { nested: 1 } }, { ['x'.repeat(200)]: 1 },
    [], null, 'x', { constructor: 1, toString: 'x' },
  ],
};
const KEYS = Object.keys(VARIANTS);

void describe('toEventRow fast path', () => {
  void it('agrees with the schema-and-Date reference on mutated messages: same rows, same dead letters, same reasons', () => {
    const random = seeded(5);
    const pick = <T>(items: readonly T[]): T => {
      const item = items[Math.floor(random() * items.length)];
      if (item === undefined) throw new Error('empty');
      return item;
    };
    const base = {
      ...message(),
      event_id: '8f14e45f-ceea-467f-a8f5-0a1b2c3d4e5f', film_id: null, element: { kind: 'film', id: 'tt1' },
      started_at: '2026-03-10T11:58:00.125Z', ended_at: '2026-03-10T12:00:05.250Z', properties: { quality: '4k', position: 125.125 },
    };
    let ok = 0;
    let dead = 0;
    for (let i = 0; i < 6000; i++) {
      const value: Record<string, unknown> = { ...base };
      // Mostly one or two changes, so most cases stay close to valid and reach the time checks.
      const changes = random() < 0.2 ? 0 : 1 + Math.floor(random() * 2);
      for (let c = 0; c < changes; c++) {
        const key = pick(KEYS);
        value[key] = pick(VARIANTS[key] ?? []);
      }
      if (random() < 0.02) delete value[pick(KEYS)];
      if (random() < 0.02) value.extra = 1;
      const r = record(value);
      const expected = referenceToEventRow(r);
      assert.deepEqual(toEventRow(r), expected, JSON.stringify(value).slice(0, 500));
      if (expected.kind === 'ok') ok++;
      else dead++;
    }
    assert.ok(ok > 1000 && dead > 1000, `both outcomes exercised: ${ok} ok, ${dead} dead`);
  });

  void it('agrees with the reference on JSON text the object form cannot express', () => {
    const valid = JSON.stringify(message());
    for (const text of [
      valid,
      valid.replace('"v":1', '"v":1.0'),
      valid.replace('"v":1', '"v":1e0'),
      valid.replace('"v":1', '"v":1,"v":1'),
      valid.replace('"v":1', '"__proto__":{"v":1},"v":1'),
      valid.replace('"properties":{}', '"properties":{"__proto__":{"a":1}}'),
      valid.replace('"properties":{}', '"properties":{"__proto__":1}'),
      valid.replace('"properties":{}', '"properties":{"a":1,"a":{}}'),
      valid.replace('"received_at":', '"received_at":"2026-03-10T12:00:00.000Z","received_at":'),
      ` ${valid}\n`,
    ]) {
      assert.deepEqual(toEventRow(record(text)), referenceToEventRow(record(text)), text);
    }
  });

  void it('passes canonical times through unchanged and measures the interval from them', () => {
    const result = toEventRow(record(message({ occurred_at: '2024-02-29T23:59:59.999Z', started_at: '1970-01-01T00:00:00.000Z', ended_at: '9999-12-31T23:59:59.999Z' })));
    assert.equal(result.kind, 'ok');
    assert.equal(result.row.occurred_at, '2024-02-29T23:59:59.999Z');
    assert.equal(result.row.started_at, '1970-01-01T00:00:00.000Z');
    assert.equal(result.row.ended_at, '9999-12-31T23:59:59.999Z');
    assert.equal(result.row.duration_ms, Date.UTC(10000, 0) - 1);
  });
});
