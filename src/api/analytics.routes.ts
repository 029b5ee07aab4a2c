import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ValidationError } from '../domain/errors.ts';
import { Element, StoredProperties } from '../domain/events.ts';
import { clampToStorable, parseRfc3339 } from '../domain/time.ts';
import type { TimeRange, Warehouse } from '../ports/warehouse.ts';
import { adminOnly } from './auth.ts';
import { Timestamp, Uuid, answer, problems } from './common.schema.ts';

const DEFAULT_RANGE_MS = 30 * 86_400_000;

/** `from`/`to` of every analytics route. */
export const RangeQuery = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive; default `to` minus 30 days' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Exclusive; default now' })),
};

/** An optional `limit` in 1..max. */
export const Limit = (max: number, dflt: number) => Type.Optional(Type.Integer({ minimum: 1, maximum: max, default: dflt }));

const StoredEvent = Type.Object({
  event_id: Uuid,
  user_id: Type.String(),
  type: Type.String(),
  element: Type.Union([Element, Type.Null()]),
  film_id: Type.Union([Uuid, Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  occurred_at: Timestamp,
  received_at: Timestamp,
  started_at: Type.Union([Timestamp, Type.Null()]),
  ended_at: Type.Union([Timestamp, Type.Null()]),
  properties: StoredProperties,
});

/**
 * The range asked for, read as RFC 3339 (a leap second included), then clamped to the instants
 * the warehouse can hold: a bound outside them selects the same events as the nearest bound
 * inside, and the answer names the range it covers.
 */
export function rangeOf(query: { from?: string | undefined; to?: string | undefined }): TimeRange {
  const to = query.to === undefined ? Date.now() : parseRfc3339(query.to);
  const from = query.from === undefined ? to - DEFAULT_RANGE_MS : parseRfc3339(query.from);
  if (from > to) throw new ValidationError([{ path: '/query/from', message: 'must not be after to' }]);
  return { from: new Date(clampToStorable(from)), to: new Date(clampToStorable(to)) };
}

/** Admin analytics, read from the warehouse; every event is stored once (deduplicated at load by user and event_id). */
const analytics: FastifyPluginAsyncTypebox<{ warehouse: Warehouse }> = (app, { warehouse }) => {
  const tags = ['analytics'];
  adminOnly(app);

  app.get(
    '/analytics/summary',
    {
      schema: {
        tags,
        summary: 'Events, distinct users and events by type in a time range',
        querystring: Type.Object(RangeQuery, { additionalProperties: false }),
        response: {
          200: answer(
            'Counts in the range',
            Type.Object({ from: Timestamp, to: Timestamp, events: Type.Integer(), users: Type.Integer(), by_type: Type.Record(Type.String(), Type.Integer()) }),
          ),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    async (request) => {
      const range = rangeOf(request.query);
      return { from: range.from.toISOString(), to: range.to.toISOString(), ...(await warehouse.summary(range)) };
    },
  );

  app.get(
    '/analytics/films/top',
    {
      schema: {
        tags,
        summary: 'Top films by views or watch time',
        description: '`views` counts `view` and `playback_start` events; `watch_seconds` sums the intervals of `view`, `playback_progress` and `playback_stop` events.',
        querystring: Type.Object(
          { metric: Type.Optional(Type.Union([Type.Literal('views'), Type.Literal('watch_seconds')], { default: 'views' })), ...RangeQuery, limit: Limit(100, 10) },
          { additionalProperties: false },
        ),
        response: {
          200: answer('Top films', Type.Object({ items: Type.Array(Type.Object({ film_id: Uuid, views: Type.Integer(), watch_seconds: Type.Number() })) })),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    async (request) => ({ items: await warehouse.topFilms(rangeOf(request.query), request.query.metric ?? 'views', request.query.limit ?? 10) }),
  );

  app.get(
    '/analytics/users/:user_id/events',
    {
      schema: {
        tags,
        summary: "A user's events, newest first",
        params: Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
        querystring: Type.Object({ ...RangeQuery, limit: Limit(1000, 100) }, { additionalProperties: false }),
        response: { 200: answer("The user's events, newest first", Type.Object({ items: Type.Array(StoredEvent) })), ...problems(400, 401, 403, 503) },
      },
    },
    async (request) => ({ items: await warehouse.userEvents(request.params.user_id, rangeOf(request.query), request.query.limit ?? 100) }),
  );
  return Promise.resolve();
};

export default analytics;
