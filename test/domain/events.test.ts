import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EventInput, MAX_PROPERTIES_BYTES, type NormalizeContext, type NormalizeResult, canonicalTimeMs, isoTime, normalizeEvents, timeMs } from '../../src/domain/events.ts';
import { CORRECTED_TOO_EARLY_MESSAGE } from '../../src/domain/event-rules.ts';
import { STORABLE_MAX_MS, STORABLE_RANGE_MESSAGE, isRfc3339, parseRfc3339 } from '../../src/domain/time.ts';
import { seeded } from '../helpers/random.ts';

const DAY_MS = 86_400_000;
const YEAR_10000_MS = Date.UTC(10000, 0);
/** 0000-01-01T00:00:00.000Z (Date.UTC would read year 0 as 1900). */
const YEAR_0_MS = new Date(0).setUTCFullYear(0, 0, 1);

/** Texts near and beyond the edges of the canonical form; every one must parse as `Date.parse` does. */
const TRICKY_TIMES = [
  '2026-03-10T12:00:00.000Z',
  '1970-01-01T00:00:00.000Z',
  '1969-12-31T23:59:59.999Z',
  '0000-01-01T00:00:00.000Z',
  '0099-12-31T23:59:59.999Z', // two-digit years: Date.UTC would read them as 19xx
  '0100-03-01T00:00:00.000Z',
  '9999-12-31T23:59:59.999Z',
  '2024-02-29T12:00:00.000Z', // leap day
  '2000-02-29T00:00:00.000Z', // leap day of a century divisible by 400
  '2023-02-29T00:00:00.000Z', // no such day
  '2100-02-29T00:00:00.000Z', // no such day (century)
  '2026-04-31T00:00:00.000Z',
  '2026-00-10T00:00:00.000Z',
  '2026-13-10T00:00:00.000Z',
  '2026-03-00T00:00:00.000Z',
  '2026-03-32T00:00:00.000Z',
  '2026-03-10T24:00:00.000Z', // ES allows 24:00 as the end of the day
  '2026-03-10T23:60:00.000Z',
  '2016-12-31T23:59:60.000Z', // leap second
  '2026-03-10T12:00:00Z', // no fraction
  '2026-03-10T12:00:00.5Z',
  '2026-03-10T12:00:00.12Z',
  '2026-03-10T12:00:00.1234Z',
  '2026-03-10T12:00:00.123456789Z',
  '2026-03-10T12:00:00.000+00:00',
  '2026-03-10T12:00:00.000-00:00',
  '2026-03-10T14:00:00.000+02:00',
  '2026-03-10T07:30:00.000-04:30',
  '2026-03-10t12:00:00.000z',
  '2026-03-10 12:00:00.000Z',
  '2026-03-10T12:00:00.000',
  '+002026-03-10T12:00:00.000Z',
  '-000001-03-10T12:00:00.000Z',
  '2026-03-10T12:00:00.000Z[Europe/Paris]',
  ' 2026-03-10T12:00:00.000Z',
  '2026-03-10T12:00:00.000Z ',
  '２０２６-03-10T12:00:00.000Z', // fullwidth digits
  '2026-0a-10T12:00:00.000Z',
  '2026/03/10T12:00:00.000Z',
  '2026-03-10T12:00:00,000Z',
  'Tue, 10 Mar 2026 12:00:00 GMT',
  '',
  'not a time at all, 24 ch',
];

/** The texts of TRICKY_TIMES that are not RFC 3339 times (ajv-formats took some of them, Date.parse more). */
const NOT_RFC3339 = new Set([
  '2023-02-29T00:00:00.000Z', '2100-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z', '2026-00-10T00:00:00.000Z',
  '2026-13-10T00:00:00.000Z', '2026-03-00T00:00:00.000Z', '2026-03-32T00:00:00.000Z', '2026-03-10T24:00:00.000Z',
  '2026-03-10T23:60:00.000Z', '2026-03-10T12:00:00.000', '+002026-03-10T12:00:00.000Z', '-000001-03-10T12:00:00.000Z',
  '2026-03-10T12:00:00.000Z[Europe/Paris]', ' 2026-03-10T12:00:00.000Z', '2026-03-10T12:00:00.000Z ', '２０２６-03-10T12:00:00.000Z',
  '2026-0a-10T12:00:00.000Z', '2026/03/10T12:00:00.000Z', '2026-03-10T12:00:00,000Z', 'Tue, 10 Mar 2026 12:00:00 GMT', '',
  'not a time at all, 24 ch',
]);

/** What a time text means: NaN unless RFC 3339; a leap second is 23:59:59.999; else Date.parse of the upper-case `T` form. */
function expectedMs(text: string): number {
  if (NOT_RFC3339.has(text)) return Number.NaN;
  if (text === '2016-12-31T23:59:60.000Z') return Date.UTC(2016, 11, 31, 23, 59, 59, 999);
  return Date.parse(text.toUpperCase().replace(' ', 'T'));
}

function isoOrError(ms: number): string {
  try {
    return new Date(ms).toISOString();
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

function fastIsoOrError(ms: number): string {
  try {
    return isoTime(ms);
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

void describe('time text without a Date', () => {
  void it('parses RFC 3339 (and nothing else), and only canonical text on the fast path', () => {
    for (const text of TRICKY_TIMES) {
      assert.equal(timeMs(text), expectedMs(text), text);
      assert.equal(parseRfc3339(text), expectedMs(text), text);
      assert.equal(isRfc3339(text), !NOT_RFC3339.has(text), text);
      const fast = canonicalTimeMs(text);
      if (!Number.isNaN(fast)) {
        assert.equal(fast, Date.parse(text), text);
        assert.equal(new Date(fast).toISOString(), text, `${text} is its own normal form`);
      }
    }
    assert.ok(Number.isNaN(canonicalTimeMs('2016-12-31T23:59:60.000Z')), 'a leap second is left to parseRfc3339');
    assert.ok(Number.isNaN(canonicalTimeMs('2026-03-10T24:00:00.000Z')), '24:00 is not a time');
    assert.ok(Number.isNaN(canonicalTimeMs('2026-03-10T12:00:00Z')), 'no fraction is left to parseRfc3339');
    assert.equal(canonicalTimeMs('2024-02-29T12:00:00.000Z'), Date.UTC(2024, 1, 29, 12));
    assert.equal(canonicalTimeMs('9999-12-31T23:59:59.999Z'), YEAR_10000_MS - 1);
  });

  void it('agrees with Date on random instants from year 0 to 9999, both ways', () => {
    const random = seeded(7);
    for (let i = 0; i < 20_000; i++) {
      const ms = YEAR_0_MS + Math.floor(random() * (YEAR_10000_MS - YEAR_0_MS));
      const text = new Date(ms).toISOString();
      assert.equal(canonicalTimeMs(text), ms, text);
      assert.equal(isoTime(ms), text, text);
    }
  });

  void it('agrees with Date at day, month, year and century boundaries', () => {
    for (const year of [0, 1, 4, 99, 100, 400, 1600, 1900, 1969, 1970, 1971, 2000, 2024, 2100, 2400, 9999]) {
      for (let month = 0; month < 12; month++) {
        for (const day of [1, 28, 29, 30, 31]) {
          const date = new Date(0);
          date.setUTCFullYear(year, month, day);
          for (const ms of [date.getTime() - 1, date.getTime(), date.getTime() + 86_399_999]) {
            const text = isoOrError(ms);
            assert.equal(fastIsoOrError(ms), text, String(ms));
            if (ms >= YEAR_0_MS && ms < YEAR_10000_MS) assert.equal(canonicalTimeMs(text), ms, text);
          }
        }
      }
    }
  });

  void it('writes what toISOString writes outside 1970-9999 too, and throws as it does for NaN', () => {
    for (const ms of [-1, -62_167_219_200_000, YEAR_10000_MS, YEAR_10000_MS - 1, 8.64e15, -8.64e15, 0, 0.5, 1.5]) {
      assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
    }
    assert.throws(() => isoTime(Number.NaN), RangeError);
    assert.throws(() => isoTime(8.64e15 + 1), RangeError);
  });
});

/**
 * normalizeEvents written the plain way (a Date for every time), kept as the reference the
 * fast paths are compared with: times must be storable (1970..2299), ended_at not before
 * started_at, times corrected by sent_at still from 1970 on; a time more than 24 h ahead is
 * clamped to received_at, and an interval ending that far ahead is moved back whole.
 */
function referenceNormalize(inputs: readonly EventInput[], ctx: NormalizeContext): NormalizeResult {
  const received = ctx.receivedAt.getTime();
  const skew = ctx.sentAt === undefined ? 0 : received - parseRfc3339(ctx.sentAt);
  const parse = (iso: string | undefined): number | null => (iso === undefined ? null : parseRfc3339(iso));
  const receivedAt = ctx.receivedAt.toISOString();
  const errors: { path: string; message: string }[] = [];
  const messages = inputs.map((input, index) => {
    const path = ctx.pathOf(index);
    const raw = { occurred_at: parse(input.occurred_at), started_at: parse(input.started_at), ended_at: parse(input.ended_at) };
    const before = errors.length;
    for (const [field, t] of Object.entries(raw)) {
      if (t !== null && (t < 0 || t > STORABLE_MAX_MS)) errors.push({ path: `${path}/${field}`, message: STORABLE_RANGE_MESSAGE });
    }
    if (raw.started_at !== null && raw.ended_at !== null && raw.ended_at < raw.started_at) {
      errors.push({ path: `${path}/ended_at`, message: 'must not be before started_at' });
    }
    const t = {
      occurred_at: raw.occurred_at === null ? null : raw.occurred_at + skew,
      started_at: raw.started_at === null ? null : raw.started_at + skew,
      ended_at: raw.ended_at === null ? null : raw.ended_at + skew,
    };
    const latest = received + DAY_MS;
    if (t.occurred_at !== null && t.occurred_at > latest) t.occurred_at = received;
    if (t.started_at !== null && t.ended_at !== null && t.ended_at >= t.started_at) {
      if (t.ended_at > latest) {
        t.started_at -= t.ended_at - received;
        t.ended_at = received;
      }
    } else {
      if (t.started_at !== null && t.started_at > latest) t.started_at = received;
      if (t.ended_at !== null && t.ended_at > latest) t.ended_at = received;
    }
    if (errors.length === before) {
      for (const [field, v] of Object.entries(t)) {
        if (v !== null && v < 0) errors.push({ path: `${path}/${field}`, message: CORRECTED_TOO_EARLY_MESSAGE });
      }
    }
    const properties = input.properties ?? {};
    if (Buffer.byteLength(JSON.stringify(properties)) > MAX_PROPERTIES_BYTES) {
      errors.push({ path: `${path}/properties`, message: `must be at most ${MAX_PROPERTIES_BYTES} bytes serialized` });
    }
    const iso = (v: number | null): string | null => (v === null ? null : new Date(v).toISOString());
    return {
      v: 1 as const,
      event_id: input.event_id?.toLowerCase() ?? 'generated',
      user_id: ctx.userId,
      type: input.type,
      element: input.element ?? null,
      film_id: input.film_id?.toLowerCase() ?? null,
      description: input.description ?? null,
      occurred_at: iso(t.occurred_at) ?? receivedAt,
      received_at: receivedAt,
      started_at: iso(t.started_at),
      ended_at: iso(t.ended_at),
      properties,
    };
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, messages };
}

function outcome(run: () => NormalizeResult): NormalizeResult | string {
  try {
    return run();
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

/** Client times the API's `date-time` format accepts. */
const CLIENT_TIMES = TRICKY_TIMES.filter(isRfc3339);

void describe('normalizeEvents', () => {
  void it('gives the same messages and errors as the Date-based reference, with and without skew', () => {
    const receivedAt = new Date('2026-03-10T12:00:00.000Z');
    const sentAts = [
      undefined,
      '2026-03-10T12:00:00.000Z', // no skew
      '2026-03-10T11:59:00.000Z', // client 1 min behind
      '2026-03-10T12:00:07.250Z', // client ahead
      '2026-03-10T13:00:00+01:00', // no skew, written with an offset
      '2026-03-09T12:00:00Z', // a day behind: client times move forward by a day
      '2026-03-12T00:00:00.5Z',
    ];
    const times = [...CLIENT_TIMES, '2026-03-11T12:00:00.000Z', '2026-03-11T12:00:00.001Z', '2026-03-11T11:59:59.999Z', '2026-03-13T00:00:00.000Z'];
    const random = seeded(11);
    let compared = 0;
    for (const sentAt of sentAts) {
      for (let i = 0; i < 400; i++) {
        const pick = (): string | undefined => (random() < 0.15 ? undefined : times[Math.floor(random() * times.length)]);
        const inputs: EventInput[] = Array.from({ length: 3 }, (_, k): EventInput => {
          const size = random();
          const properties: EventInput['properties'] =
            size < 0.3 ? { q: 'x'.repeat(Math.floor(random() * 9000)), n: 1 } : size < 0.4 ? { q: 'é'.repeat(4090 + Math.floor(random() * 5)) } : undefined;
          return { event_id: `E${i}-${k}`, type: 'view', occurred_at: pick(), started_at: pick(), ended_at: pick(), properties };
        });
        const ctx: NormalizeContext = { userId: 'user-1', receivedAt, sentAt, pathOf: (index) => `/events/${index}` };
        assert.deepEqual(outcome(() => normalizeEvents(inputs, ctx)), outcome(() => referenceNormalize(inputs, ctx)), JSON.stringify({ sentAt, inputs }).slice(0, 400));
        compared++;
      }
    }
    assert.equal(compared, sentAts.length * 400);
  });

  void it('keeps a canonical client time as sent when there is no skew, and clamps the far future', () => {
    const result = normalizeEvents(
      [{ type: 'click', occurred_at: '2024-02-29T23:59:59.999Z' }, { type: 'click', occurred_at: '2026-03-11T12:00:00.001Z' }, { type: 'click', occurred_at: '2026-03-10T13:00:00+01:00' }],
      { userId: 'u', receivedAt: new Date('2026-03-10T12:00:00.000Z'), pathOf: (i) => `/events/${i}` },
    );
    assert.ok(result.ok);
    assert.deepEqual(result.messages.map((m) => m.occurred_at), ['2024-02-29T23:59:59.999Z', '2026-03-10T12:00:00.000Z', '2026-03-10T12:00:00.000Z']);
  });

  void it('counts the properties limit in UTF-8 bytes', () => {
    const ctx: NormalizeContext = { userId: 'u', receivedAt: new Date(), pathOf: (i) => `/events/${i}` };
    // {"q":"…"} is 8 bytes around the value; é is 2 bytes in UTF-8.
    const fits = normalizeEvents([{ type: 'click', properties: { q: 'é'.repeat((MAX_PROPERTIES_BYTES - 8) / 2) } }], ctx);
    assert.ok(fits.ok);
    const over = normalizeEvents([{ type: 'click', properties: { q: `${'é'.repeat((MAX_PROPERTIES_BYTES - 8) / 2)}x` } }], ctx);
    assert.deepEqual(over, { ok: false, errors: [{ path: '/events/0/properties', message: `must be at most ${MAX_PROPERTIES_BYTES} bytes serialized` }] });
    // 中 is 3 bytes in UTF-8 but one UTF-16 unit: 2,731 of them are 8,201 bytes in 2,739 units.
    const wide = normalizeEvents([{ type: 'click', properties: { q: '中'.repeat(2731) } }], ctx);
    assert.deepEqual(wide, { ok: false, errors: [{ path: '/events/0/properties', message: `must be at most ${MAX_PROPERTIES_BYTES} bytes serialized` }] });
    assert.ok(normalizeEvents([{ type: 'click', properties: { q: '中'.repeat(2728) } }], ctx).ok);
  });
});
