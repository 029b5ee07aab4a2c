import { ValidationError } from '../domain/errors.ts';

/**
 * Keyset cursors: the sort key of the last item of a page, as base64url JSON. Opaque to
 * clients; each adapter decides what goes in and checks what comes back.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** @throws ValidationError (path `/cursor`) when the cursor is not one this adapter issued */
export function decodeCursor(cursor: string, shape: readonly ('string' | 'number')[]): (string | number)[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
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
