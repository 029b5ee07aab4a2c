import type { Bookmark, NewBookmark } from '../domain/bookmarks.ts';
import type { Like, LikeSummary } from '../domain/likes.ts';
import type { NewReview, Review, ReviewPatch, ReviewSort, VoteValue } from '../domain/reviews.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Page, PageRequest } from './page.ts';

/**
 * Likes, bookmarks and reviews (MongoDB in production, SQLite embedded). The store enforces the
 * uniqueness rules with its own constraints so they hold under concurrency; who may do what is
 * decided by the domain services, not here. Timestamps are passed in so callers control time.
 * An invalid cursor throws ValidationError (path `/cursor`).
 */
export interface UgcStore extends Lifecycle {
  readonly kind: string;

  /** Creates or replaces the user's like of the film; `created` tells which. */
  upsertLike(userId: string, filmId: string, score: number, now: string): Promise<{ like: Like; created: boolean }>;
  getLike(userId: string, filmId: string): Promise<Like | null>;
  /** @returns false when there was no like */
  deleteLike(userId: string, filmId: string): Promise<boolean>;
  likeSummary(filmId: string): Promise<LikeSummary>;
  /** The user's likes, newest (`updated_at`) first. */
  listLikes(userId: string, page: PageRequest): Promise<Page<Like>>;

  /** Adds a bookmark, or returns the user's existing one for the same film or url (`created: false`). */
  addBookmark(bookmark: NewBookmark): Promise<{ bookmark: Bookmark; created: boolean }>;
  /** The user's bookmarks, newest first. */
  listBookmarks(userId: string, page: PageRequest): Promise<Page<Bookmark>>;
  /** @returns false when the bookmark does not exist or belongs to another user */
  deleteBookmark(userId: string, id: string): Promise<boolean>;

  /** @throws ConflictError when the user already reviewed the film */
  createReview(review: NewReview): Promise<Review>;
  getReview(id: string): Promise<Review | null>;
  /** @returns null when the review does not exist */
  updateReview(id: string, patch: ReviewPatch, now: string): Promise<Review | null>;
  /** Deletes the review and its votes. @returns false when it did not exist */
  deleteReview(id: string): Promise<boolean>;
  listReviews(filmId: string, sort: ReviewSort, page: PageRequest): Promise<Page<Review>>;
  /** Sets (or changes) the user's vote. @returns the review with new counts, null when it does not exist */
  setVote(reviewId: string, userId: string, value: VoteValue): Promise<Review | null>;
  /** Removes the user's vote if any. @returns the review with new counts, null when it does not exist */
  deleteVote(reviewId: string, userId: string): Promise<Review | null>;
}
