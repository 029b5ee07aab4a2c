import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from 'node:sqlite';
import type { Bookmark, NewBookmark } from '../../domain/bookmarks.ts';
import { BackendError, ConflictError, UnavailableError } from '../../domain/errors.ts';
import { LIKE_THRESHOLD, roundAverage } from '../../domain/likes.ts';
import type { Like, LikeSummary } from '../../domain/likes.ts';
import type { NewReview, Review, ReviewPatch, ReviewSort, VoteValue } from '../../domain/reviews.ts';
import type { Page, PageRequest } from '../../ports/page.ts';
import type { UgcStore } from '../../ports/ugc-store.ts';
import { decodeCursor, toPage } from '../cursor.ts';
import { openSqlite } from '../sqlite.ts';
import {
  REVIEW_COLUMNS,
  REVIEW_SORTS,
  bookmarkFromRow,
  decodeReviewCursor,
  inTransaction,
  isUniqueViolation,
  likeFromRow,
  migrate,
  reviewFromRow,
  translateError,
} from './sqlite-ugc-schema.ts';

export interface SqliteUgcStoreOptions {
  /** Database file; `:memory:` works for a single instance. */
  path: string;
}

type Row = Record<string, SQLOutputValue>;

/**
 * The embedded UgcStore on node:sqlite. Every method runs synchronously to completion, so
 * within this process no two operations interleave; multi-statement writes also hold
 * BEGIN IMMEDIATE so another process sharing the file cannot slip between read and write.
 */
export class SqliteUgcStore implements UgcStore {
  readonly kind = 'sqlite';
  readonly #path: string;
  #db: DatabaseSync | null = null;
  readonly #statements = new Map<string, StatementSync>();

  constructor(options: SqliteUgcStoreOptions) {
    this.#path = options.path;
  }

  start(): Promise<void> {
    if (this.#db !== null) return Promise.resolve();
    try {
      const db = openSqlite(this.#path);
      try {
        migrate(db);
      } catch (err) {
        db.close();
        throw err;
      }
      this.#db = db;
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(translateError(err));
    }
  }

  close(): Promise<void> {
    const db = this.#db;
    this.#db = null;
    this.#statements.clear();
    try {
      if (db?.isOpen === true) db.close();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(translateError(err));
    }
  }

  ping(): Promise<void> {
    return this.#call(() => {
      this.#sql('SELECT 1').get();
    });
  }

  upsertLike(userId: string, filmId: string, score: number, now: string): Promise<{ like: Like; created: boolean }> {
    return this.#call((db) =>
      inTransaction(db, () => {
        // Read and upsert under one write lock: timestamps cannot tell created from replaced
        // when both happen in the same millisecond.
        const existed = this.#sql('SELECT 1 FROM likes WHERE user_id = ? AND film_id = ?').get(userId, filmId);
        const row = this.#one(
          `INSERT INTO likes (user_id, film_id, score, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (user_id, film_id) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at
           RETURNING *`,
          userId, filmId, score, now, now,
        );
        return { like: likeFromRow(row), created: existed === undefined };
      }),
    );
  }

  getLike(userId: string, filmId: string): Promise<Like | null> {
    return this.#call(() => {
      const row = this.#sql('SELECT * FROM likes WHERE user_id = ? AND film_id = ?').get(userId, filmId);
      return row === undefined ? null : likeFromRow(row);
    });
  }

  deleteLike(userId: string, filmId: string): Promise<boolean> {
    return this.#call(() => this.#changed('DELETE FROM likes WHERE user_id = ? AND film_id = ?', userId, filmId));
  }

  likeSummary(filmId: string): Promise<LikeSummary> {
    return this.#call(() => {
      const row = this.#one(
        `SELECT count(*) AS count, coalesce(sum(score >= ?), 0) AS likes, coalesce(sum(score), 0) AS total
         FROM likes WHERE film_id = ?`,
        LIKE_THRESHOLD, filmId,
      );
      const count = Number(row['count']);
      const likes = Number(row['likes']);
      // A dislike is "not a like" (score <= 5 on the integer scale), so the two always add up.
      const average_score = roundAverage(Number(row['total']), count);
      return { film_id: filmId, likes, dislikes: count - likes, count, average_score };
    });
  }

  listLikes(userId: string, page: PageRequest): Promise<Page<Like>> {
    return this.#call(() => {
      const after = page.cursor === undefined ? null : decodeCursor(page.cursor, ['string', 'string']);
      const rows = this.#sql(
        `SELECT * FROM likes WHERE user_id = ? ${after === null ? '' : 'AND (updated_at, film_id) < (?, ?)'}
         ORDER BY updated_at DESC, film_id DESC LIMIT ?`,
      ).all(userId, ...(after ?? []), page.limit + 1);
      return toPage(rows.map(likeFromRow), page.limit, (like) => [like.updated_at, like.film_id]);
    });
  }

  addBookmark(bookmark: NewBookmark): Promise<{ bookmark: Bookmark; created: boolean }> {
    return this.#call((db) =>
      inTransaction(db, () => {
        // DO NOTHING without a target covers both unique indexes (film and url) at once.
        const inserted = this.#sql(
          `INSERT INTO bookmarks (id, user_id, film_id, url, title, created_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT DO NOTHING RETURNING *`,
        ).get(bookmark.id, bookmark.user_id, bookmark.film_id, bookmark.url, bookmark.title, bookmark.created_at);
        if (inserted !== undefined) return { bookmark: bookmarkFromRow(inserted), created: true };
        // The film match wins when film and url point at two different existing bookmarks.
        const existing =
          this.#bookmarkBy('film_id', bookmark.user_id, bookmark.film_id) ??
          this.#bookmarkBy('url', bookmark.user_id, bookmark.url);
        if (existing === undefined) throw new ConflictError('A bookmark with this id already exists.');
        return { bookmark: bookmarkFromRow(existing), created: false };
      }),
    );
  }

  listBookmarks(userId: string, page: PageRequest): Promise<Page<Bookmark>> {
    return this.#call(() => {
      const after = page.cursor === undefined ? null : decodeCursor(page.cursor, ['string', 'string']);
      const rows = this.#sql(
        `SELECT * FROM bookmarks WHERE user_id = ? ${after === null ? '' : 'AND (created_at, id) < (?, ?)'}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      ).all(userId, ...(after ?? []), page.limit + 1);
      return toPage(rows.map(bookmarkFromRow), page.limit, (b) => [b.created_at, b.id]);
    });
  }

  deleteBookmark(userId: string, id: string): Promise<boolean> {
    return this.#call(() => this.#changed('DELETE FROM bookmarks WHERE id = ? AND user_id = ?', id, userId));
  }

  createReview(review: NewReview): Promise<Review> {
    return this.#call(() => {
      try {
        return reviewFromRow(
          this.#one(
            `INSERT INTO reviews (id, film_id, user_id, text, score, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${REVIEW_COLUMNS}`,
            review.id, review.film_id, review.user_id, review.text, review.score,
            review.created_at, review.updated_at,
          ),
        );
      } catch (err) {
        // The unique index decides, so two concurrent first reviews cannot both pass a check.
        if (isUniqueViolation(err)) throw new ConflictError('The user already reviewed this film.', { cause: err });
        throw err;
      }
    });
  }

  getReview(id: string): Promise<Review | null> {
    return this.#call(() => this.#review(id));
  }

  updateReview(id: string, patch: ReviewPatch, now: string): Promise<Review | null> {
    return this.#call(() => {
      // One statement: absent fields keep their value, `score: null` clears it.
      const row = this.#sql(
        `UPDATE reviews SET text = coalesce(?, text), score = CASE WHEN ? THEN ? ELSE score END, updated_at = ?
         WHERE id = ? RETURNING ${REVIEW_COLUMNS}`,
      ).get(patch.text ?? null, patch.score === undefined ? 0 : 1, patch.score ?? null, now, id);
      return row === undefined ? null : reviewFromRow(row);
    });
  }

  deleteReview(id: string): Promise<boolean> {
    // review_votes go with it through ON DELETE CASCADE (openSqlite turns foreign keys on).
    return this.#call(() => this.#changed('DELETE FROM reviews WHERE id = ?', id));
  }

  listReviews(filmId: string, sort: ReviewSort, page: PageRequest): Promise<Page<Review>> {
    return this.#call(() => {
      const spec = REVIEW_SORTS[sort];
      const after = page.cursor === undefined ? null : decodeReviewCursor(page.cursor, sort);
      const rows = this.#sql(
        `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE film_id = ? ${after === null ? '' : `AND ${spec.after}`}
         ORDER BY ${spec.order} LIMIT ?`,
      ).all(filmId, ...(after ?? []), page.limit + 1);
      return toPage(rows.map(reviewFromRow), page.limit, (r) => [sort, ...spec.key(r)]);
    });
  }

  setVote(reviewId: string, userId: string, value: VoteValue): Promise<Review | null> {
    return this.#call((db) =>
      inTransaction(db, () => {
        if (this.#review(reviewId) === null) return null;
        // The triggers move the counters; skipping a same-value update keeps a repeat vote a no-op.
        this.#sql(
          `INSERT INTO review_votes (review_id, user_id, value) VALUES (?, ?, ?)
           ON CONFLICT (review_id, user_id) DO UPDATE SET value = excluded.value
           WHERE review_votes.value <> excluded.value`,
        ).run(reviewId, userId, value);
        return this.#review(reviewId);
      }),
    );
  }

  deleteVote(reviewId: string, userId: string): Promise<Review | null> {
    return this.#call((db) =>
      inTransaction(db, () => {
        this.#sql('DELETE FROM review_votes WHERE review_id = ? AND user_id = ?').run(reviewId, userId);
        return this.#review(reviewId);
      }),
    );
  }

  /** Runs synchronously and settles the promise, turning SQLite failures into AppErrors. */
  #call<T>(fn: (db: DatabaseSync) => T): Promise<T> {
    try {
      const db = this.#db;
      if (db === null) throw new UnavailableError('The SQLite store is not started.');
      return Promise.resolve(fn(db));
    } catch (err) {
      return Promise.reject(translateError(err));
    }
  }

  /** Prepared once per connection: the statement texts are a small fixed set. */
  #sql(sql: string): StatementSync {
    const db = this.#db;
    if (db === null) throw new UnavailableError('The SQLite store is not started.');
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #one(sql: string, ...params: SQLInputValue[]): Row {
    const row = this.#sql(sql).get(...params);
    if (row === undefined) throw new BackendError(`SQLite returned no row for: ${sql}`, { retriable: false });
    return row;
  }

  #changed(sql: string, ...params: SQLInputValue[]): boolean {
    return Number(this.#sql(sql).run(...params).changes) > 0;
  }

  #bookmarkBy(column: 'film_id' | 'url', userId: string, value: string | null): Row | undefined {
    if (value === null) return undefined;
    return this.#sql(`SELECT * FROM bookmarks WHERE user_id = ? AND ${column} = ?`).get(userId, value);
  }

  #review(id: string): Review | null {
    const row = this.#sql(`SELECT ${REVIEW_COLUMNS} FROM reviews WHERE id = ?`).get(id);
    return row === undefined ? null : reviewFromRow(row);
  }
}
