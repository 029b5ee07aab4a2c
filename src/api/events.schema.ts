import { Type, type Static } from 'typebox';
import { EVENT_TYPE_PATTERN, Element, Properties } from '../domain/events.ts';
import { EVENT_RULES_KEYWORD } from '../domain/event-rules.ts';
import { STORABLE_RANGE_MESSAGE, STORABLE_YEARS_PATTERN } from '../domain/time.ts';
import { Uuid } from './common.schema.ts';

/**
 * An event time: RFC 3339 (a leap second is read as :59.999), from 1970 to 2299, the instants
 * every warehouse can store; the pattern states the years, the rule checks the instant (an
 * offset can move 1970-01-01T00:30+01:00 into 1969). More than 24 h ahead is clamped to the
 * receive time, an interval moved back whole.
 */
const EventTime = (description: string) =>
  Type.String({ format: 'date-time', pattern: STORABLE_YEARS_PATTERN, description: `${description} ${STORABLE_RANGE_MESSAGE.replace('must be between', 'Between')}.` });

export const EventInput = Type.Object(
  {
    event_id: Type.Optional(Type.String({ format: 'uuid', description: 'Generated when absent; the same id sent twice is stored once.' })),
    type: Type.String({ pattern: EVENT_TYPE_PATTERN, examples: ['click', 'view', 'page_view', 'playback_start'] }),
    element: Type.Optional(Element),
    film_id: Type.Optional(Uuid),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    occurred_at: Type.Optional(EventTime("When it happened, by the client's clock (corrected as `sent_at` says); the receive time when absent.")),
    started_at: Type.Optional(EventTime("Start of an interval (view, playback), by the client's clock (corrected as `sent_at` says).")),
    ended_at: Type.Optional(EventTime("End of the interval, not before started_at, by the client's clock (corrected as `sent_at` says).")),
    properties: Type.Optional(Properties),
  },
  { additionalProperties: false, $id: 'EventInput' },
);
export type EventInput = Static<typeof EventInput>;

/** What the service does with a batch's times (domain/event-rules.ts, `skewOf` and `correctTimes`). */
const SENT_AT_DESCRIPTION =
  "When the client sent the batch, by its own clock. Every time of the batch is shifted by `received_at - sent_at`, so a client whose clock is off still stores times on the server's clock (events dated 2026-01-01T12:00Z sent with `sent_at` 2026-01-01T12:00:05Z are stored as of 5 s before they arrived). " +
  'After that shift, a time more than 24 h ahead of the receive time is clamped to the receive time (an interval is moved back whole, keeping its length). ' +
  'Without `sent_at` (and for a single event) times are stored as sent, clamped the same way.';

export const EventBatch = Type.Object(
  {
    sent_at: Type.Optional(Type.String({ format: 'date-time', description: SENT_AT_DESCRIPTION })),
    events: Type.Array(Type.Unsafe<EventInput>({ $ref: 'EventInput#' }), { minItems: 1, maxItems: 1000 }),
  },
  { additionalProperties: false },
);
export type EventBatch = Static<typeof EventBatch>;

/**
 * The body the docs page pre-fills: a click on a film's trailer, then the view of it. Fixed dates
 * stay valid whenever it is sent: `sent_at` shifts them to the time it arrives.
 */
const EVENTS_EXAMPLE: EventBatch = {
  sent_at: '2026-01-01T12:00:05.000Z',
  events: [
    { type: 'click', element: { kind: 'trailer', id: 'trailer-1' }, film_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6', occurred_at: '2026-01-01T11:58:00.000Z' },
    {
      type: 'view',
      film_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      started_at: '2026-01-01T11:58:02.000Z',
      ended_at: '2026-01-01T12:00:00.000Z',
      properties: { quality: '1080p', muted: false },
    },
  ],
};

/**
 * One event, or a batch. `if/then/else` rather than `anyOf` so a bad batch reports the batch's
 * errors only, not also why it is not a single event.
 */
export const EventsBody = Type.Unsafe<EventInput | EventBatch>({
  type: 'object',
  // The rules of domain/event-rules.ts (times in the storable range, ended_at not before
  // started_at, finite numbers, properties size), checked beside the schema: see validation.ts.
  [EVENT_RULES_KEYWORD]: true,
  if: { type: 'object', required: ['events'] },
  then: EventBatch,
  else: { $ref: 'EventInput#' },
  description: 'One event, or `{sent_at?, events: [...]}` with 1..1000 events.',
  examples: [EVENTS_EXAMPLE],
});

export const Accepted = Type.Object({ accepted: Type.Integer({ minimum: 1 }) });
