import type { FieldError } from './errors.ts';
import { pointerToken } from './text.ts';
import { STORABLE_MIN_MS, STORABLE_RANGE_MESSAGE, isStorable, parseRfc3339 } from './time.ts';

/**
 * The rules of an event the schema alone cannot express, and the client-clock correction they
 * depend on. The API's validator runs them on the whole body beside the schema (so one 400
 * lists schema and rule errors of every event together), and `normalizeEvents` runs them
 * again on what it writes. Inputs are `unknown`: a field of the wrong type is the schema's
 * error, and a rule simply does not look at it.
 */
export const MAX_PROPERTIES_BYTES = 8 * 1024;
/** The JSON Schema keyword (on the `POST /events` body) under which the API's validator runs `eventsBodyErrors`. */
export const EVENT_RULES_KEYWORD = 'x-event-rules';
const DAY_MS = 86_400_000;
export const CORRECTED_TOO_EARLY_MESSAGE =
  'is before 1970-01-01T00:00:00.000Z once corrected (shifted by received_at - sent_at, or with its interval moved back from more than 24 h ahead)';
const TIME_FIELDS = ['occurred_at', 'started_at', 'ended_at'] as const;
type TimeField = (typeof TIME_FIELDS)[number];

/** Event times in epoch ms after clock correction; absent or unreadable fields are left out. */
export type CorrectedTimes = Partial<Record<TimeField, number>>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function timeOf(value: unknown): number {
  return typeof value === 'string' ? parseRfc3339(value) : Number.NaN;
}

/** `received - sent_at` in ms, the shift applied to every client time of a batch; 0 without a readable `sent_at`. */
export function skewOf(sentAt: unknown, receivedMs: number): number {
  const sent = timeOf(sentAt);
  return Number.isNaN(sent) ? 0 : receivedMs - sent;
}

/**
 * A client time `t` becomes `t + skew`. A time more than 24 h ahead of `received` (a client
 * clock far off) is clamped to `received`; an interval whose end is that far ahead is moved
 * back as a whole so it ends at `received`, keeping its length (the difference of two client
 * times does not depend on the client's clock) and never ending before it starts.
 */
export function correctTimes(event: Record<string, unknown>, skew: number, receivedMs: number): CorrectedTimes {
  const latest = receivedMs + DAY_MS;
  const out: CorrectedTimes = {};
  for (const field of TIME_FIELDS) {
    const t = timeOf(event[field]);
    if (!Number.isNaN(t)) out[field] = t + skew;
  }
  if (out.occurred_at !== undefined && out.occurred_at > latest) out.occurred_at = receivedMs;
  const { started_at: started, ended_at: ended } = out;
  if (started !== undefined && ended !== undefined && ended >= started) {
    if (ended > latest) {
      out.started_at = started - (ended - receivedMs);
      out.ended_at = receivedMs;
    }
  } else {
    if (started !== undefined && started > latest) out.started_at = receivedMs;
    if (ended !== undefined && ended > latest) out.ended_at = receivedMs;
  }
  return out;
}

/** Every rule `event` (at JSON Pointer `path`) breaks, given the batch's clock correction. */
export function eventErrors(event: unknown, path: string, skew: number, receivedMs: number): FieldError[] {
  if (!isObject(event)) return [];
  const errors: FieldError[] = [];
  for (const field of TIME_FIELDS) {
    const t = timeOf(event[field]);
    if (!Number.isNaN(t) && !isStorable(t)) errors.push({ path: `${path}/${field}`, message: STORABLE_RANGE_MESSAGE });
  }
  const started = timeOf(event.started_at);
  const ended = timeOf(event.ended_at);
  if (ended < started) errors.push({ path: `${path}/ended_at`, message: 'must not be before started_at' });
  // A storable client time can still leave the range once corrected: moved by sent_at, or an
  // interval ending more than 24 h ahead moved back whole (a decades-long one, before 1970).
  if (errors.length === 0) {
    const corrected = correctTimes(event, skew, receivedMs);
    for (const field of TIME_FIELDS) {
      const t = corrected[field];
      if (t !== undefined && t < STORABLE_MIN_MS) errors.push({ path: `${path}/${field}`, message: CORRECTED_TOO_EARLY_MESSAGE });
    }
  }
  const properties = event.properties;
  if (isObject(properties)) {
    for (const [key, value] of Object.entries(properties)) {
      // JSON.parse reads 1e309 as Infinity, which JSON (and so the warehouse) cannot hold.
      if (typeof value === 'number' && !Number.isFinite(value)) {
        errors.push({ path: `${path}/properties/${pointerToken(key)}`, message: 'must be a finite number' });
      }
    }
    if (propertiesTooLarge(properties)) {
      errors.push({ path: `${path}/properties`, message: `must be at most ${MAX_PROPERTIES_BYTES} bytes serialized` });
    }
  }
  return errors;
}

function propertiesTooLarge(properties: Record<string, unknown>): boolean {
  const json = JSON.stringify(properties);
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so short text needs no byte count.
  return json.length * 3 > MAX_PROPERTIES_BYTES && Buffer.byteLength(json) > MAX_PROPERTIES_BYTES;
}

/** The rule errors of a whole `POST /events` body (one event, or `{sent_at, events}`), by JSON Pointer. */
export function eventsBodyErrors(body: unknown, receivedMs: number): FieldError[] {
  if (!isObject(body)) return [];
  if (!('events' in body)) return eventErrors(body, '', 0, receivedMs);
  if (!Array.isArray(body.events)) return [];
  const skew = skewOf(body.sent_at, receivedMs);
  return body.events.flatMap((event, i) => eventErrors(event, `/events/${i}`, skew, receivedMs));
}
