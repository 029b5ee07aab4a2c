import type { Lifecycle } from './lifecycle.ts';

/**
 * The analytics warehouse (ClickHouse server in production, chDB embedded). Inserts are
 * idempotent by `event_id`: loading the same rows twice never changes a count.
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
}
