import { Compile } from 'typebox/compile';
import { EventMessage } from '../domain/events.ts';
import type { LogRecord } from '../ports/event-log.ts';
import type { EventRow } from '../ports/warehouse.ts';

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

export function toEventRow(record: LogRecord): TransformResult {
  let value: unknown;
  try {
    value = JSON.parse(record.value.toString('utf8'));
  } catch {
    return { kind: 'dlq', reason: 'value is not JSON' };
  }
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
