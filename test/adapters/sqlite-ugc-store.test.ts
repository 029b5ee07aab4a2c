import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { SqliteUgcStore } from '../../src/adapters/store/sqlite-ugc-store.ts';
import type { NewBookmark } from '../../src/domain/bookmarks.ts';
import { BackendError, ConflictError, UnavailableError, ValidationError } from '../../src/domain/errors.ts';
import type { NewReview } from '../../src/domain/reviews.ts';
import { ugcStoreContract } from '../contracts/ugc-store.contract.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import type { TempDir } from '../helpers/tmp.ts';

const T0 = '2026-01-01T00:00:00.000Z';

ugcStoreContract('sqlite', async () => {
  const tmp = await makeTempDir('ugc-sqlite-');
  const store = new SqliteUgcStore({ path: join(tmp.dir, 'ugc.db') });
  await store.start();
  return {
    store,
    cleanup: async () => {
      await store.close();
      await tmp.cleanup();
    },
  };
});

function review(filmId: string, userId: string): NewReview {
  return { id: randomUUID(), film_id: filmId, user_id: userId, text: 'ok', score: 7, created_at: T0, updated_at: T0 };
}

function bookmark(userId: string, filmId: string): NewBookmark {
  return { id: randomUUID(), user_id: userId, film_id: filmId, url: null, title: 'A', created_at: T0 };
}

void describe('SqliteUgcStore', () => {
  let tmp: TempDir;
  before(async () => {
    tmp = await makeTempDir('ugc-sqlite-');
  });
  after(() => tmp.cleanup());

  /** A started store on its own file, closed when the test ends. */
  async function open(t: TestContext, path = join(tmp.dir, `${randomUUID()}.db`)) {
    const store = new SqliteUgcStore({ path });
    t.after(() => store.close());
    await store.start();
    return { store, path };
  }

  void test('data survives close and reopen', async (t) => {
    const { store, path } = await open(t);
    const [user, film] = [randomUUID(), randomUUID()];
    await store.upsertLike(user, film, 8, T0);
    const added = await store.addBookmark(bookmark(user, film));
    const created = await store.createReview(review(film, user));
    await store.setVote(created.id, randomUUID(), -1);
    await store.close();

    const { store: reopened } = await open(t, path);
    assert.equal((await reopened.getLike(user, film))?.score, 8);
    assert.deepEqual((await reopened.listBookmarks(user, { limit: 10 })).items, [added.bookmark]);
    assert.deepEqual(await reopened.getReview(created.id), { ...created, downvotes: 1 });
    assert.equal((await reopened.upsertLike(user, film, 2, T0)).created, false);
  });

  void test('a second instance on the same file sees the same uniqueness rules', async (t) => {
    const { store: a, path } = await open(t);
    const { store: b } = await open(t, path);
    const [user, film] = [randomUUID(), randomUUID()];
    assert.equal((await a.upsertLike(user, film, 6, T0)).created, true);
    assert.equal((await b.upsertLike(user, film, 7, T0)).created, false);
    assert.equal((await a.getLike(user, film))?.score, 7);
    await a.createReview(review(film, user));
    await assert.rejects(b.createReview(review(film, user)), ConflictError);
    const first = await a.addBookmark(bookmark(user, film));
    const second = await b.addBookmark(bookmark(user, film));
    assert.deepEqual(second, { bookmark: first.bookmark, created: false });
  });

  void test('separate processes writing at once keep every rule', async (t) => {
    const { store, path } = await open(t);
    const [user, film] = [randomUUID(), randomUUID()];
    const target = await store.createReview(review(randomUUID(), randomUUID()));
    const args = JSON.stringify({ path, user, film, reviewId: target.id, rounds: 25, startAt: Date.now() + 300 });
    const storeUrl = new URL('../../src/adapters/store/sqlite-ugc-store.ts', import.meta.url).href;
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () =>
        promisify(execFile)(process.execPath, ['--input-type=module', '-e', WRITER, storeUrl, args]),
      ),
    );
    const totals = outputs.map((o) => JSON.parse(o.stdout) as Record<string, number>);
    const sum = (key: string) => totals.reduce((n, r) => n + (r[key] ?? 0), 0);
    const keys = ['likeCreated', 'reviewCreated', 'conflicts', 'bookmarkCreated', 'other'];
    // Per round, exactly one writer creates each like, review and bookmark; the other three conflict.
    assert.deepEqual(keys.map(sum), [25, 25, 3 * 25, 25, 0]);
    // Each writer votes up 25 times and turns the 13 even-numbered votes down.
    const voted = await store.getReview(target.id);
    assert.deepEqual([voted?.upvotes, voted?.downvotes], [4 * 12, 4 * 13]);
    assert.equal((await store.listBookmarks(user, { limit: 100 })).items.length, 25);
  });

  void test('deleteReview removes the vote rows', async (t) => {
    const { store, path } = await open(t);
    const { id } = await store.createReview(review(randomUUID(), randomUUID()));
    await store.setVote(id, randomUUID(), 1);
    await store.setVote(id, randomUUID(), -1);
    const db = new DatabaseSync(path, { readOnly: true });
    t.after(() => db.close());
    const votes = () => db.prepare('SELECT count(*) AS n FROM review_votes WHERE review_id = ?').get(id)?.['n'];
    assert.equal(votes(), 2);
    assert.equal(await store.deleteReview(id), true);
    assert.equal(votes(), 0);
  });

  void test('a cursor from one review sort is rejected by another', async (t) => {
    const { store } = await open(t);
    const film = randomUUID();
    await store.createReview(review(film, randomUUID()));
    await store.createReview(review(film, randomUUID()));
    const { next_cursor } = await store.listReviews(film, 'newest', { limit: 1 });
    assert.ok(next_cursor !== null);
    await assert.rejects(store.listReviews(film, 'oldest', { limit: 1, cursor: next_cursor }), ValidationError);
    await assert.rejects(store.listReviews(film, 'top', { limit: 1, cursor: next_cursor }), ValidationError);
  });

  void test('start and close are idempotent; use outside start..close is UnavailableError', async (t) => {
    const store = new SqliteUgcStore({ path: join(tmp.dir, `${randomUUID()}.db`) });
    t.after(() => store.close());
    assert.equal(store.kind, 'sqlite');
    await assert.rejects(store.ping(), UnavailableError);
    await store.start();
    await store.start();
    await store.ping();
    await store.close();
    await store.close();
    await assert.rejects(store.ping(), UnavailableError);
    await assert.rejects(store.getLike('u', 'f'), UnavailableError);
  });

  void test('a database from a newer schema is refused', async (t) => {
    const path = join(tmp.dir, `${randomUUID()}.db`);
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 999');
    db.close();
    const store = new SqliteUgcStore({ path });
    t.after(() => store.close());
    await assert.rejects(store.start(), BackendError);
  });

  void test('listings read their order straight from an index', async (t) => {
    const { path } = await open(t);
    const db = new DatabaseSync(path, { readOnly: true });
    t.after(() => db.close());
    // The keyset queries the store runs: owner column, sort columns, direction.
    const listings: [string, string, string[], 'ASC' | 'DESC'][] = [
      ['likes', 'user_id', ['updated_at', 'film_id'], 'DESC'],
      ['bookmarks', 'user_id', ['created_at', 'id'], 'DESC'],
      ['reviews', 'film_id', ['created_at', 'id'], 'DESC'],
      ['reviews', 'film_id', ['created_at', 'id'], 'ASC'],
      ['reviews', 'film_id', ['rating', 'created_at', 'id'], 'DESC'],
    ];
    for (const [table, owner, columns, dir] of listings) {
      const sql =
        `SELECT * FROM ${table} WHERE ${owner} = ? AND (${columns.join()}) ${dir === 'DESC' ? '<' : '>'} ` +
        `(${columns.map(() => '?').join()}) ORDER BY ${columns.map((c) => `${c} ${dir}`).join()} LIMIT 5`;
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((row) => String(row['detail'])).join('; ');
      assert.match(plan, /USING (COVERING )?INDEX/, sql);
      assert.doesNotMatch(plan, /TEMP B-TREE/, sql);
    }
  });
});

/** A writer process: each round races the other writers on a new like, review and bookmark. */
const WRITER = `
const { SqliteUgcStore } = await import(process.argv[1]);
const { path, user, film, reviewId, rounds, startAt } = JSON.parse(process.argv[2]);
const store = new SqliteUgcStore({ path });
await store.start();
// A shared start time lines the writers up, so their rounds overlap instead of running in turn.
await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
const out = { likeCreated: 0, reviewCreated: 0, conflicts: 0, bookmarkCreated: 0, other: 0 };
const now = '2026-01-01T00:00:00.000Z';
for (let i = 0; i < rounds; i++) {
  const filmId = film + '-' + i;
  try {
    if ((await store.upsertLike(user, filmId, i % 11, now)).created) out.likeCreated++;
    const bookmark = { id: crypto.randomUUID(), user_id: user, film_id: filmId, url: null, title: null };
    if ((await store.addBookmark({ ...bookmark, created_at: now })).created) out.bookmarkCreated++;
    const voter = crypto.randomUUID();
    await store.setVote(reviewId, voter, 1);
    if (i % 2 === 0) await store.setVote(reviewId, voter, -1);
    const review = { id: crypto.randomUUID(), film_id: filmId, user_id: user, text: 't', score: null };
    await store.createReview({ ...review, created_at: now, updated_at: now }).then(() => out.reviewCreated++, (err) => {
      if (err.name === 'ConflictError') out.conflicts++; else throw err;
    });
  } catch (err) {
    out.other++;
    console.error(err);
  }
}
await store.close();
process.stdout.write(JSON.stringify(out));
`;
