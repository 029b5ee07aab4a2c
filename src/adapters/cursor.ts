import { ValidationError } from '../domain/errors.ts';
import type { Page } from '../ports/page.ts';
import { parseJson } from '../domain/json.ts';

/**
 * Keyset cursors: the sort key of the last item of a page, as base64url JSON. Opaque to
 * clients; each adapter decides what goes in and checks what comes back.
 */
/** The sort key of one item, in sort order. */
export type CursorKey = (string | number)[];

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** @throws ValidationError (path `/cursor`) when the cursor is not one this adapter issued */
export function decodeCursor(cursor: string, shape: readonly ('string' | 'number')[]): (string | number)[] {
  let key: unknown;
  try {
    key = parseJson(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (
    !Array.isArray(key) ||
    key.length !== shape.length ||
    !key.every((v, i) => typeof v === shape[i] && (typeof v !== 'number' || Number.isFinite(v)))
  ) {
    throw new ValidationError([{ path: '/cursor', message: 'must be a cursor returned by a previous page' }]);
  }
  return key as (string | number)[];
}

/**
 * Keyset paging for every store: fetch `limit + 1` items, return `limit` of them, and the cursor
 * of the last one only when another page exists — no count query.
 */
export function toPage<T>(items: T[], limit: number, keyOf: (item: T) => CursorKey): Page<T> {
  const pageItems = items.slice(0, limit);
  const last = pageItems.at(-1);
  return {
    items: pageItems,
    next_cursor: items.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
