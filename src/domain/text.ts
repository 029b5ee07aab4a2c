import type { FieldError } from './errors.ts';

/**
 * Text is stored as sent or refused. A string with a lone UTF-16 surrogate (a client that cut
 * an emoji in half with `slice`, or a raw `\ud83d` escape) has no UTF-8 form: ClickHouse
 * refuses it, and MongoDB, SQLite and `Buffer.from` silently turn it into U+FFFD. Invalid
 * UTF-8 in a body is found by `decodeUtf8Marked`, which turns each bad sequence into a lone
 * surrogate, so both faults are reported the same way, by the field that holds them.
 */

/** Deepest nesting of objects and arrays a request body may have; our own bodies need 5. */
export const MAX_BODY_DEPTH = 32;
export const ILL_FORMED_MESSAGE = 'must be well-formed Unicode (no lone surrogates or invalid UTF-8)';

/** RFC 6901 JSON Pointer token. */
export function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

export class TooDeepError extends Error {}

/**
 * Every string and object key in `value` (a JSON value) that is not well-formed Unicode, as
 * `{path, message}` under `path`. Throws TooDeepError past `MAX_BODY_DEPTH` levels, which also
 * bounds the recursion here and in every validator after it.
 */
export function illFormedText(value: unknown, path = '', depth = 0): FieldError[] {
  if (typeof value === 'string') return value.isWellFormed() ? [] : [{ path: path || '/', message: ILL_FORMED_MESSAGE }];
  if (typeof value !== 'object' || value === null) return [];
  if (depth >= MAX_BODY_DEPTH) throw new TooDeepError(`nested deeper than ${MAX_BODY_DEPTH} levels`);
  const out: FieldError[] = [];
  if (Array.isArray(value)) {
    value.forEach((item, i) => out.push(...illFormedText(item, `${path}/${i}`, depth + 1)));
    return out;
  }
  for (const [key, item] of Object.entries(value)) {
    const at = `${path}/${pointerToken(key)}`;
    if (!key.isWellFormed()) out.push({ path: at, message: `its name ${ILL_FORMED_MESSAGE}` });
    out.push(...illFormedText(item, at, depth + 1));
  }
  return out;
}

/** A code unit no valid UTF-8 decodes to, standing in for an invalid byte sequence. */
const MARK = '\udfff';
const strict = new TextDecoder('utf-8', { fatal: true });

/** Length of the valid UTF-8 sequence at `i`, or 0 when the bytes there are not one. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i] ?? 0;
  if (b < 0x80) return 1;
  // The allowed range of the second byte excludes overlong forms, surrogates and > U+10FFFF (RFC 3629).
  const [n, lo, hi] =
    b >= 0xc2 && b <= 0xdf ? [2, 0x80, 0xbf] :
    b === 0xe0 ? [3, 0xa0, 0xbf] :
    b === 0xed ? [3, 0x80, 0x9f] :
    b >= 0xe1 && b <= 0xef ? [3, 0x80, 0xbf] :
    b === 0xf0 ? [4, 0x90, 0xbf] :
    b === 0xf4 ? [4, 0x80, 0x8f] :
    b >= 0xf1 && b <= 0xf3 ? [4, 0x80, 0xbf] : [0, 0, 0];
  if (n === 0) return 0;
  const second = bytes[i + 1] ?? -1;
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) {
    const c = bytes[i + k] ?? -1;
    if (c < 0x80 || c > 0xbf) return 0;
  }
  return n;
}

/**
 * `bytes` as text. Valid UTF-8 decodes as usual; each invalid sequence becomes one lone
 * surrogate (U+DFFF) instead of U+FFFD, so `illFormedText` finds and names the field it sits in.
 */
export function decodeUtf8Marked(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    let out = '';
    let start = 0;
    for (let i = 0; i < bytes.length; ) {
      const n = sequenceLength(bytes, i);
      if (n > 0) {
        i += n;
        continue;
      }
      out += strict.decode(bytes.subarray(start, i)) + MARK;
      i += 1;
      start = i;
    }
    return out + strict.decode(bytes.subarray(start));
  }
}
