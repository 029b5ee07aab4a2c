import { randomUUID } from 'node:crypto';
import { Type, type Static } from 'typebox';
import type { FieldError } from './errors.ts';
import { MAX_PROPERTIES_BYTES, correctTimes, eventErrors, skewOf } from './event-rules.ts';
import { parseRfc3339 } from './time.ts';

export { MAX_PROPERTIES_BYTES };

/**
 * Behaviour events: what the API accepts, what it writes to the event log (the message,
 * versioned, times already corrected) and the rules the schema alone cannot express.
 */
export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9_]{0,63}$';
export const ELEMENT_KIND_PATTERN = '^[a-z][a-z0-9_]{0,31}$';
const DAY_MS = 86_400_000;

export const Element = Type.Object(
  {
    kind: Type.String({ pattern: ELEMENT_KIND_PATTERN, description: 'film, trailer, category, person, page, ...' }),
    id: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

const PROPERTY_VALUE = { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] };

/**
 * Event properties as the API takes them. `additionalProperties` + `propertyNames`, not
 * `Type.Record`: a record's `patternProperties: {"^.*$": …}` does not match a key with a line
 * break, so such a key's value escaped validation (and its `maxLength` was never checked), and
 * the response serializer dropped the key. Any key is stored as sent (the warehouse keeps
 * properties as JSON text, where a control character is an escape).
 */
export const Properties = Type.Unsafe<Record<string, string | number | boolean>>({
  type: 'object',
  propertyNames: { maxLength: 128 },
  additionalProperties: PROPERTY_VALUE,
  description: 'Flat object of string, number (finite) and boolean values, at most 8 KiB serialized; keys of at most 128 characters.',
});

/**
 * Properties in a log message and in the warehouse: any key. Messages already in the log were
 * written when keys had no length limit, and they stay loadable.
 */
export const StoredProperties = Type.Unsafe<Record<string, string | number | boolean>>({
  type: 'object',
  additionalProperties: PROPERTY_VALUE,
  description: 'Flat object of string, number and boolean values.',
});

/** The event as written to the log: one JSON message per event, keyed by user id. */
export const EventMessage = Type.Object(
  {
    v: Type.Literal(1),
    event_id: Type.String({ format: 'uuid' }),
    user_id: Type.String({ minLength: 1, maxLength: 64 }),
    type: Type.String({ pattern: EVENT_TYPE_PATTERN }),
    element: Type.Union([Element, Type.Null()]),
    film_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    description: Type.Union([Type.String({ maxLength: 1000 }), Type.Null()]),
    occurred_at: Type.String({ format: 'date-time' }),
    received_at: Type.String({ format: 'date-time' }),
    started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    ended_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    properties: StoredProperties,
  },
  { additionalProperties: false },
);
export type EventMessage = Static<typeof EventMessage>;

/** An event as a client sends it (validated by the API schema before it gets here). */
export interface EventInput {
  event_id?: string | undefined;
  type: string;
  element?: { kind: string; id: string } | undefined;
  film_id?: string | undefined;
  description?: string | undefined;
  occurred_at?: string | undefined;
  started_at?: string | undefined;
  ended_at?: string | undefined;
  properties?: Record<string, string | number | boolean> | undefined;
}

export interface NormalizeContext {
  userId: string;
  receivedAt: Date;
  /** The batch's `sent_at`: client times are shifted by `received_at - sent_at`. */
  sentAt?: string | undefined;
  /** JSON Pointer prefix of each event: `/events/3` in a batch, `` for a single event. */
  pathOf: (index: number) => string;
}

export type NormalizeResult = { ok: true; messages: EventMessage[] } | { ok: false; errors: FieldError[] };

/**
 * Turns validated input into log messages, or lists every rule broken, by index. Clock skew
 * and future times are corrected by `correctTimes` (event-rules.ts); times are written in the
 * canonical form `YYYY-MM-DDTHH:MM:SS.mmmZ`.
 */
export function normalizeEvents(inputs: readonly EventInput[], ctx: NormalizeContext): NormalizeResult {
  const received = ctx.receivedAt.getTime();
  const skew = skewOf(ctx.sentAt, received);
  const receivedAt = ctx.receivedAt.toISOString();
  const errors: FieldError[] = [];
  const messages = inputs.map((input, index): EventMessage => {
    errors.push(...eventErrors(input, ctx.pathOf(index), skew, received));
    const times = correctTimes(input as unknown as Record<string, unknown>, skew, received);
    // Without a correction a canonical time is already its own normal form: no round trip through a Date.
    const written = (field: 'occurred_at' | 'started_at' | 'ended_at'): string | null => {
      const sent = input[field];
      const t = times[field];
      if (sent === undefined || t === undefined) return null;
      return t === canonicalTimeMs(sent) ? sent : isoTime(t);
    };
    return {
      v: 1,
      event_id: input.event_id?.toLowerCase() ?? randomUUID(),
      user_id: ctx.userId,
      type: input.type,
      element: input.element ?? null,
      film_id: input.film_id?.toLowerCase() ?? null,
      description: input.description ?? null,
      occurred_at: written('occurred_at') ?? receivedAt,
      received_at: receivedAt,
      started_at: written('started_at'),
      ended_at: written('ended_at'),
      properties: input.properties ?? {},
    };
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, messages };
}

/*
 * Times in their canonical form, `YYYY-MM-DDTHH:MM:SS.mmmZ` (what `toISOString` writes for
 * years 0000-9999), are parsed and written here without a Date: `Date.parse` + `toISOString`
 * were the largest cost of normalising a batch and of the ETL transform. Anything else
 * (offsets, other fraction lengths, leap seconds) takes `parseRfc3339`, so a
 * fast path never gives a different answer, only a quicker one.
 */

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** 10000-01-01T00:00:00.000Z: the first instant with a five-digit year. */
const YEAR_10000_MS = 253_402_300_800_000;
const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** The digit at `i`, or a negative number large enough to fail every range check after it. */
function digit(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1_000_000;
}

/**
 * Epoch milliseconds of a canonical time with a real date and time (second 00-59), equal to
 * `Date.parse(text)`; NaN for any other text, which the caller then parses the slow way.
 */
export function canonicalTimeMs(text: string): number {
  if (
    text.length !== 24 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 ||
    text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46 || text.charCodeAt(23) !== 90
  ) return Number.NaN;
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3);
  const month = digit(text, 5) * 10 + digit(text, 6);
  const day = digit(text, 8) * 10 + digit(text, 9);
  const hour = digit(text, 11) * 10 + digit(text, 12);
  const minute = digit(text, 14) * 10 + digit(text, 15);
  const second = digit(text, 17) * 10 + digit(text, 18);
  const ms = digit(text, 20) * 100 + digit(text, 21) * 10 + digit(text, 22);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) {
    return Number.NaN;
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month] ?? 0))) return Number.NaN;
  return daysFromCivil(year, month, day) * DAY_MS + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
}

/** `parseRfc3339`, without a Date for canonical text. */
export function timeMs(text: string): number {
  const ms = canonicalTimeMs(text);
  return Number.isNaN(ms) ? parseRfc3339(text) : ms;
}

/** `new Date(ms).toISOString()` (and its RangeError for NaN), without a Date from 1970 to 9999. */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000_MS && Number.isInteger(ms))) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  const [year, month, day] = civilFromDays(days);
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  rest -= second * 1000;
  return `${PAD2[Math.floor(year / 100)]}${PAD2[year % 100]}-${PAD2[month]}-${PAD2[day]}T${PAD2[hour]}:${PAD2[minute]}:${PAD2[second]}.${PAD3[rest]}Z`;
}

// Proleptic Gregorian day arithmetic (H. Hinnant, "chrono-compatible low-level date algorithms").
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}
