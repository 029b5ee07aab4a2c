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
    occurred_at: Type.Optional(EventTime('Client time; server time when absent.')),
    started_at: Type.Optional(EventTime('Start of an interval (view, playback).')),
    ended_at: Type.Optional(EventTime('Not before started_at.')),
    properties: Type.Optional(Properties),
  },
  { additionalProperties: false, $id: 'EventInput' },
);
export type EventInput = Static<typeof EventInput>;

export const EventBatch = Type.Object(
  {
    sent_at: Type.Optional(Type.String({ format: 'date-time', description: 'Client time of sending; corrects client clock skew.' })),
    events: Type.Array(Type.Unsafe<EventInput>({ $ref: 'EventInput#' }), { minItems: 1, maxItems: 1000 }),
  },
  { additionalProperties: false },
);
export type EventBatch = Static<typeof EventBatch>;

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
});

export const Accepted = Type.Object({ accepted: Type.Integer({ minimum: 1 }) });
