import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ValidationError } from '../domain/errors.ts';
import { ELEMENT_KIND_PATTERN, EVENT_TYPE_PATTERN } from '../domain/events.ts';
import type { TimeRange, Warehouse } from '../ports/warehouse.ts';
import { Limit, RangeQuery, rangeOf } from './analytics.routes.ts';
import { adminOnly } from './auth.ts';
import { Timestamp, Uuid, answer, problems } from './common.schema.ts';

/** Longest range of an hourly series: a year of hours (8,784 buckets). */
const MAX_HOURLY_RANGE_MS = 366 * 86_400_000;

const Tz = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: '^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+)*$',
    default: 'UTC',
    description: 'IANA time zone of day, week and month boundaries (a DST day has 23 or 25 hours)',
    examples: ['Europe/Berlin'],
  }),
);

const ZONES = new Set(Intl.supportedValuesOf('timeZone'));

/**
 * `tz` as the warehouse names it: the runtime's canonical IANA name (`europe/berlin` →
 * `Europe/Berlin`, `US/Pacific` → `America/Los_Angeles`, `utc` → `UTC`), since ClickHouse's zone
 * names are case-sensitive and lack some legacy aliases; a zone the runtime does not list is a 400.
 */
function zoneOf(tz: string | undefined): string {
  let zone: string | undefined;
  try {
    zone = new Intl.DateTimeFormat('en-US', { timeZone: tz ?? 'UTC' }).resolvedOptions().timeZone;
  } catch {
    zone = undefined;
  }
  // `supportedValuesOf` leaves out UTC and the fixed-offset `Etc/GMT±N` zones, which are IANA names too.
  if (zone === undefined || (zone !== 'UTC' && !ZONES.has(zone) && !/^Etc\/GMT[+-]\d{1,2}$/.test(zone))) {
    throw new ValidationError([{ path: '/query/tz', message: 'must be an IANA time zone name' }]);
  }
  return zone;
}

const Bucket = Type.Object({
  start: Timestamp,
  date: Type.String({ description: 'Local date of the bucket in `tz`' }),
  total: Type.Integer(),
  by_type: Type.Record(Type.String(), Type.Integer()),
});

const echo = (range: TimeRange) => ({ from: range.from.toISOString(), to: range.to.toISOString() });

/** The questions a cinema asks: series, active users, one film's audience, what gets clicked. Admin only. */
const insights: FastifyPluginAsyncTypebox<{ warehouse: Warehouse }> = (app, { warehouse }) => {
  const tags = ['analytics'];
  adminOnly(app);

  app.get(
    '/analytics/events/series',
    {
      schema: {
        tags,
        summary: 'Events per hour or per local day, by type',
        querystring: Type.Object(
          { interval: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'day' })), tz: Tz, ...RangeQuery },
          { additionalProperties: false },
        ),
        response: {
          200: answer(
            'One bucket per hour or local day of the range',
            Type.Object({ from: Timestamp, to: Timestamp, interval: Type.String(), tz: Type.String(), items: Type.Array(Bucket) }),
          ),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    async (request) => {
      const range = rangeOf(request.query);
      const tz = zoneOf(request.query.tz);
      const interval = request.query.interval ?? 'day';
      if (interval === 'hour' && range.to.getTime() - range.from.getTime() > MAX_HOURLY_RANGE_MS) {
        throw new ValidationError([{ path: '/query/from', message: 'an hourly series spans at most 366 days' }]);
      }
      return { ...echo(range), interval, tz, items: await warehouse.eventSeries(range, interval, tz) };
    },
  );

  app.get(
    '/analytics/users/active',
    {
      schema: {
        tags,
        summary: 'Distinct active users per local day, ISO week (from Monday) or month',
        querystring: Type.Object(
          {
            interval: Type.Optional(Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month')], { default: 'day' })),
            tz: Tz,
            ...RangeQuery,
          },
          { additionalProperties: false },
        ),
        response: {
          200: answer(
            'Distinct users per interval of the range',
            Type.Object({
              from: Timestamp, to: Timestamp, interval: Type.String(), tz: Type.String(),
              items: Type.Array(Type.Object({ start: Timestamp, date: Type.String(), users: Type.Integer() })),
            }),
          ),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    async (request) => {
      const range = rangeOf(request.query);
      const tz = zoneOf(request.query.tz);
      const interval = request.query.interval ?? 'day';
      return { ...echo(range), interval, tz, items: await warehouse.activeUsers(range, interval, tz) };
    },
  );

  app.get(
    '/analytics/films/:film_id/report',
    {
      schema: {
        tags,
        summary: "One film's audience: views, viewers, watch time, completion and the audience-retention curve",
        description:
          'Completion and retention come from playback events (`playback_start`, `playback_progress`, `playback_stop`) and their ' +
          '`properties.position_s` (seconds into the film) and `properties.duration_s` (the film\'s length). A viewer\'s reach is their ' +
          'furthest position over the film\'s length (the largest `duration_s` seen, else the furthest position); `retention[k]` is the share ' +
          'of playback viewers whose reach is at least `k × 5 %`.',
        params: Type.Object({ film_id: Uuid }, { additionalProperties: false }),
        querystring: Type.Object(RangeQuery, { additionalProperties: false }),
        response: {
          200: answer(
            "The film's report",
            Type.Object({
              from: Timestamp, to: Timestamp, film_id: Uuid, views: Type.Integer(), viewers: Type.Integer(),
              watch_seconds: Type.Number(), avg_watch_seconds: Type.Number(),
              duration_seconds: Type.Union([Type.Number(), Type.Null()]), avg_completion: Type.Union([Type.Number(), Type.Null()]),
              retention: Type.Array(Type.Object({ at: Type.Number(), share: Type.Number() })),
            }),
          ),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    async (request) => {
      const range = rangeOf(request.query);
      return { ...echo(range), ...(await warehouse.filmReport(request.params.film_id.toLowerCase(), range)) };
    },
  );

  app.get(
    '/analytics/elements/top',
    {
      schema: {
        tags,
        summary: 'Elements (trailers, categories, persons …) with the most events of a type, default clicks',
        querystring: Type.Object(
          {
            type: Type.Optional(Type.String({ pattern: EVENT_TYPE_PATTERN, default: 'click' })),
            kind: Type.Optional(Type.String({ pattern: ELEMENT_KIND_PATTERN, description: 'Only elements of this kind' })),
            ...RangeQuery,
            limit: Limit(100, 10),
          },
          { additionalProperties: false },
        ),
        response: {
          200: answer(
            'Top elements',
            Type.Object({
              from: Timestamp, to: Timestamp,
              items: Type.Array(Type.Object({ kind: Type.String(), id: Type.String(), events: Type.Integer(), users: Type.Integer() })),
            }),
          ),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    async (request) => {
      const range = rangeOf(request.query);
      const { type = 'click', kind, limit = 10 } = request.query;
      return { ...echo(range), items: await warehouse.topElements(range, { type, kind, limit }) };
    },
  );
  return Promise.resolve();
};

export default insights;
