import type { Lifecycle } from './lifecycle.ts';

/**
 * The analytics warehouse (ClickHouse server in production, chDB embedded). Inserts are
 * idempotent by `(user_id, event_id)`: loading an event again (a replayed batch, a client's
 * re-send) within the dedup window never adds a row; the first copy loaded is the event.
 */
export interface EventRow {
  event_id: string;
  user_id: string;
  type: string;
  element_kind: string;
  element_id: string;
  film_id: string | null;
  description: string;
  /** ISO 8601, UTC, milliseconds. */
  occurred_at: string;
  received_at: string;
  started_at: string | null;
  ended_at: string | null;
  /** `ended_at - started_at`, 0 without an interval. */
  duration_ms: number;
  properties: Record<string, string | number | boolean>;
}

export interface TimeRange {
  from: Date;
  to: Date;
}

export interface Summary {
  events: number;
  users: number;
  by_type: Record<string, number>;
}

export type FilmMetric = 'views' | 'watch_seconds';

export interface FilmStats {
  film_id: string;
  views: number;
  watch_seconds: number;
}

export interface StoredEvent {
  event_id: string;
  user_id: string;
  type: string;
  element: { kind: string; id: string } | null;
  film_id: string | null;
  description: string | null;
  occurred_at: string;
  received_at: string;
  started_at: string | null;
  ended_at: string | null;
  properties: Record<string, string | number | boolean>;
}

/** Events per bucket of a time series. */
export interface SeriesBucket {
  /** The bucket's first instant, ISO 8601 UTC. */
  start: string;
  /** Its local date in the series' time zone (`YYYY-MM-DD`). */
  date: string;
  total: number;
  by_type: Record<string, number>;
}

export type SeriesInterval = 'hour' | 'day';
export type ActivityInterval = 'day' | 'week' | 'month';

/** Distinct users of one day, ISO week (from Monday) or month in a time zone. */
export interface ActiveUsers {
  start: string;
  date: string;
  users: number;
}

/** One point of an audience-retention curve: `share` of the viewers reached `at` (0..1) of the film. */
export interface RetentionPoint {
  at: number;
  share: number;
}

export interface FilmReport {
  film_id: string;
  /** `view` + `playback_start` events. */
  views: number;
  /** Distinct users with a view or playback event. */
  viewers: number;
  /** Sum of the intervals of `view`, `playback_progress`, `playback_stop`, in seconds. */
  watch_seconds: number;
  /** `watch_seconds / viewers`; 0 without viewers. */
  avg_watch_seconds: number;
  /** The film's length: the largest `properties.duration_s` of its playback events, else the largest `position_s`; null without positions. */
  duration_seconds: number | null;
  /** Mean over playback viewers of `min(1, furthest position_s / duration)`; null without a duration. */
  avg_completion: number | null;
  /** 21 points, at 0, 0.05 … 1: the share of playback viewers whose furthest position reached that fraction. */
  retention: RetentionPoint[];
}

export interface ElementStats {
  kind: string;
  id: string;
  events: number;
  users: number;
}

export interface Warehouse extends Lifecycle {
  readonly kind: string;
  /** Applies pending schema migrations; returns the versions it applied. */
  migrate(): Promise<number[]>;
  /**
   * Inserts one batch in one statement.
   * @throws BackendError with `retriable` telling whether the same batch may succeed later
   */
  insertEvents(rows: readonly EventRow[]): Promise<void>;
  summary(range: TimeRange): Promise<Summary>;
  /** Films by the metric, descending; `views` counts `view` and `playback_start` events. */
  topFilms(range: TimeRange, metric: FilmMetric, limit: number): Promise<FilmStats[]>;
  /** The user's events, newest first. */
  userEvents(userId: string, range: TimeRange, limit: number): Promise<StoredEvent[]>;
  /** Events per hour or local day of the IANA time zone `tz` (a DST day has 23 or 25 hours), oldest first; empty buckets omitted. */
  eventSeries(range: TimeRange, interval: SeriesInterval, tz: string): Promise<SeriesBucket[]>;
  /** Distinct users per local day, week or month of `tz`, oldest first; periods without users omitted. */
  activeUsers(range: TimeRange, interval: ActivityInterval, tz: string): Promise<ActiveUsers[]>;
  /** Views, viewers, watch time, completion and audience retention of one film. */
  filmReport(filmId: string, range: TimeRange): Promise<FilmReport>;
  /** Elements with the most events of `type` (e.g. `click`), of one kind or of all, descending. */
  topElements(range: TimeRange, options: { type: string; kind: string | undefined; limit: number }): Promise<ElementStats[]>;
}
