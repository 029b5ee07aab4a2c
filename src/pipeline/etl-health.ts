import type { LogRecord } from '../ports/event-log.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * Whether the ETL is making progress, for `/readyz` and the metrics:
 * - `oldestUnloadedAgeMs`: ms since the oldest record the ETL holds but has not yet loaded and
 *   committed was appended to the log (`null` when it holds none);
 * - `lastLoadAt`: epoch ms of the last batch committed (loaded or dead-lettered; `null` before one);
 * - `ready`: false, with `reason`, while the ETL is stalled (records have waited longer than the
 *   bound and nothing was loaded for as long), cannot read its stream, or the consumer says so.
 */
export interface EtlHealth {
  ready: boolean;
  reason?: string;
  oldestUnloadedAgeMs: number | null;
  lastLoadAt: number | null;
}

/** `12 s`, `1.5 s`: whole seconds once they are many. */
const seconds = (ms: number): string => (ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`);

export interface EtlHealthOptions {
  /** How long records may wait, with nothing loaded meanwhile, before the ETL counts as stalled. */
  stallAfterMs: number;
  logger: Logger;
  now?: () => number;
}

/**
 * What the ETL loop reports (`holding`, `loaded`, `blocked`) turned into `EtlHealth`. A stall
 * is judged from progress, not from age alone: an ETL catching up on a backlog holds old records
 * but loads a batch every few seconds, so it stays ready; one that retries the same batch (the
 * warehouse refusing it while answering pings, an insert that hangs) turns unready once the
 * batch has waited `stallAfterMs` since the later of its append and the last load. A watch
 * timer logs a warning once per stall episode and a line when it ends.
 */
export class EtlHealthTracker {
  readonly #options: EtlHealthOptions;
  readonly #now: () => number;
  #startedAt: number;
  #oldestHeld: number | null = null;
  #lastLoadAt: number | null = null;
  /** When a poll last returned records. */
  #lastPolledAt: number | null = null;
  /** Records in the log not yet committed, as last measured, and since when some have been there. */
  #backlog = 0;
  #backlogSince: number | null = null;
  #blocked: string | undefined;
  #stalledSince: number | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: EtlHealthOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  /** The loop polled `records`; they are unloaded until `loaded()`. */
  holding(records: readonly LogRecord[]): void {
    if (records.length > 0) this.#lastPolledAt = this.#now();
    for (const r of records) if (this.#oldestHeld === null || r.timestamp < this.#oldestHeld) this.#oldestHeld = r.timestamp;
  }

  /**
   * The consumer's lag, measured now and then: records in the log the ETL has not committed. It
   * catches a consumer that silently reads nothing (a topic re-created under it, no partitions):
   * then records wait in the log while the ETL holds none, and no age of theirs is known. (The lag
   * counts the whole group's partitions, so a member whose own are empty while another member
   * works through a growing backlog may report it too: the reason says what it sees.)
   */
  backlog(lag: number): void {
    // A falling lag is progress (another member of the group, say): only a standing one counts.
    if (lag === 0 || lag < this.#backlog) this.#backlogSince = null;
    if (lag > 0) this.#backlogSince ??= this.#now();
    this.#backlog = lag;
  }

  /** The batch in hand is loaded and committed. */
  loaded(): void {
    this.#oldestHeld = null;
    this.#lastLoadAt = this.#now();
    this.#blocked = undefined;
  }

  /** The loop cannot go on (`reason`), or can again (`undefined`). Unready at once, not after the bound. */
  blocked(reason: string | undefined): void {
    this.#blocked = reason;
  }

  /** Health now; `consumer` is the event log consumer's own verdict, when it has one. */
  health(consumer?: { ready: boolean; reason?: string }): EtlHealth {
    const now = this.#now();
    const oldestUnloadedAgeMs = this.#oldestHeld === null ? null : Math.max(0, now - this.#oldestHeld);
    const reasons: string[] = [];
    if (this.#blocked !== undefined) reasons.push(this.#blocked);
    const waited = this.#waitedMs(now);
    if (waited !== null && waited > this.#options.stallAfterMs) {
      reasons.push(`records have waited ${seconds(waited)} without a load (bound ${seconds(this.#options.stallAfterMs)})`);
    }
    const unread = this.#unreadMs(now);
    if (unread !== null && unread > this.#options.stallAfterMs) {
      reasons.push(`${this.#backlog} records wait in the log but none reached the ETL for ${seconds(unread)} (bound ${seconds(this.#options.stallAfterMs)})`);
    }
    if (consumer && !consumer.ready) reasons.push(consumer.reason ?? 'the event log consumer is not ready');
    const health: EtlHealth = { ready: reasons.length === 0, oldestUnloadedAgeMs, lastLoadAt: this.#lastLoadAt };
    if (reasons.length > 0) health.reason = reasons.join('; ');
    return health;
  }

  /** How long the oldest held record has waited for progress (since its append, or the last load or start if later). */
  #waitedMs(now: number): number | null {
    if (this.#oldestHeld === null) return null;
    return now - Math.max(this.#oldestHeld, this.#lastLoadAt ?? this.#startedAt);
  }

  /** How long records have waited in the log with nothing polled, while the ETL holds none. */
  #unreadMs(now: number): number | null {
    if (this.#backlogSince === null || this.#oldestHeld !== null) return null;
    return now - Math.max(this.#backlogSince, this.#lastPolledAt ?? this.#startedAt, this.#lastLoadAt ?? this.#startedAt);
  }

  /** Checks every `intervalMs` and logs the start and the end of each stall episode. */
  watch(source: () => EtlHealth, intervalMs: number): void {
    this.#timer ??= setInterval(() => this.#check(source()), intervalMs).unref();
  }

  unwatch(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(health: EtlHealth): void {
    const { logger } = this.#options;
    const now = this.#now();
    if (!health.ready && this.#stalledSince === null) {
      this.#stalledSince = now;
      logger.warn({ reason: health.reason, oldestUnloadedAgeMs: health.oldestUnloadedAgeMs, lastLoadAt: health.lastLoadAt }, 'ETL stalled');
    } else if (health.ready && this.#stalledSince !== null) {
      logger.info({ stalledForMs: now - this.#stalledSince, lastLoadAt: health.lastLoadAt }, 'ETL recovered');
      this.#stalledSince = null;
    }
  }
}
