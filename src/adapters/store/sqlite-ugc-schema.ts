import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import type { Bookmark } from '../../domain/bookmarks.ts';
import { BackendError, ValidationError } from '../../domain/errors.ts';
import type { Like } from '../../domain/likes.ts';
import type { Review, ReviewSort } from '../../domain/reviews.ts';
import { type CursorKey, decodeCursor } from '../cursor.ts';
import { inTransaction, isUniqueViolation, toSqliteError } from '../sqlite.ts';

/**
 * Schema, row mapping, error translation and keyset cursors for SqliteUgcStore. `PRAGMA user_version` is the
 * schema version; MIGRATIONS[i] upgrades version i to i + 1, so a new version only appends.
 * Timestamps are fixed-width ISO strings, so text order is time order.
 */
const MIGRATIONS: readonly string[] = [
  `
  -- WITHOUT ROWID: the composite key is the only way rows are found, so cluster on it.
  CREATE TABLE IF NOT EXISTS likes (
    user_id TEXT NOT NULL,
    film_id TEXT NOT NULL,
    score REAL NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, film_id)
  ) STRICT, WITHOUT ROWID;
  -- Same direction as the listing's ORDER BY so the page is read straight off the index.
  CREATE INDEX IF NOT EXISTS likes_by_user_recent ON likes (user_id, updated_at DESC, film_id DESC);
  -- Covers the summary: count, sum and the threshold test never touch the table.
  CREATE INDEX IF NOT EXISTS likes_by_film_score ON likes (film_id, score);

  CREATE TABLE IF NOT EXISTS bookmarks (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    film_id TEXT,
    url TEXT,
    title TEXT,
    created_at TEXT NOT NULL,
    CHECK (film_id IS NOT NULL OR url IS NOT NULL)
  ) STRICT;
  -- NULLs never collide in a unique index, so a url-only bookmark does not block another one.
  CREATE UNIQUE INDEX IF NOT EXISTS bookmarks_user_film ON bookmarks (user_id, film_id);
  CREATE UNIQUE INDEX IF NOT EXISTS bookmarks_user_url ON bookmarks (user_id, url);
  CREATE INDEX IF NOT EXISTS bookmarks_by_user_recent ON bookmarks (user_id, created_at DESC, id DESC);

  CREATE TABLE IF NOT EXISTS reviews (
    id TEXT PRIMARY KEY NOT NULL,
    film_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    text TEXT NOT NULL,
    score REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    upvotes INTEGER NOT NULL DEFAULT 0,
    downvotes INTEGER NOT NULL DEFAULT 0,
    -- A column (not just an expression) so the 'top' index and keyset predicate share one name.
    rating INTEGER GENERATED ALWAYS AS (upvotes - downvotes) VIRTUAL,
    UNIQUE (user_id, film_id)
  ) STRICT;
  -- Scanned forwards for 'oldest' and backwards for 'newest'.
  CREATE INDEX IF NOT EXISTS reviews_by_film_time ON reviews (film_id, created_at, id);
  CREATE INDEX IF NOT EXISTS reviews_by_film_rating ON reviews (film_id, rating, created_at, id);

  CREATE TABLE IF NOT EXISTS review_votes (
    review_id TEXT NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value IN (1, -1)),
    PRIMARY KEY (review_id, user_id)
  ) STRICT, WITHOUT ROWID;

  -- The counters follow review_votes in the same statement, whoever writes the votes, so they
  -- cannot drift from the votes even if a writer forgets to update them.
  CREATE TRIGGER IF NOT EXISTS review_votes_insert AFTER INSERT ON review_votes BEGIN
    UPDATE reviews SET upvotes = upvotes + (NEW.value = 1), downvotes = downvotes + (NEW.value = -1)
    WHERE id = NEW.review_id;
  END;
  CREATE TRIGGER IF NOT EXISTS review_votes_update AFTER UPDATE OF value ON review_votes BEGIN
    UPDATE reviews
    SET upvotes = upvotes + (NEW.value = 1) - (OLD.value = 1),
        downvotes = downvotes + (NEW.value = -1) - (OLD.value = -1)
    WHERE id = NEW.review_id;
  END;
  CREATE TRIGGER IF NOT EXISTS review_votes_delete AFTER DELETE ON review_votes BEGIN
    UPDATE reviews SET upvotes = upvotes - (OLD.value = 1), downvotes = downvotes - (OLD.value = -1)
    WHERE id = OLD.review_id;
  END;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema up to date; BEGIN IMMEDIATE so two processes starting together migrate once. */
export function migrate(db: DatabaseSync): void {
  inTransaction(db, () => {
    const version = num(db.prepare('PRAGMA user_version').get() ?? {}, 'user_version');
    if (version > SCHEMA_VERSION) {
      throw new BackendError(`database schema ${version} is newer than this code (${SCHEMA_VERSION})`, {
        retriable: false,
      });
    }
    MIGRATIONS.slice(version).forEach((sql) => db.exec(sql));
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
}

/** SQLite failures of the store (see `toSqliteError`). */
export function translateError(err: unknown): Error {
  return toSqliteError(err, 'The SQLite store could not complete the operation.');
}

export { inTransaction, isUniqueViolation };

type Row = Record<string, SQLOutputValue>;

function column(row: Row, name: string): SQLOutputValue {
  const value = row[name];
  if (value === undefined) throw new BackendError(`SQLite row lacks column ${name}`, { retriable: false });
  return value;
}

function str(row: Row, name: string): string {
  const value = column(row, name);
  if (typeof value !== 'string') throw new BackendError(`SQLite column ${name} is not text`, { retriable: false });
  return value;
}

function num(row: Row, name: string): number {
  const value = column(row, name);
  if (typeof value !== 'number') throw new BackendError(`SQLite column ${name} is not a number`, { retriable: false });
  return value;
}

function strOrNull(row: Row, name: string): string | null {
  return column(row, name) === null ? null : str(row, name);
}

function numOrNull(row: Row, name: string): number | null {
  return column(row, name) === null ? null : num(row, name);
}

export function likeFromRow(row: Row): Like {
  return {
    film_id: str(row, 'film_id'),
    user_id: str(row, 'user_id'),
    score: num(row, 'score'),
    created_at: str(row, 'created_at'),
    updated_at: str(row, 'updated_at'),
  };
}

export function bookmarkFromRow(row: Row): Bookmark {
  return {
    id: str(row, 'id'),
    user_id: str(row, 'user_id'),
    film_id: strOrNull(row, 'film_id'),
    url: strOrNull(row, 'url'),
    title: strOrNull(row, 'title'),
    created_at: str(row, 'created_at'),
  };
}

export const REVIEW_COLUMNS = 'id, film_id, user_id, text, score, created_at, updated_at, upvotes, downvotes';

export function reviewFromRow(row: Row): Review {
  return {
    id: str(row, 'id'),
    film_id: str(row, 'film_id'),
    user_id: str(row, 'user_id'),
    text: str(row, 'text'),
    score: numOrNull(row, 'score'),
    created_at: str(row, 'created_at'),
    updated_at: str(row, 'updated_at'),
    upvotes: num(row, 'upvotes'),
    downvotes: num(row, 'downvotes'),
  };
}


/**
 * Keyset listing of reviews per sort. The sort name is the first element of the cursor, so a
 * cursor issued for one sort is rejected by another instead of silently skipping rows.
 */
interface SortSpec {
  shape: ('string' | 'number')[];
  /** Keyset predicate: rows strictly after the cursor in this order. */
  after: string;
  order: string;
  key: (review: Review) => CursorKey;
}

export const REVIEW_SORTS: Record<ReviewSort, SortSpec> = {
  newest: {
    shape: ['string', 'string'],
    after: '(created_at, id) < (?, ?)',
    order: 'created_at DESC, id DESC',
    key: (r) => [r.created_at, r.id],
  },
  oldest: {
    shape: ['string', 'string'],
    after: '(created_at, id) > (?, ?)',
    order: 'created_at ASC, id ASC',
    key: (r) => [r.created_at, r.id],
  },
  top: {
    shape: ['number', 'string', 'string'],
    after: '(rating, created_at, id) < (?, ?, ?)',
    order: 'rating DESC, created_at DESC, id DESC',
    key: (r) => [r.upvotes - r.downvotes, r.created_at, r.id],
  },
};

export function decodeReviewCursor(cursor: string, sort: ReviewSort): CursorKey {
  const [tag, ...key] = decodeCursor(cursor, ['string', ...REVIEW_SORTS[sort].shape]);
  if (tag !== sort) {
    throw new ValidationError([{ path: '/cursor', message: `must be a cursor of a previous page sorted by ${sort}` }]);
  }
  return key;
}
