import type { Bookmark, NewBookmark } from '../../domain/bookmarks.ts';
import { BackendError, ConflictError, UnavailableError } from '../../domain/errors.ts';
import { LIKE_THRESHOLD, roundAverage } from '../../domain/likes.ts';
import type { Like, LikeSummary } from '../../domain/likes.ts';
import type { NewReview, Review, ReviewPatch, ReviewSort, VoteValue } from '../../domain/reviews.ts';
import type { Page, PageRequest } from '../../ports/page.ts';
import type { UgcStore } from '../../ports/ugc-store.ts';
import { applyVote, openConnection, reviewWrite } from './mongo-connection.ts';
import type { Connection } from './mongo-connection.ts';
import { isDuplicateKey, retryOnDuplicate, translateError } from './mongo-errors.ts';
import {
  BOOKMARKS_KEYSET,
  LIKES_KEYSET,
  REVIEW_KEYSETS,
  bookmarkFromDoc,
  bookmarkToDoc,
  decodeKeyset,
  keysetFilter,
  keysetSort,
  likeFromDoc,
  reviewFromDoc,
  reviewToDoc,
  toDate,
} from './mongo-ugc-schema.ts';
import type { ReviewDoc } from './mongo-ugc-schema.ts';
import { toPage } from '../cursor.ts';

export interface MongoUgcStoreOptions {
  /** `mongodb://` or `mongodb+srv://` connection string. */
  url: string;
  database: string;
}

/**
 * The production UgcStore on MongoDB (replica set). Uniqueness rules are unique indexes, so they
 * hold across any number of API processes. No multi-document transactions (FerretDB 1.x has none,
 * and on a sharded cluster they would span shards): each write is one atomic single-document
 * operation, except a vote, which writes the vote and then `$inc`s the review's counters by the
 * change the vote write reported. Collections, indexes and shard keys: docs/mongodb.md.
 */
export class MongoUgcStore implements UgcStore {
  readonly kind = 'mongodb';
  readonly #url: string;
  readonly #database: string;
  #starting: Promise<void> | null = null;
  #conn: Connection | null = null;

  constructor(options: MongoUgcStoreOptions) {
    this.#url = options.url;
    this.#database = options.database;
  }

  start(): Promise<void> {
    this.#starting ??= openConnection(this.#url, this.#database).then(
      (conn) => {
        this.#conn = conn;
      },
      (err: unknown) => {
        this.#starting = null;
        throw translateError(err);
      },
    );
    return this.#starting;
  }

  async close(): Promise<void> {
    const starting = this.#starting;
    this.#starting = null;
    await starting?.catch(() => undefined);
    const conn = this.#conn;
    this.#conn = null;
    try {
      await conn?.client.close();
    } catch (err) {
      throw translateError(err);
    }
  }

  ping(): Promise<void> {
    return this.#run(async ({ db }) => {
      await db.command({ ping: 1 });
    });
  }

  upsertLike(userId: string, filmId: string, score: number, now: string): Promise<{ like: Like; created: boolean }> {
    return this.#run(async ({ likes }) => {
      const at = toDate(now);
      const result = await retryOnDuplicate(() =>
        likes.findOneAndUpdate(
          { user_id: userId, film_id: filmId },
          { $set: { score, updated_at: at }, $setOnInsert: { created_at: at } },
          { upsert: true, returnDocument: 'after', includeResultMetadata: true },
        ),
      );
      // Reported by the same atomic write, so unlike the timestamps it tells created from
      // replaced even when both happen in the same millisecond.
      const existed: unknown = result.lastErrorObject?.['updatedExisting'];
      if (result.value === null || typeof existed !== 'boolean') {
        throw new BackendError('MongoDB upsert did not report what it did.', { retriable: false });
      }
      return { like: likeFromDoc(result.value), created: !existed };
    });
  }

  getLike(userId: string, filmId: string): Promise<Like | null> {
    return this.#run(async ({ likes }) => {
      const doc = await likes.findOne({ user_id: userId, film_id: filmId });
      return doc === null ? null : likeFromDoc(doc);
    });
  }

  deleteLike(userId: string, filmId: string): Promise<boolean> {
    return this.#run(async ({ likes }) => (await likes.deleteOne({ user_id: userId, film_id: filmId })).deletedCount > 0);
  }

  likeSummary(filmId: string): Promise<LikeSummary> {
    return this.#run(async ({ likes }) => {
      // One group per distinct score (0..10), added up here. `{ $sum: '$score' }` would be the
      // obvious pipeline, but FerretDB 1.24 returns 0 for it and lacks `$cond` in `$group`.
      const groups = await likes
        .aggregate<{ _id: number; n: number }>([
          { $match: { film_id: filmId } },
          { $group: { _id: '$score', n: { $sum: 1 } } },
        ])
        .toArray();
      let [count, liked, total] = [0, 0, 0];
      for (const { _id: score, n } of groups) {
        count += n;
        total += score * n;
        if (score >= LIKE_THRESHOLD) liked += n;
      }
      // A dislike is "not a like" (score <= 5 on the integer scale), so the two always add up.
      return { film_id: filmId, likes: liked, dislikes: count - liked, count, average_score: roundAverage(total, count) };
    });
  }

  listLikes(userId: string, page: PageRequest): Promise<Page<Like>> {
    return this.#run(async ({ likes }) => {
      const after = page.cursor === undefined ? {} : keysetFilter(LIKES_KEYSET, decodeKeyset(page.cursor, LIKES_KEYSET));
      const docs = await likes
        .find({ user_id: userId, ...after })
        .sort(keysetSort(LIKES_KEYSET))
        .limit(page.limit + 1)
        .toArray();
      return toPage(docs.map(likeFromDoc), page.limit, (like) => [like.updated_at, like.film_id]);
    });
  }

  addBookmark(bookmark: NewBookmark): Promise<{ bookmark: Bookmark; created: boolean }> {
    return this.#run(async ({ bookmarks }) => {
      const doc = bookmarkToDoc(bookmark);
      const { user_id, film_id, url } = bookmark;
      // Insert first and let the unique indexes decide: two concurrent adds cannot both pass a
      // lookup. A second round covers a duplicate deleted between our insert and our lookup.
      for (let round = 0; round < 2; round++) {
        try {
          await bookmarks.insertOne(doc);
          return { bookmark: bookmarkFromDoc(doc), created: true };
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
        }
        // The film match wins when film and url point at two different existing bookmarks.
        const existing =
          (film_id === null ? null : await bookmarks.findOne({ user_id, dedup_film: film_id })) ??
          (url === null ? null : await bookmarks.findOne({ user_id, dedup_url: url }));
        if (existing !== null) return { bookmark: bookmarkFromDoc(existing), created: false };
        if ((await bookmarks.countDocuments({ _id: bookmark.id }, { limit: 1 })) > 0) {
          throw new ConflictError('A bookmark with this id already exists.');
        }
      }
      throw new UnavailableError('Concurrent bookmark writes kept colliding.');
    });
  }

  listBookmarks(userId: string, page: PageRequest): Promise<Page<Bookmark>> {
    return this.#run(async ({ bookmarks }) => {
      const after =
        page.cursor === undefined ? {} : keysetFilter(BOOKMARKS_KEYSET, decodeKeyset(page.cursor, BOOKMARKS_KEYSET));
      const docs = await bookmarks
        .find({ user_id: userId, ...after })
        .sort(keysetSort(BOOKMARKS_KEYSET))
        .limit(page.limit + 1)
        .toArray();
      return toPage(docs.map(bookmarkFromDoc), page.limit, (b) => [b.created_at, b.id]);
    });
  }

  deleteBookmark(userId: string, id: string): Promise<boolean> {
    return this.#run(async ({ bookmarks }) => (await bookmarks.deleteOne({ _id: id, user_id: userId })).deletedCount > 0);
  }

  createReview(review: NewReview): Promise<Review> {
    return this.#run(async ({ reviews }) => {
      const doc = reviewToDoc(review);
      try {
        await reviews.insertOne(doc);
      } catch (err) {
        // The unique index decides, so two concurrent first reviews cannot both pass a check.
        if (isDuplicateKey(err)) throw new ConflictError('The user already reviewed this film.', { cause: err });
        throw err;
      }
      return reviewFromDoc(doc);
    });
  }

  getReview(id: string): Promise<Review | null> {
    return this.#run(async ({ reviews }) => {
      const doc = await reviews.findOne({ _id: id });
      return doc === null ? null : reviewFromDoc(doc);
    });
  }

  updateReview(id: string, patch: ReviewPatch, now: string): Promise<Review | null> {
    return this.#run((conn) =>
      reviewWrite(conn, id, async () => {
        // Absent fields keep their value, `score: null` clears it; the counters are not touched.
        const set: Partial<ReviewDoc> = { updated_at: toDate(now) };
        if (patch.text !== undefined) set.text = patch.text;
        if (patch.score !== undefined) set.score = patch.score;
        const doc = await conn.reviews.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
        return doc === null ? null : reviewFromDoc(doc);
      }),
    );
  }

  deleteReview(id: string): Promise<boolean> {
    return this.#run((conn) =>
      reviewWrite(conn, id, async () => {
        if ((await conn.reviews.deleteOne({ _id: id })).deletedCount === 0) return false;
        // The review goes first: a vote racing with the delete then finds no review to count on
        // and removes itself (applyVote). Votes left by a crash here are never read again.
        await conn.votes.deleteMany({ review_id: id });
        return true;
      }),
    );
  }

  listReviews(filmId: string, sort: ReviewSort, page: PageRequest): Promise<Page<Review>> {
    return this.#run(async ({ reviews }) => {
      const keyset = REVIEW_KEYSETS[sort];
      const after = page.cursor === undefined ? {} : keysetFilter(keyset, decodeKeyset(page.cursor, keyset, sort));
      const docs = await reviews
        .find({ film_id: filmId, ...after })
        .sort(keysetSort(keyset))
        .limit(page.limit + 1)
        .toArray();
      return toPage(docs.map(reviewFromDoc), page.limit, (r) => [sort, ...keyset.key(r)]);
    });
  }

  setVote(reviewId: string, userId: string, value: VoteValue): Promise<Review | null> {
    return this.#run((conn) =>
      reviewWrite(conn, reviewId, async () => {
        if ((await conn.reviews.countDocuments({ _id: reviewId }, { limit: 1 })) === 0) return null;
        // The previous value comes back from the same atomic write, so concurrent votes by one
        // user each see the value they replaced and their deltas add up to the final vote.
        const before = await retryOnDuplicate(() =>
          conn.votes.findOneAndUpdate(
            { review_id: reviewId, user_id: userId },
            { $set: { value } },
            { upsert: true, returnDocument: 'before' },
          ),
        );
        return applyVote(conn, reviewId, userId, before?.value ?? null, value);
      }),
    );
  }

  deleteVote(reviewId: string, userId: string): Promise<Review | null> {
    return this.#run((conn) =>
      reviewWrite(conn, reviewId, async () => {
        const before = await conn.votes.findOneAndDelete({ review_id: reviewId, user_id: userId });
        return applyVote(conn, reviewId, userId, before?.value ?? null, null);
      }),
    );
  }

  async #run<T>(fn: (conn: Connection) => Promise<T>): Promise<T> {
    const conn = this.#conn;
    if (conn === null) throw new UnavailableError('The MongoDB store is not started.');
    try {
      return await fn(conn);
    } catch (err) {
      throw translateError(err);
    }
  }
}
