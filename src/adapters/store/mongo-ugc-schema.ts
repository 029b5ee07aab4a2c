import type { Document, IndexDescription, Sort } from 'mongodb';
import type { Bookmark, NewBookmark } from '../../domain/bookmarks.ts';
import { BackendError, ValidationError } from '../../domain/errors.ts';
import type { Like } from '../../domain/likes.ts';
import type { NewReview, Review, ReviewSort, VoteValue } from '../../domain/reviews.ts';
import { type CursorKey, decodeCursor } from '../cursor.ts';

/**
 * Documents, indexes, mapping and keyset cursors for MongoUgcStore.
 *
 * Timestamps are BSON Dates: 8 bytes instead of a 24-byte string, they sort the same way, and
 * TTL indexes, `$dateTrunc` and BI connectors understand them. The domain's ISO strings come from
 * `toISOString()`, which is exactly what a Date turns back into, so nothing changes on a round trip.
 * Documents that carry a domain id use it (a UUIDv7 string) as `_id`; likes and votes have no
 * domain id and keep a server ObjectId that never leaves this adapter.
 */

export interface LikeDoc {
  user_id: string;
  film_id: string;
  score: number;
  created_at: Date;
  updated_at: Date;
}

/**
 * A unique index on `(user_id, film_id)` in MongoDB treats a missing or null film_id as a value,
 * so two url-only bookmarks of one user would collide. A partial index
 * (`partialFilterExpression: { film_id: { $type: 'string' } }`) is MongoDB's answer, but FerretDB
 * 1.x rejects the option (NotImplemented). So the unique indexes are on dedup keys instead: the
 * film id or url when set, otherwise `{ none: <bookmark id> }`, a sub-document that is unique
 * per bookmark and, being another BSON type, can never equal a real film id or url.
 */
export type DedupKey = string | { none: string };

export interface BookmarkDoc {
  _id: string;
  user_id: string;
  film_id: string | null;
  url: string | null;
  title: string | null;
  created_at: Date;
  dedup_film: DedupKey;
  dedup_url: DedupKey;
}

export interface ReviewDoc {
  _id: string;
  film_id: string;
  user_id: string;
  text: string;
  score: number | null;
  created_at: Date;
  updated_at: Date;
  upvotes: number;
  downvotes: number;
  /** upvotes - downvotes, stored because the 'top' page is read off an index on it. */
  rating: number;
}

export interface VoteDoc {
  review_id: string;
  user_id: string;
  value: VoteValue;
}

/**
 * Named, so createIndexes is a no-op when they exist and fails loudly (IndexOptionsConflict)
 * when a deployed index differs from this code: that needs a migration, not a silent rebuild.
 * Every listing index has the owner first and then the sort keys in the sort's direction, so a
 * page is one bounded index range read in order, never an in-memory sort.
 */
export const INDEXES: Readonly<Record<string, IndexDescription[]>> = {
  likes: [
    { name: 'likes_user_film', key: { user_id: 1, film_id: 1 }, unique: true },
    { name: 'likes_user_recent', key: { user_id: 1, updated_at: -1, film_id: -1 } },
    // The summary groups by score: a covered scan of one film's range.
    { name: 'likes_film_score', key: { film_id: 1, score: 1 } },
  ],
  bookmarks: [
    { name: 'bookmarks_user_film', key: { user_id: 1, dedup_film: 1 }, unique: true },
    { name: 'bookmarks_user_url', key: { user_id: 1, dedup_url: 1 }, unique: true },
    { name: 'bookmarks_user_recent', key: { user_id: 1, created_at: -1, _id: -1 } },
  ],
  reviews: [
    // film_id first (uniqueness does not care about order): on a cluster sharded by film_id a
    // unique index must start with the shard key, see docs/mongodb.md.
    { name: 'reviews_film_user', key: { film_id: 1, user_id: 1 }, unique: true },
    // Read forwards for 'oldest', backwards for 'newest'.
    { name: 'reviews_film_time', key: { film_id: 1, created_at: -1, _id: -1 } },
    { name: 'reviews_film_rating', key: { film_id: 1, rating: -1, created_at: -1, _id: -1 } },
  ],
  // Also serves deleteReview's deleteMany by review_id (prefix).
  review_votes: [{ name: 'review_votes_review_user', key: { review_id: 1, user_id: 1 }, unique: true }],
};

/** @throws BackendError: the domain always passes `toISOString()` output, so this is a bug. */
export function toDate(iso: string): Date {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new BackendError(`not an ISO timestamp: ${iso}`, { retriable: false });
  return date;
}

function iso(value: unknown, field: string): string {
  if (!(value instanceof Date)) throw new BackendError(`MongoDB field ${field} is not a date`, { retriable: false });
  return value.toISOString();
}

export function likeFromDoc(doc: LikeDoc): Like {
  const { film_id, user_id, score } = doc;
  return { film_id, user_id, score, created_at: iso(doc.created_at, 'created_at'), updated_at: iso(doc.updated_at, 'updated_at') };
}

export function bookmarkToDoc(b: NewBookmark): BookmarkDoc {
  const { id, user_id, film_id, url, title } = b;
  return {
    _id: id, user_id, film_id, url, title, created_at: toDate(b.created_at),
    dedup_film: film_id ?? { none: id },
    dedup_url: url ?? { none: id },
  };
}

export function bookmarkFromDoc(doc: BookmarkDoc): Bookmark {
  const { user_id, film_id, url, title } = doc;
  return { id: doc._id, user_id, film_id, url, title, created_at: iso(doc.created_at, 'created_at') };
}

export function reviewToDoc(r: NewReview): ReviewDoc {
  const { id, film_id, user_id, text, score } = r;
  const [created_at, updated_at] = [toDate(r.created_at), toDate(r.updated_at)];
  return { _id: id, film_id, user_id, text, score, created_at, updated_at, upvotes: 0, downvotes: 0, rating: 0 };
}

export function reviewFromDoc(doc: ReviewDoc): Review {
  const { film_id, user_id, text, score, upvotes, downvotes } = doc;
  const [created_at, updated_at] = [iso(doc.created_at, 'created_at'), iso(doc.updated_at, 'updated_at')];
  return { id: doc._id, film_id, user_id, text, score, created_at, updated_at, upvotes, downvotes };
}

/** How a vote change moves the counters; the same vote twice moves nothing. */
export function voteDelta(before: VoteValue | null, after: VoteValue | null): { upvotes: number; downvotes: number } {
  const count = (v: VoteValue | null, side: VoteValue) => (v === side ? 1 : 0);
  return { upvotes: count(after, 1) - count(before, 1), downvotes: count(after, -1) - count(before, -1) };
}

type KeyPart = 'string' | 'number' | 'date';

/** A keyset order: its fields, their types (dates travel as ISO strings) and one direction. */
export interface Keyset {
  fields: readonly string[];
  parts: readonly KeyPart[];
  direction: 1 | -1;
}

export const LIKES_KEYSET: Keyset = { fields: ['updated_at', 'film_id'], parts: ['date', 'string'], direction: -1 };
export const BOOKMARKS_KEYSET: Keyset = { fields: ['created_at', '_id'], parts: ['date', 'string'], direction: -1 };

export const REVIEW_KEYSETS: Record<ReviewSort, Keyset & { key: (r: Review) => CursorKey }> = {
  newest: { fields: ['created_at', '_id'], parts: ['date', 'string'], direction: -1, key: (r) => [r.created_at, r.id] },
  oldest: { fields: ['created_at', '_id'], parts: ['date', 'string'], direction: 1, key: (r) => [r.created_at, r.id] },
  top: {
    fields: ['rating', 'created_at', '_id'],
    parts: ['number', 'date', 'string'],
    direction: -1,
    key: (r) => [r.upvotes - r.downvotes, r.created_at, r.id],
  },
};

export function keysetSort(keyset: Keyset): Sort {
  return Object.fromEntries(keyset.fields.map((field) => [field, keyset.direction]));
}

/**
 * Rows strictly after `values` in the keyset's order. The `$lte`/`$gte` on the first field is
 * implied by the `$or`, but it is what gives the planner tight bounds on the index; the `$or`
 * then only drops the rows that tie on a leading field without being past the cursor.
 */
export function keysetFilter(keyset: Keyset, values: readonly unknown[]): Document {
  const [first] = keyset.fields;
  if (first === undefined || values.length !== keyset.fields.length) return {};
  const [strict, inclusive] = keyset.direction === -1 ? ['$lt', '$lte'] : ['$gt', '$gte'];
  const branches = keyset.fields.map((field, i) => ({
    ...Object.fromEntries(keyset.fields.slice(0, i).map((tie, j) => [tie, values[j]])),
    [field]: { [strict]: values[i] },
  }));
  return { [first]: { [inclusive]: values[0] }, $or: branches };
}


/**
 * Decodes a cursor into query values (ISO strings become Dates). A review cursor starts with its
 * sort, so a cursor issued for one sort is rejected by another instead of silently skipping rows.
 */
export function decodeKeyset(cursor: string, keyset: Keyset, tag?: ReviewSort): unknown[] {
  const shape = keyset.parts.map((part) => (part === 'number' ? 'number' : 'string'));
  const key = decodeCursor(cursor, tag === undefined ? shape : ['string', ...shape]);
  if (tag !== undefined && key.shift() !== tag) {
    throw new ValidationError([{ path: '/cursor', message: `must be a cursor of a previous page sorted by ${tag}` }]);
  }
  return key.map((value, i) => {
    if (keyset.parts[i] !== 'date') return value;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) {
      throw new ValidationError([{ path: '/cursor', message: 'must be a cursor returned by a previous page' }]);
    }
    return date;
  });
}

