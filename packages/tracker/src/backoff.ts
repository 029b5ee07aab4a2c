/**
 * How long to wait before the next attempt. Exponential (`minMs · 2^attempt`, capped at `maxMs`)
 * with "equal jitter" (half fixed, half random), so a fleet of pages that failed together does not
 * come back together. A `Retry-After` from the server (seconds, or an HTTP date) is a floor: the
 * wait is never shorter than what the server asked for.
 *
 * @param attempt 0 for the first retry
 * @param retryAfter the response's Retry-After header, or null
 * @param random a number in [0, 1)
 * @returns milliseconds
 */
export function retryDelayMs(attempt: number, retryAfter: string | null, options: { minMs: number; maxMs: number; now: number; random: number }): number {
  const cap = Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30));
  const backoff = cap / 2 + (cap / 2) * options.random;
  const asked = retryAfterMs(retryAfter, options.now);
  return asked === undefined ? backoff : Math.max(asked, backoff);
}

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date starts with the day's name; Date.parse alone would read "-3" as a year.
  const date = /^[A-Za-z]{3},/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
