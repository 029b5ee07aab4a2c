import { v7 as uuidv7 } from 'uuid';
import type { Bookmark } from '../domain/bookmarks.ts';
import { ForbiddenError, NotFoundError } from '../domain/errors.ts';
import { type Like, type LikeSummary, scoreOf } from '../domain/likes.ts';
import type { Review, ReviewPatch, ReviewSort, VoteValue } from '../domain/reviews.ts';
import type { Page, PageRequest } from '../ports/page.ts';
import type { UgcStore } from '../ports/ugc-store.ts';

/**
 * The rules of likes, bookmarks and reviews: who may change what. Uniqueness under
 * concurrency is the store's job (its constraints); this layer decides permissions and ids.
 * Ids are UUIDv7 so they sort by creation time in every store.
 */
export interface Actor {
  userId: string;
  isAdmin: boolean;
}

export class UgcService {
  #store: UgcStore;
  #now: () => Date;

  constructor(store: UgcStore, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  #timestamp(): string {
    return this.#now().toISOString();
  }

  rate(actor: Actor, filmId: string, input: { score?: number | undefined; like?: boolean | undefined }) {
    const score = input.score !== undefined ? scoreOf({ score: input.score }) : scoreOf({ like: input.like === true });
    return this.#store.upsertLike(actor.userId, filmId, score, this.#timestamp());
  }

  async getLike(actor: Actor, filmId: string): Promise<Like> {
    const like = await this.#store.getLike(actor.userId, filmId);
    if (!like) throw new NotFoundError('You have not rated this film.');
    return like;
  }

  async unrate(actor: Actor, filmId: string): Promise<void> {
    if (!(await this.#store.deleteLike(actor.userId, filmId))) throw new NotFoundError('You have not rated this film.');
  }

  likeSummary(filmId: string): Promise<LikeSummary> {
    return this.#store.likeSummary(filmId);
  }

  listLikes(actor: Actor, page: PageRequest): Promise<Page<Like>> {
    return this.#store.listLikes(actor.userId, page);
  }

  addBookmark(actor: Actor, input: { film_id?: string | undefined; url?: string | undefined; title?: string | undefined }) {
    return this.#store.addBookmark({
      id: uuidv7(),
      user_id: actor.userId,
      film_id: input.film_id?.toLowerCase() ?? null,
      url: input.url ?? null,
      title: input.title ?? null,
      created_at: this.#timestamp(),
    });
  }

  listBookmarks(actor: Actor, page: PageRequest): Promise<Page<Bookmark>> {
    return this.#store.listBookmarks(actor.userId, page);
  }

  async deleteBookmark(actor: Actor, id: string): Promise<void> {
    // Another user's bookmark is reported as missing, so ids cannot be probed.
    if (!(await this.#store.deleteBookmark(actor.userId, id.toLowerCase()))) throw new NotFoundError('No such bookmark.');
  }

  createReview(actor: Actor, filmId: string, input: { text: string; score?: number | undefined }): Promise<Review> {
    const now = this.#timestamp();
    return this.#store.createReview({
      id: uuidv7(),
      film_id: filmId,
      user_id: actor.userId,
      text: input.text,
      score: input.score ?? null,
      created_at: now,
      updated_at: now,
    });
  }

  async getReview(id: string): Promise<Review> {
    const review = await this.#store.getReview(id.toLowerCase());
    if (!review) throw new NotFoundError('No such review.');
    return review;
  }

  async updateReview(actor: Actor, id: string, patch: ReviewPatch): Promise<Review> {
    const review = await this.getReview(id);
    if (review.user_id !== actor.userId) throw new ForbiddenError('Only the author can edit a review.');
    const updated = await this.#store.updateReview(review.id, patch, this.#timestamp());
    if (!updated) throw new NotFoundError('No such review.');
    return updated;
  }

  async deleteReview(actor: Actor, id: string): Promise<void> {
    const review = await this.getReview(id);
    if (review.user_id !== actor.userId && !actor.isAdmin) {
      throw new ForbiddenError('Only the author or an administrator can delete a review.');
    }
    if (!(await this.#store.deleteReview(review.id))) throw new NotFoundError('No such review.');
  }

  listReviews(filmId: string, sort: ReviewSort, page: PageRequest): Promise<Page<Review>> {
    return this.#store.listReviews(filmId, sort, page);
  }

  async vote(actor: Actor, id: string, value: VoteValue): Promise<Review> {
    const review = await this.getReview(id);
    if (review.user_id === actor.userId) throw new ForbiddenError('You cannot vote on your own review.');
    const updated = await this.#store.setVote(review.id, actor.userId, value);
    if (!updated) throw new NotFoundError('No such review.');
    return updated;
  }

  async unvote(actor: Actor, id: string): Promise<void> {
    if (!(await this.#store.deleteVote(id.toLowerCase(), actor.userId))) throw new NotFoundError('No such review.');
  }
}
