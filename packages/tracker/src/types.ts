/**
 * The shapes the tracker sends: the UGC Service's event input (POST /api/v1/events, see
 * ../shared/API.md). Times are RFC 3339 UTC with milliseconds; `properties` is flat.
 */
export type Properties = Record<string, string | number | boolean>;

/** The interface element an event is about: `{kind: 'film'|'trailer'|'category'|'person'|'page'|..., id}`. */
export interface UiElement {
  kind: string;
  id: string;
}

/** What a caller may give `track(type, fields)`. */
export interface EventFields {
  element?: UiElement;
  film_id?: string;
  description?: string;
  started_at?: string;
  ended_at?: string;
  properties?: Properties;
}

/** One event as sent: `event_id` and `occurred_at` are fixed when it is created, so retries are idempotent. */
export interface TrackedEvent extends EventFields {
  event_id: string;
  type: string;
  occurred_at: string;
}

/** A queued event; `b` is when it last left in a beacon, whose answer nobody reads. */
export interface Queued {
  e: TrackedEvent;
  b?: number;
}

/** A JWT, or a function that returns a fresh one (called before each send). */
export type TokenSource = string | (() => string | Promise<string>);

export interface TrackerOptions {
  /** The service's base URL, e.g. `https://ugc.cinema.example`; events go to `/api/v1/events`. */
  endpoint: string;
  token: TokenSource;
  /** Send when this many events wait (1..1000). Default 20. */
  batchSize?: number;
  /** Send what waits after this long. Default 2000 ms. */
  flushIntervalMs?: number;
  /** Most events kept while the service cannot be reached; the oldest go first. Default 1000. */
  maxQueue?: number;
  /** Back-off after a failed send: from `retryMinMs` doubling up to `retryMaxMs`, with jitter. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** `playback_progress` every this many seconds of playback (also at 10/25/50/75/90 %). Default 10. */
  progressIntervalS?: number;
  /** Automatic page views (also on History API route changes), click and video tracking. Default true. */
  autoPageViews?: boolean;
  autoClicks?: boolean;
  autoVideo?: boolean;
  /** Do Not Track / Global Privacy Control turn the tracker off. Default true. */
  respectDoNotTrack?: boolean;
  /** Called when events are dropped (a 4xx retrying cannot fix) — never with the token. */
  onError?: (info: { status: number; dropped: number; detail?: string }) => void;
}
