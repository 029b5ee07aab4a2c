import { randomUUID } from 'node:crypto';
import { Type, type Static } from 'typebox';
import type { FieldError } from './errors.ts';

/**
 * Behaviour events: what the API accepts, what it writes to the event log (the message,
 * versioned, times already corrected) and the rules the schema alone cannot express.
 */
export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9_]{0,63}$';
export const MAX_PROPERTIES_BYTES = 8 * 1024;
const DAY_MS = 86_400_000;

export const Element = Type.Object(
  {
    kind: Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', description: 'film, trailer, category, person, page, ...' }),
    id: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

export const Properties = Type.Record(Type.String({ maxLength: 128 }), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
  description: 'Flat object of string, number and boolean values, at most 8 KiB serialized.',
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
    properties: Properties,
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
 * Turns validated input into log messages, or lists every rule broken, by index. Clock skew:
 * a client time `t` becomes `received_at - (sent_at - t)`; a time more than 24 h ahead of
 * `received_at` (a client clock far off) is clamped to `received_at`.
 */
export function normalizeEvents(inputs: readonly EventInput[], ctx: NormalizeContext): NormalizeResult {
  const received = ctx.receivedAt.getTime();
  const skew = ctx.sentAt === undefined ? 0 : received - Date.parse(ctx.sentAt);
  const clientTime = (iso: string | undefined): string | null => {
    if (iso === undefined) return null;
    const t = Date.parse(iso) + skew;
    return new Date(t > received + DAY_MS ? received : t).toISOString();
  };
  const receivedAt = ctx.receivedAt.toISOString();
  const errors: FieldError[] = [];
  const messages = inputs.map((input, index): EventMessage => {
    const path = ctx.pathOf(index);
    if (input.started_at !== undefined && input.ended_at !== undefined && Date.parse(input.ended_at) < Date.parse(input.started_at)) {
      errors.push({ path: `${path}/ended_at`, message: 'must not be before started_at' });
    }
    const properties = input.properties ?? {};
    if (Buffer.byteLength(JSON.stringify(properties)) > MAX_PROPERTIES_BYTES) {
      errors.push({ path: `${path}/properties`, message: `must be at most ${MAX_PROPERTIES_BYTES} bytes serialized` });
    }
    return {
      v: 1,
      event_id: input.event_id?.toLowerCase() ?? randomUUID(),
      user_id: ctx.userId,
      type: input.type,
      element: input.element ?? null,
      film_id: input.film_id?.toLowerCase() ?? null,
      description: input.description ?? null,
      occurred_at: clientTime(input.occurred_at) ?? receivedAt,
      received_at: receivedAt,
      started_at: clientTime(input.started_at),
      ended_at: clientTime(input.ended_at),
      properties,
    };
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, messages };
}
