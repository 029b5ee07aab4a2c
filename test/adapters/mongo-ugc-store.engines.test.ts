import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { MongoClient } from 'mongodb';
import type { Db } from 'mongodb';
import { MongoUgcStore } from '../../src/adapters/store/mongo-ugc-store.ts';
import type { NewBookmark } from '../../src/domain/bookmarks.ts';
import { ConflictError, UnavailableError } from '../../src/domain/errors.ts';
import type { NewReview } from '../../src/domain/reviews.ts';
import { ugcStoreContract } from '../contracts/ugc-store.contract.ts';
import { engineConfig, unreachable } from '../helpers/engines.ts';

const { url } = engineConfig.store.mongodb;
/** One database per run of this file, dropped at the end, so runs never see each other's data. */
const database = `ugc_test_${randomUUID().replaceAll('-', '')}`;
const T0 = '2026-01-01T00:00:00.000Z';

/** A started store; an unreachable server fails the suite with a how-to-fix message. */
async function startStore(): Promise<MongoUgcStore> {
  const store = new MongoUgcStore({ url, database });
  try {
    await store.start();
  } catch (err) {
    await store.close();
    // The driver's error (ECONNREFUSED, server selection timed out) says more than the 503 wrapper.
    throw err instanceof UnavailableError ? unreachable('MongoDB', url, err.cause ?? err) : err;
  }
  return store;
}

async function dropDatabase(): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 2000 });
  try {
    await client.db(database).dropDatabase();
  } finally {
    await client.close();
  }
}

ugcStoreContract('mongodb', async () => {
  const store = await startStore();
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropDatabase();
    },
  };
});

function review(filmId: string, userId: string): NewReview {
  return { id: randomUUID(), film_id: filmId, user_id: userId, text: 'ok', score: 7, created_at: T0, updated_at: T0 };
}

function bookmark(userId: string, fields: Partial<NewBookmark>): NewBookmark {
  return { id: randomUUID(), user_id: userId, film_id: null, url: null, title: 'A', created_at: T0, ...fields };
}

/** Index name -> [key fields in order, unique]; `_id_` is MongoDB's own. */
const EXPECTED_INDEXES: Record<string, Record<string, [[string, number][], boolean]>> = {
  likes: {
    likes_user_film: [[['user_id', 1], ['film_id', 1]], true],
    likes_user_recent: [[['user_id', 1], ['updated_at', -1], ['film_id', -1]], false],
    likes_film_score: [[['film_id', 1], ['score', 1]], false],
  },
  bookmarks: {
    bookmarks_user_film: [[['user_id', 1], ['dedup_film', 1]], true],
    bookmarks_user_url: [[['user_id', 1], ['dedup_url', 1]], true],
    bookmarks_user_recent: [[['user_id', 1], ['created_at', -1], ['_id', -1]], false],
  },
  reviews: {
    reviews_film_user: [[['film_id', 1], ['user_id', 1]], true],
    reviews_film_time: [[['film_id', 1], ['created_at', -1], ['_id', -1]], false],
    reviews_film_rating: [[['film_id', 1], ['rating', -1], ['created_at', -1], ['_id', -1]], false],
  },
  review_votes: {
    review_votes_review_user: [[['review_id', 1], ['user_id', 1]], true],
  },
};

void describe('MongoUgcStore', () => {
  let client: MongoClient;
  let db: Db;
  let store: MongoUgcStore;
  /** Undoes only what `before` got to do, so an unreachable server reports just that. */
  const cleanups: (() => Promise<void>)[] = [];
  before(async () => {
    store = await startStore();
    cleanups.push(() => store.close(), dropDatabase);
    client = new MongoClient(url, { serverSelectionTimeoutMS: 2000 });
    cleanups.push(() => client.close());
    db = client.db(database);
  });
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  /** A collection as stored, without the adapter's mapping. */
  function raw(name: string) {
    return db.collection<{ _id: string; [field: string]: unknown }>(name);
  }

  /** Another started instance on the same database, closed when the test ends. */
  async function another(t: TestContext): Promise<MongoUgcStore> {
    const other = await startStore();
    t.after(() => other.close());
    return other;
  }

  void test('start is idempotent, also from a second instance, and creates exactly the expected indexes', async (t) => {
    await store.start();
    await (await another(t)).start();
    for (const [collection, expected] of Object.entries(EXPECTED_INDEXES)) {
      const indexes = await db.collection(collection).indexes();
      const actual = Object.fromEntries(
        indexes
          .filter((index) => index.name !== '_id_')
          .map((index) => [String(index.name), [Object.entries(index.key), index.unique === true]]),
      );
      assert.deepEqual(actual, expected, collection);
    }
  });

  void test('a server that is down rejects with UnavailableError within 3 s', async (t) => {
    const down = new MongoUgcStore({ url: 'mongodb://127.0.0.1:1', database });
    t.after(() => down.close());
    assert.equal(down.kind, 'mongodb');
    await assert.rejects(down.ping(), UnavailableError, 'not started yet');
    const started = Date.now();
    await assert.rejects(down.start(), UnavailableError);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    await down.close();
    await down.close();
    await assert.rejects(down.getLike('u', 'f'), UnavailableError);
  });

  void test('data survives close and a new instance', async () => {
    const first = await startStore();
    const [user, film] = [randomUUID(), randomUUID()];
    await first.upsertLike(user, film, 8, T0);
    const added = await first.addBookmark(bookmark(user, { film_id: film }));
    const created = await first.createReview(review(film, user));
    await first.setVote(created.id, randomUUID(), -1);
    await first.close();
    await first.close();
    await assert.rejects(first.ping(), UnavailableError, 'a closed store refuses work');

    const reopened = await startStore();
    try {
      assert.equal((await reopened.getLike(user, film))?.score, 8);
      assert.deepEqual((await reopened.listBookmarks(user, { limit: 10 })).items, [added.bookmark]);
      assert.deepEqual(await reopened.getReview(created.id), { ...created, downvotes: 1 });
      assert.equal((await reopened.upsertLike(user, film, 2, T0)).created, false);
    } finally {
      await reopened.close();
    }
  });

  void test('a second instance sees the same uniqueness rules', async (t) => {
    const other = await another(t);
    const [user, film] = [randomUUID(), randomUUID()];
    const likes = await Promise.all([store, other, store, other].map((s, i) => s.upsertLike(user, film, i, T0)));
    assert.equal(likes.filter((r) => r.created).length, 1);
    await store.createReview(review(film, user));
    await assert.rejects(other.createReview(review(film, user)), ConflictError);
    const first = await store.addBookmark(bookmark(user, { url: 'https://example.com/x' }));
    const second = await other.addBookmark(bookmark(user, { url: 'https://example.com/x' }));
    assert.deepEqual(second, { bookmark: first.bookmark, created: false });
  });

  void test('documents use the domain id, BSON dates and dedup keys that never collide', async () => {
    const user = randomUUID();
    const created = await store.createReview(review(randomUUID(), user));
    const stored = await raw('reviews').findOne({ _id: created.id });
    assert.ok(stored?.['created_at'] instanceof Date);
    assert.equal(stored['rating'], 0);
    const urlOnly = (await store.addBookmark(bookmark(user, { url: 'https://example.com/y' }))).bookmark;
    const rawBookmark = await raw('bookmarks').findOne({ _id: urlOnly.id });
    assert.deepEqual([rawBookmark?.['dedup_film'], rawBookmark?.['dedup_url']], [{ none: urlOnly.id }, urlOnly.url]);
    // A film id equal to another bookmark's id is still a different key (a string, not a sub-document).
    const sameAsId = await store.addBookmark(bookmark(user, { film_id: urlOnly.id }));
    assert.equal(sameAsId.created, true);
  });

  void test('deleteReview removes its votes', async () => {
    const { id } = await store.createReview(review(randomUUID(), randomUUID()));
    await store.setVote(id, randomUUID(), 1);
    await store.setVote(id, randomUUID(), -1);
    const votes = () => db.collection('review_votes').countDocuments({ review_id: id });
    assert.equal(await votes(), 2);
    assert.equal(await store.deleteReview(id), true);
    assert.equal(await votes(), 0);
  });

  void test('parallel votes on one review keep the counters and rating exact', async () => {
    const { id } = await store.createReview(review(randomUUID(), randomUUID()));
    const voters = Array.from({ length: 30 }, () => randomUUID());
    // Every voter votes up; every third then turns it down, every fifth removes it, all at once.
    await Promise.all(
      voters.map(async (voter, i) => {
        await store.setVote(id, voter, 1);
        if (i % 3 === 0) await store.setVote(id, voter, -1);
        if (i % 5 === 0) await store.deleteVote(id, voter);
        await store.setVote(id, voter, i % 3 === 0 ? -1 : 1); // a repeat is a no-op unless deleted
      }),
    );
    const down = voters.filter((_, i) => i % 3 === 0).length;
    const final = await store.getReview(id);
    assert.deepEqual([final?.upvotes, final?.downvotes], [voters.length - down, down]);
    const stored = await raw('reviews').findOne({ _id: id });
    assert.equal(stored?.['rating'], voters.length - 2 * down);
    assert.equal(await db.collection('review_votes').countDocuments({ review_id: id }), voters.length);
  });
});
