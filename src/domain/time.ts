/**
 * RFC 3339 times as the API takes them, and the range of instants the warehouse can store.
 *
 * `Date.parse` is not an RFC 3339 parser: it answers NaN for a leap second (`23:59:60`, valid
 * RFC 3339) and accepts forms RFC 3339 does not have. Every time a client sends is read here,
 * so the schema's `date-time` format and the code that uses the value agree on what a time is.
 */

/** 1970-01-01T00:00:00.000Z: the 18.16 server stores times as UInt64 epoch ms (no earlier instant). */
export const STORABLE_MIN_MS = 0;
/** 2299-12-31T23:59:59.999Z: the last instant of ClickHouse's DateTime64 (chDB, ClickHouse 20+). */
export const STORABLE_MAX_MS = Date.UTC(2300, 0, 1) - 1;
/** The years of the storable range, as a JSON Schema pattern on an RFC 3339 text. */
export const STORABLE_YEARS_PATTERN = '^(?:19[7-9][0-9]|2[0-2][0-9]{2})-';
export const STORABLE_RANGE_MESSAGE = 'must be between 1970-01-01T00:00:00.000Z and 2299-12-31T23:59:59.999Z';

/**
 * RFC 3339 section 5.6 `date-time`: `T`, `t` or a space between date and time; any number of
 * fraction digits; `Z`, `z` or a `±HH:MM` offset. A leap second is allowed only where it can
 * occur, at 23:59:60 UTC.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Epoch milliseconds of an RFC 3339 time, or NaN when the text is not one. Fraction digits
 * beyond milliseconds are truncated. A leap second `23:59:60[.fff]` is read as
 * `23:59:59.999` of the same day: it stays on its day and in order after every earlier
 * instant, and the warehouse (like POSIX time) has no 61st second to store it in.
 */
export function parseRfc3339(text: string): number {
  const m = RFC3339.exec(text);
  if (m === null) return Number.NaN;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const offsetMinutes = m[8] === undefined ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  if (m[8] === undefined && (Number(m[10]) > 23 || Number(m[11]) > 59)) return Number.NaN;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month] ?? 0))) return Number.NaN;
  if (hour > 23 || minute > 59 || second > 60) return Number.NaN;
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second === 60 ? 59 : second, second === 60 ? 999 : ms);
  const utc = local.getTime() - offsetMinutes * 60_000;
  if (second === 60) {
    const utcDate = new Date(utc);
    if (utcDate.getUTCHours() !== 23 || utcDate.getUTCMinutes() !== 59) return Number.NaN;
  }
  return utc;
}

/** Whether `text` is an RFC 3339 time (the `date-time` format of every schema). */
export function isRfc3339(text: string): boolean {
  return !Number.isNaN(parseRfc3339(text));
}

/** Whether the warehouse can store the instant `ms`. */
export function isStorable(ms: number): boolean {
  return ms >= STORABLE_MIN_MS && ms <= STORABLE_MAX_MS;
}

/** `ms` moved into the storable range: a query bound outside it selects the same rows as the nearest bound inside. */
export function clampToStorable(ms: number): number {
  return Math.min(Math.max(ms, STORABLE_MIN_MS), STORABLE_MAX_MS + 1);
}
