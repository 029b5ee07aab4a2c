import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { NewBookmark } from '../../src/domain/bookmarks.ts';
import { ConflictError, ValidationError } from '../../src/domain/errors.ts';
import type { NewReview, Review } from '../../src/domain/reviews.ts';
import type { Page, PageRequest } from '../../src/ports/page.ts';
import type { UgcStore } from '../../src/ports/ugc-store.ts';

/**
 * The behaviour every UgcStore must share. `makeStore` returns a started store; the suite uses
 * one store for all tests, and random user and film ids keep tests from seeing each other's data,
 * so it also runs against a shared MongoDB.
 */
export function ugcStoreContract(
  name: string,
  makeStore: () => Promise<{ store: UgcStore; cleanup: () => Promise<void> }>,
): void {
  void describe(`UgcStore contract: ${name}`, () => {
    let store: UgcStore;
    let cleanup: (() => Promise<void>) | undefined;
    before(async () => {
      ({ store, cleanup } = await makeStore());
    });
    after(() => cleanup?.());

    void test('ping resolves', () => store.ping());

    void test('upsertLike creates, then replaces keeping created_at', async () => {
      const [user, film] = [randomUUID(), randomUUID()];
      const first = await store.upsertLike(user, film, 7, at(1));
      assert.equal(first.created, true);
      assert.deepEqual(first.like, { user_id: user, film_id: film, score: 7, created_at: at(1), updated_at: at(1) });
      // Same timestamp on purpose: `created` must not be guessed from the timestamps.
      const again = await store.upsertLike(user, film, 3, at(1));
      assert.equal(again.created, false);
      const later = await store.upsertLike(user, film, 9, at(2));
      assert.equal(later.created, false);
      assert.deepEqual(later.like, { user_id: user, film_id: film, score: 9, created_at: at(1), updated_at: at(2) });
      assert.deepEqual(await store.getLike(user, film), later.like);
    });

    void test('getLike and deleteLike', async () => {
      const [user, film] = [randomUUID(), randomUUID()];
      assert.equal(await store.getLike(user, film), null);
      assert.equal(await store.deleteLike(user, film), false);
      await store.upsertLike(user, film, 4, at(1));
      await store.upsertLike(randomUUID(), film, 4, at(1));
      assert.equal(await store.deleteLike(user, film), true);
      assert.equal(await store.getLike(user, film), null);
      assert.equal(await store.deleteLike(user, film), false);
      assert.equal((await store.likeSummary(film)).count, 1, "another user's like stays");
    });

    void test('likeSummary counts 6+ as likes, 5- as dislikes, and rounds the average', async () => {
      const film = randomUUID();
      const summary = async () => {
        const { likes, dislikes, count, average_score, film_id } = await store.likeSummary(film);
        assert.equal(film_id, film);
        return [likes, dislikes, count, average_score];
      };
      assert.deepEqual(await summary(), [0, 0, 0, null]);
      for (const score of [5, 6, 8]) await store.upsertLike(randomUUID(), film, score, at(1));
      assert.deepEqual(await summary(), [2, 1, 3, 6.33]);
      for (const score of [0, 10, 10]) await store.upsertLike(randomUUID(), film, score, at(1));
      assert.deepEqual(await summary(), [4, 2, 6, 6.5]);
    });

    void test('listLikes: newest update first, paginated without gaps or duplicates', async () => {
      const user = randomUUID();
      const films = Array.from({ length: 7 }, () => randomUUID());
      for (const [i, film] of films.entries()) await store.upsertLike(user, film, i, at(i));
      await store.upsertLike(randomUUID(), randomUUID(), 5, at(99));
      await store.upsertLike(user, films[0] ?? '', 10, at(50)); // a replaced like moves to the front
      const pages = await allPages((page) => store.listLikes(user, page), 3);
      assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
      const expected = [films[0], films[6], films[5], films[4], films[3], films[2], films[1]];
      assert.deepEqual(pages.flat().map((l) => l.film_id), expected);
    });

    void test('listLikes breaks updated_at ties by film_id, across page boundaries', async () => {
      const user = randomUUID();
      const films = Array.from({ length: 5 }, () => randomUUID());
      for (const film of films) await store.upsertLike(user, film, 6, at(1));
      const pages = await allPages((page) => store.listLikes(user, page), 2);
      assert.deepEqual(pages.flat().map((l) => l.film_id), films.toSorted().reverse());
    });

    void test('addBookmark returns the existing bookmark for the same film or url', async () => {
      const user = randomUUID();
      const film = randomUUID();
      const byFilm = await store.addBookmark(bookmark(user, { film_id: film, title: 'Alien' }));
      assert.equal(byFilm.created, true);
      const dupFilm = await store.addBookmark(bookmark(user, { film_id: film, title: 'Other', created_at: at(2) }));
      assert.deepEqual(dupFilm, { bookmark: byFilm.bookmark, created: false });
      const byUrl = await store.addBookmark(bookmark(user, { url: 'https://example.com/a' }));
      assert.equal(byUrl.created, true);
      const dupUrl = await store.addBookmark(bookmark(user, { url: 'https://example.com/a', created_at: at(3) }));
      assert.deepEqual(dupUrl, { bookmark: byUrl.bookmark, created: false });
      const both = await store.addBookmark(bookmark(user, { film_id: film, url: 'https://example.com/a' }));
      assert.deepEqual(both, { bookmark: byFilm.bookmark, created: false }, 'the film match wins');
      const other = await store.addBookmark(bookmark(randomUUID(), { film_id: film, url: 'https://example.com/a' }));
      assert.equal(other.created, true, 'another user may bookmark the same film and url');
      const urlOnly = await store.addBookmark(bookmark(user, { url: 'https://example.com/b' }));
      assert.equal(urlOnly.created, true, 'bookmarks without a film do not collide');
    });

    void test('listBookmarks newest first; deleteBookmark only deletes own bookmarks', async () => {
      const user = randomUUID();
      const added = [];
      for (let i = 0; i < 5; i++) {
        added.push((await store.addBookmark(bookmark(user, { film_id: randomUUID(), created_at: at(i) }))).bookmark);
      }
      await store.addBookmark(bookmark(randomUUID(), { film_id: randomUUID(), created_at: at(9) }));
      const pages = await allPages((page) => store.listBookmarks(user, page), 2);
      assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
      assert.deepEqual(pages.flat(), added.toReversed());
      const exact = await store.listBookmarks(user, { limit: 5 });
      assert.equal(exact.next_cursor, null, 'no cursor when the page holds exactly the rest');
      const first = added[0]?.id ?? '';
      assert.equal(await store.deleteBookmark(randomUUID(), first), false);
      assert.equal(await store.deleteBookmark(user, randomUUID()), false);
      assert.equal(await store.deleteBookmark(user, first), true);
      assert.equal(await store.deleteBookmark(user, first), false);
      assert.equal((await store.listBookmarks(user, { limit: 10 })).items.length, 4);
    });

    void test('createReview: one review per user and film', async () => {
      const [user, film] = [randomUUID(), randomUUID()];
      const created = await store.createReview(review(film, user, { score: 8 }));
      assert.deepEqual(created, { ...review(film, user, { id: created.id, score: 8 }), upvotes: 0, downvotes: 0 });
      await assert.rejects(store.createReview(review(film, user)), ConflictError);
      await store.createReview(review(film, randomUUID()));
      await store.createReview(review(randomUUID(), user));
      assert.deepEqual(await store.getReview(created.id), created);
      assert.equal(await store.getReview(randomUUID()), null);
    });

    void test('updateReview: text replaces, score sets or clears, absent fields stay', async () => {
      const created = await store.createReview(review(randomUUID(), randomUUID(), { score: 4 }));
      const text = await store.updateReview(created.id, { text: 'better' }, at(5));
      assert.deepEqual(text, { ...created, text: 'better', updated_at: at(5) });
      const score = await store.updateReview(created.id, { score: 9 }, at(6));
      assert.deepEqual(score, { ...created, text: 'better', score: 9, updated_at: at(6) });
      const cleared = await store.updateReview(created.id, { score: null }, at(7));
      assert.deepEqual(cleared, { ...created, text: 'better', score: null, updated_at: at(7) });
      assert.deepEqual(await store.getReview(created.id), cleared);
      assert.equal(await store.updateReview(randomUUID(), { text: 'x' }, at(8)), null);
    });

    void test('setVote and deleteVote keep the counts consistent', async () => {
      const { id } = await store.createReview(review(randomUUID(), randomUUID()));
      const [alice, bob] = [randomUUID(), randomUUID()];
      assert.deepEqual(counts(await store.setVote(id, alice, 1)), [1, 0]);
      assert.deepEqual(counts(await store.setVote(id, alice, 1)), [1, 0], 'the same vote twice counts once');
      assert.deepEqual(counts(await store.setVote(id, bob, 1)), [2, 0]);
      assert.deepEqual(counts(await store.setVote(id, alice, -1)), [1, 1], 'a changed vote moves');
      assert.deepEqual(counts(await store.deleteVote(id, bob)), [0, 1]);
      assert.deepEqual(counts(await store.deleteVote(id, bob)), [0, 1], 'deleting a missing vote is a no-op');
      assert.deepEqual(counts(await store.getReview(id)), [0, 1]);
      assert.equal(await store.setVote(randomUUID(), alice, 1), null);
      assert.equal(await store.deleteVote(randomUUID(), alice), null);
    });

    void test('deleteReview: the review is gone and cannot be voted on', async () => {
      const { id } = await store.createReview(review(randomUUID(), randomUUID()));
      await store.setVote(id, randomUUID(), 1);
      assert.equal(await store.deleteReview(id), true);
      assert.equal(await store.getReview(id), null);
      assert.equal(await store.setVote(id, randomUUID(), 1), null);
      assert.equal(await store.deleteReview(id), false);
    });

    void test('listReviews: newest, oldest and top, paginated', async () => {
      const film = randomUUID();
      const r: Review[] = [];
      for (let i = 0; i < 5; i++) {
        r.push(await store.createReview(review(film, randomUUID(), { created_at: at(i), updated_at: at(i) })));
      }
      await store.createReview(review(randomUUID(), randomUUID()));
      // ratings: r0 -1, r1 +2, r2 0, r3 +1, r4 0 (r2 and r4 tie, the newer first)
      const votes: [number, 1 | -1][] = [[0, -1], [1, 1], [1, 1], [3, 1], [2, 1], [2, -1]];
      for (const [i, value] of votes) await store.setVote(r[i]?.id ?? '', randomUUID(), value);
      const ids = async (sort: 'newest' | 'oldest' | 'top') => {
        const pages = await allPages((page) => store.listReviews(film, sort, page), 2);
        assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
        return pages.flat().map((x) => r.findIndex((y) => y.id === x.id));
      };
      assert.deepEqual(await ids('newest'), [4, 3, 2, 1, 0]);
      assert.deepEqual(await ids('oldest'), [0, 1, 2, 3, 4]);
      assert.deepEqual(await ids('top'), [1, 3, 4, 2, 0]);
      const top = await store.listReviews(film, 'top', { limit: 1 });
      assert.deepEqual(counts(top.items[0] ?? null), [2, 0]);
    });

    void test('a cursor that is not one the store issued is a ValidationError', async () => {
      const id = randomUUID();
      for (const cursor of ['not a cursor', Buffer.from('[1]').toString('base64url')]) {
        await assert.rejects(store.listLikes(id, { limit: 5, cursor }), ValidationError);
        await assert.rejects(store.listBookmarks(id, { limit: 5, cursor }), ValidationError);
        await assert.rejects(store.listReviews(id, 'top', { limit: 5, cursor }), ValidationError);
      }
    });

    void test('20 parallel upserts of one like: one like, one created', async () => {
      const [user, film] = [randomUUID(), randomUUID()];
      const results = await Promise.all(times(20, (i) => store.upsertLike(user, film, i % 11, at(1))));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal((await store.likeSummary(film)).count, 1);
      assert.equal((await store.listLikes(user, { limit: 100 })).items.length, 1);
    });

    void test('20 parallel reviews by one user of one film: one succeeds, the rest conflict', async () => {
      const [user, film] = [randomUUID(), randomUUID()];
      const results = await Promise.allSettled(times(20, () => store.createReview(review(film, user))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof ConflictError, String(r.reason));
      }
      assert.equal((await store.listReviews(film, 'newest', { limit: 100 })).items.length, 1);
    });

    void test('20 parallel bookmarks of one film: one bookmark', async () => {
      const [user, film] = [randomUUID(), randomUUID()];
      const results = await Promise.all(times(20, () => store.addBookmark(bookmark(user, { film_id: film }))));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.bookmark.id)).size, 1);
      assert.equal((await store.listBookmarks(user, { limit: 100 })).items.length, 1);
    });
  });
}

/** Distinct, fixed-width timestamps: second `n` of 2026. */
function at(n: number): string {
  return new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
}

function bookmark(userId: string, fields: Partial<NewBookmark>): NewBookmark {
  return { id: randomUUID(), user_id: userId, film_id: null, url: null, title: null, created_at: at(0), ...fields };
}

function review(filmId: string, userId: string, fields: Partial<NewReview> = {}): NewReview {
  const base = { id: randomUUID(), film_id: filmId, user_id: userId, text: 'Good film.', score: null };
  return { ...base, created_at: at(0), updated_at: at(0), ...fields };
}

function times<T>(n: number, fn: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => fn(i));
}

function counts(r: Review | null): [number, number] | null {
  return r === null ? null : [r.upvotes, r.downvotes];
}

/** Follows next_cursor to the end; the page cap turns a cursor that never ends into a failure. */
async function allPages<T>(list: (page: PageRequest) => Promise<Page<T>>, limit: number): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  do {
    const page = await list({ limit, cursor });
    pages.push(page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined && pages.length < 100);
  assert.equal(cursor, undefined, 'pagination did not end');
  return pages;
}
