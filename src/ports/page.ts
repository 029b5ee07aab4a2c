/** Cursor pagination as the contract defines it: `{ items, next_cursor }`. */
export interface PageRequest {
  limit: number;
  /** Opaque cursor from a previous page; the adapter that issued it decodes it. */
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
