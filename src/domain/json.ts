import { evaluate, parse as parseStrictly } from '@humanwhocodes/momoa';

/**
 * JSON text → value, like `JSON.parse`, but never with a wrong property name.
 *
 * Why: V8's JSON.parse (Node 24 and 26; nodejs/node#63785, crbug.com/521080746, open as of
 * this writing) reuses hidden-class transitions keyed by a property name's raw source. Once the
 * process has parsed an object with a key spelled with an escape into `\` (e.g. `{"\\": 1}`),
 * a later object with the same preceding keys whose next key starts with an escape (`"\u00e9té"`,
 * `"\n"`, `"\""`) gets the key `\` instead. Any client can send the first; JSON encoders that
 * escape non-ASCII (Python's `json.dumps`, by default) send the second. Measured here on Node
 * 24.21.0: `{"":"","\u00e9":0}` was stored as `{"":"","\\":0}` after one such request.
 *
 * How: the substituted name is one whose source spelling matched the escape's raw characters,
 * so it always contains a backslash. A text without a backslash cannot be affected, and a value
 * with no backslash in any property name was not; only the rest (rare: a name holding `\`) is
 * parsed again by momoa, a JSON parser written in JavaScript (ESLint's), which V8's cache does
 * not touch. Same results as JSON.parse otherwise: duplicate names keep the last value,
 * `__proto__` is an own property, `1e309` is Infinity.
 *
 * @throws SyntaxError when `text` is not JSON
 */
export function parseJson(text: string): unknown {
  return repairEscapedNames(text, JSON.parse(text));
}

/**
 * `value` as JSON.parse gave it for `text`, or `text` parsed again when V8 may have given a
 * property a wrong name (see `parseJson`). For callers that must keep their own parser for the
 * first pass (Fastify's prototype-poisoning checks).
 */
export function repairEscapedNames(text: string, value: unknown): unknown {
  if (!text.includes('\\') || !hasNameWithBackslash(value, 0)) return value;
  return evaluate(parseStrictly(text, { mode: 'json' }));
}

/** Below this depth the walk stops looking: the API refuses bodies nested deeper than 32 levels. */
const MAX_DEPTH = 64;

function hasNameWithBackslash(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) return value.some((item) => hasNameWithBackslash(item, depth + 1));
  for (const key in value) {
    if (key.includes('\\') || hasNameWithBackslash((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}
