/** What the chaos suite measures from its clients' attempts, and how it prints them. */
import type { Attempt } from './load.ts';

/**
 * How long after `from` (ms) clients kept failing: the end of the last non-202 attempt that
 * started in [from, to), minus `from`; 0 when every attempt there got 202. `undefined` when
 * the attempts of the window's last `settleMs` still failed (never recovered inside it).
 */
export function failingFor(attempts: readonly Attempt[], from: number, to: number, settleMs = 2000): number | undefined {
  const inWindow = attempts.filter((a) => a.start >= from && a.start < to);
  const failed = inWindow.filter((a) => a.status !== 202);
  if (failed.length === 0) return 0;
  const tail = inWindow.filter((a) => a.start >= to - settleMs);
  if (tail.length > 0 && tail.every((a) => a.status !== 202)) return undefined;
  return Math.max(...failed.map((a) => a.end)) - from;
}

/**
 * When 202s resumed after `from` (ms after it): the start of the first whole second from which
 * every second up to `to` had at least `share` of its attempts answered 202 (0: from the start).
 * `undefined` when the last second of the window still fell short. Clients retrying a backlog
 * after an outage get some 503s while the api sheds their burst; this says when the service
 * works again, where `failingFor` says when the very last failure was.
 */
export function resumedAfter(attempts: readonly Attempt[], from: number, to: number, share = 0.9): number | undefined {
  const seconds = Math.floor((to - from) / 1000);
  let resumed: number | undefined;
  for (let s = seconds - 1; s >= 0; s--) {
    const start = from + s * 1000;
    if (okShare(attempts, start, start + 1000) < share) break;
    resumed = s * 1000;
  }
  return resumed;
}

/** Longest stretch (ms) within [from, to) in which no attempt ended with 202. */
export function longestWithout202(attempts: readonly Attempt[], from: number, to: number): number {
  const oks = attempts.filter((a) => a.status === 202 && a.end >= from && a.end < to).map((a) => a.end).sort((a, b) => a - b);
  let longest = 0;
  let last = from;
  for (const t of [...oks, to]) {
    longest = Math.max(longest, t - last);
    last = t;
  }
  return longest;
}

/** Share (0..1) of attempts started in [from, to) answered 202. */
export function okShare(attempts: readonly Attempt[], from: number, to: number): number {
  const inWindow = attempts.filter((a) => a.start >= from && a.start < to);
  return inWindow.length === 0 ? 1 : inWindow.filter((a) => a.status === 202).length / inWindow.length;
}

export function seconds(ms: number | undefined): string {
  return ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`;
}

/** The timeline, one line per mark: seconds since `t0`, then what happened. */
export class Timeline {
  readonly t0 = Date.now();
  readonly marks: { at: number; what: string }[] = [];
  #lastByKey = new Map<string, number>();

  mark(what: string, at = Date.now()): void {
    this.marks.push({ at, what });
    console.log(`[chaos] +${((at - this.t0) / 1000).toFixed(1).padStart(6)} s  ${what}`);
  }

  /** Like `mark`, but at most once per `everyMs` for the same `key` (chatty log lines). */
  markThrottled(key: string, what: string, everyMs = 5000): void {
    const now = Date.now();
    if (now - (this.#lastByKey.get(key) ?? 0) < everyMs) return;
    this.#lastByKey.set(key, now);
    this.mark(what, now);
  }
}
