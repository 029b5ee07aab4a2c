import { isUtf8 } from 'node:buffer';
import { Compile } from 'typebox/compile';
import { ELEMENT_KIND_PATTERN, EVENT_TYPE_PATTERN, EventMessage, canonicalTimeMs } from '../domain/events.ts';
import { TooDeepError, illFormedText } from '../domain/text.ts';
import type { LogRecord } from '../ports/event-log.ts';
import type { EventRow } from '../ports/warehouse.ts';
import { parseJson } from '../domain/json.ts';

/**
 * One record of the events stream → one warehouse row. Bad data is a result, not an
 * exception: anything in the stream that is not an event message (a raw message an admin
 * posted, a record from a future version) is dead-lettered with the reason.
 */
export type TransformResult = { kind: 'ok'; row: EventRow } | { kind: 'dlq'; reason: string };

const checkMessage = Compile(EventMessage);
const MAX_TIME = Date.UTC(10000, 0);

class BadTime extends Error {}

/** Other producers may write any RFC 3339 offset; the warehouse gets UTC with milliseconds. */
function utc(t: string): string {
  const ms = Date.parse(t);
  if (!Number.isFinite(ms) || ms < 0 || ms >= MAX_TIME) throw new BadTime(`time out of range: ${t}`);
  return new Date(ms).toISOString();
}

/** A JSON `\uD800`–`\uDFFF` escape (or a backslash before such text: the walk then decides). */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

export function toEventRow(record: LogRecord): TransformResult {
  // Decoding would turn invalid UTF-8 into U+FFFD silently: text is stored as sent or not at all.
  if (!isUtf8(record.value)) return { kind: 'dlq', reason: 'value is not valid UTF-8' };
  const text = record.value.toString('utf8');
  let value: unknown;
  try {
    value = parseJson(text);
  } catch {
    return { kind: 'dlq', reason: 'value is not JSON' };
  }
  // In valid UTF-8 a surrogate can only be a JSON escape: without one, no string needs walking.
  // A lone surrogate (`"abc \ud83d"`) has no UTF-8 form: the warehouse would refuse it (code 25) or store U+FFFD.
  if (SURROGATE_ESCAPE.test(text)) {
    let illFormed: string | undefined;
    try {
      illFormed = illFormedText(value)[0]?.path;
    } catch (err) {
      if (err instanceof TooDeepError) return { kind: 'dlq', reason: `value is ${err.message}` };
      throw err;
    }
    if (illFormed !== undefined) return { kind: 'dlq', reason: `lone UTF-16 surrogate in the string at ${illFormed}` };
  }
  const row = commonRow(value);
  if (row !== undefined) return { kind: 'ok', row };
  if (!checkMessage.Check(value)) {
    const first = checkMessage.Errors(value)[0];
    return { kind: 'dlq', reason: `not an event message: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}` };
  }
  try {
    return { kind: 'ok', row: toRow(value) };
  } catch (err) {
    if (err instanceof BadTime) return { kind: 'dlq', reason: err.message };
    throw err;
  }
}

function toRow(m: EventMessage): EventRow {
  const started = m.started_at === null ? null : utc(m.started_at);
  const ended = m.ended_at === null ? null : utc(m.ended_at);
  return {
    event_id: m.event_id.toLowerCase(),
    user_id: m.user_id,
    type: m.type,
    element_kind: m.element?.kind ?? '',
    element_id: m.element?.id ?? '',
    film_id: m.film_id?.toLowerCase() ?? null,
    description: m.description ?? '',
    occurred_at: utc(m.occurred_at),
    received_at: utc(m.received_at),
    started_at: started,
    ended_at: ended,
    duration_ms: started !== null && ended !== null ? Math.max(0, Date.parse(ended) - Date.parse(started)) : 0,
    properties: m.properties,
  };
}

/*
 * The fast path: the messages our own API writes (canonical UTC times from 1970 on, short
 * strings) are checked and mapped in one pass, with no schema-format functions and no Date.
 * Every test below is at least as strict as the compiled schema's, and a time it accepts is
 * one `utc` would return unchanged; anything else returns undefined and takes the slow path
 * above (the compiled schema, `utc`), which alone decides what is rejected and why.
 */
const TYPE = new RegExp(EVENT_TYPE_PATTERN, 'u');
const ELEMENT_KIND = new RegExp(ELEMENT_KIND_PATTERN, 'u');
/** `format: 'uuid'`: TypeBox's own pattern. */
const UUID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Epoch ms of a canonical time the warehouse can hold (1970 on); NaN sends the record the slow way. */
function fastTimeMs(text: string): number {
  const ms = canonicalTimeMs(text);
  return ms >= 0 ? ms : Number.NaN;
}

/**
 * The schema's `Properties`, with every value checked: the compiled schema checks only values
 * whose key matches its key pattern `^.*$`, i.e. not those of keys with a line break.
 */
function isProperties(value: unknown): value is EventRow['properties'] {
  if (!isObject(value)) return false;
  // for-in also visits inherited enumerable keys: stricter than the schema's own keys, never looser.
  for (const key in value) {
    const v = value[key];
    if (!(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) return false;
  }
  return true;
}

/** The row of a common, valid message; undefined for anything the slow path must judge. */
function commonRow(value: unknown): EventRow | undefined {
  if (!isObject(value) || Object.getOwnPropertyNames(value).length !== 12) return undefined;
  const { v, event_id, user_id, type, element, film_id, description, occurred_at, received_at, started_at, ended_at, properties } = value;
  if (v !== 1 || typeof event_id !== 'string' || !UUID.test(event_id)) return undefined;
  // Lengths in UTF-16 units bound lengths in code points from above, and 1 unit is 1 code point.
  if (typeof user_id !== 'string' || user_id.length < 1 || user_id.length > 64) return undefined;
  if (typeof type !== 'string' || !TYPE.test(type)) return undefined;
  let elementKind = '';
  let elementId = '';
  if (element !== null) {
    if (!isObject(element) || Object.getOwnPropertyNames(element).length !== 2) return undefined;
    const { kind, id } = element;
    if (typeof kind !== 'string' || !ELEMENT_KIND.test(kind) || typeof id !== 'string' || id.length < 1 || id.length > 256) return undefined;
    elementKind = kind;
    elementId = id;
  }
  if (film_id !== null && (typeof film_id !== 'string' || !UUID.test(film_id))) return undefined;
  if (description !== null && (typeof description !== 'string' || description.length > 1000)) return undefined;
  if (typeof occurred_at !== 'string' || Number.isNaN(fastTimeMs(occurred_at))) return undefined;
  if (typeof received_at !== 'string' || Number.isNaN(fastTimeMs(received_at))) return undefined;
  if ((started_at !== null && typeof started_at !== 'string') || (ended_at !== null && typeof ended_at !== 'string')) return undefined;
  const startedMs = started_at === null ? 0 : fastTimeMs(started_at);
  const endedMs = ended_at === null ? 0 : fastTimeMs(ended_at);
  if (Number.isNaN(startedMs) || Number.isNaN(endedMs) || !isProperties(properties)) return undefined;
  return {
    event_id: event_id.toLowerCase(),
    user_id,
    type,
    element_kind: elementKind,
    element_id: elementId,
    film_id: film_id === null ? null : film_id.toLowerCase(),
    description: description ?? '',
    occurred_at,
    received_at,
    started_at,
    ended_at,
    duration_ms: started_at !== null && ended_at !== null ? Math.max(0, endedMs - startedMs) : 0,
    properties,
  };
}
