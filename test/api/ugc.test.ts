import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type TestApp, buildTestApp } from '../helpers/app.ts';

interface Res {
  statusCode: number;
  headers: Record<string, unknown>;
  json: <T = Record<string, unknown>>() => T;
}

describe('likes, bookmarks and reviews routes', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  const call = async (method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE', url: string, user: string, payload?: unknown, admin = false): Promise<Res> =>
    t.app.inject({ method, url: `/api/v1${url}`, headers: await t.auth(user, { admin }), ...(payload === undefined ? {} : { payload: payload as object }) });
  const film = () => randomUUID();
  const user = () => `user-${randomUUID().slice(0, 8)}`;
  const errorPaths = (res: Res) => res.json<{ errors: { path: string }[] }>().errors.map((e) => e.path);

  describe('likes', () => {
    it('creates with 201, replaces with 200, reads and deletes the caller’s like', async () => {
      const [f, u] = [film(), user()];
      const created = await call('PUT', `/films/${f}/like`, u, { score: 7 });
      assert.equal(created.statusCode, 201);
      const like = created.json<{ film_id: string; user_id: string; score: number; created_at: string; updated_at: string }>();
      assert.deepEqual({ film_id: like.film_id, user_id: like.user_id, score: like.score }, { film_id: f, user_id: u, score: 7 });
      assert.match(like.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const replaced = await call('PUT', `/films/${f}/like`, u, { like: false });
      assert.equal(replaced.statusCode, 200);
      assert.equal(replaced.json<{ score: number }>().score, 0);
      assert.equal(replaced.json<{ created_at: string }>().created_at, like.created_at);
      assert.equal((await call('GET', `/films/${f}/like`, u)).json<{ score: number }>().score, 0);
      assert.equal((await call('GET', `/films/${f}/like`, user())).statusCode, 404, 'another user has no like');
      assert.equal((await call('DELETE', `/films/${f}/like`, u)).statusCode, 204);
      assert.equal((await call('DELETE', `/films/${f}/like`, u)).statusCode, 404);
      assert.equal((await call('GET', `/films/${f}/like`, u)).statusCode, 404);
    });

    it('{"like": true} is a 10', async () => {
      const res = await call('PUT', `/films/${film()}/like`, user(), { like: true });
      assert.equal(res.json<{ score: number }>().score, 10);
    });

    it('rejects bad scores, both forms at once, unknown fields and non-UUID film ids', async () => {
      const f = film();
      for (const body of [{ score: 11 }, { score: -1 }, { score: 5.5 }, { score: '5' }, { like: 'yes' }, {}, { score: 5, like: true }, { score: 5, extra: 1 }]) {
        const res = await call('PUT', `/films/${f}/like`, user(), body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
      }
      const badFilm = await call('PUT', '/films/not-a-uuid/like', user(), { score: 5 });
      assert.equal(badFilm.statusCode, 400);
      assert.deepEqual(errorPaths(badFilm), ['/params/film_id']);
    });

    it('summarises a film: likes ≥ 6, dislikes ≤ 5, average, null without ratings', async () => {
      const f = film();
      const empty = await call('GET', `/films/${f}/likes/summary`, user());
      assert.deepEqual(empty.json(), { film_id: f, likes: 0, dislikes: 0, count: 0, average_score: null });
      for (const score of [6, 5, 10]) await call('PUT', `/films/${f}/like`, user(), { score });
      assert.deepEqual((await call('GET', `/films/${f}/likes/summary`, user())).json(), { film_id: f, likes: 2, dislikes: 1, count: 3, average_score: 7 });
    });

    it('lists the caller’s likes newest first with cursor pagination', async () => {
      const u = user();
      const films = [film(), film(), film()];
      for (const f of films) await call('PUT', `/films/${f}/like`, u, { score: 8 });
      const first = (await call('GET', '/users/me/likes?limit=2', u)).json<{ items: { film_id: string }[]; next_cursor: string | null }>();
      assert.deepEqual(first.items.map((l) => l.film_id), [films[2], films[1]]);
      assert.ok(first.next_cursor);
      const second = (await call('GET', `/users/me/likes?limit=2&cursor=${encodeURIComponent(first.next_cursor)}`, u)).json<{ items: { film_id: string }[]; next_cursor: string | null }>();
      assert.deepEqual(second.items.map((l) => l.film_id), [films[0]]);
      assert.equal(second.next_cursor, null);
      assert.equal((await call('GET', '/users/me/likes?limit=0', u)).statusCode, 400);
      assert.equal((await call('GET', '/users/me/likes?limit=101', u)).statusCode, 400);
      const badCursor = await call('GET', '/users/me/likes?cursor=garbage', u);
      assert.equal(badCursor.statusCode, 400);
      assert.deepEqual(errorPaths(badCursor), ['/cursor']);
      assert.equal((await call('GET', '/users/me/likes?unknown=1', u)).statusCode, 400);
    });
  });

  describe('bookmarks', () => {
    it('creates with 201, returns the existing one with 200 for the same film or url, lists and deletes', async () => {
      const [u, f] = [user(), film()];
      const a = await call('POST', '/bookmarks', u, { film_id: f, title: 'Watch later' });
      assert.equal(a.statusCode, 201);
      const bookmark = a.json<{ id: string; film_id: string; url: null; title: string; created_at: string }>();
      assert.deepEqual({ film_id: bookmark.film_id, url: bookmark.url, title: bookmark.title }, { film_id: f, url: null, title: 'Watch later' });
      const again = await call('POST', '/bookmarks', u, { film_id: f });
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<{ id: string }>().id, bookmark.id);
      const url = await call('POST', '/bookmarks', u, { url: 'https://example.com/a' });
      assert.equal(url.statusCode, 201);
      assert.equal((await call('POST', '/bookmarks', u, { url: 'https://example.com/a' })).statusCode, 200);
      assert.equal((await call('POST', '/bookmarks', user(), { film_id: f })).statusCode, 201, 'another user may bookmark it too');
      const list = (await call('GET', '/bookmarks', u)).json<{ items: { id: string }[]; next_cursor: null }>();
      assert.deepEqual(list.items.map((b) => b.id), [url.json<{ id: string }>().id, bookmark.id]);
      assert.equal((await call('DELETE', `/bookmarks/${bookmark.id}`, user())).statusCode, 404, "another user's bookmark is not found");
      assert.equal((await call('DELETE', `/bookmarks/${bookmark.id}`, u)).statusCode, 204);
      assert.equal((await call('DELETE', `/bookmarks/${bookmark.id}`, u)).statusCode, 404);
      assert.equal((await call('DELETE', '/bookmarks/not-a-uuid', u)).statusCode, 400);
    });

    it('needs a film_id or an http(s) url, and nothing unknown', async () => {
      for (const body of [{}, { title: 'x' }, { url: 'ftp://example.com' }, { url: 'javascript:alert(1)' }, { film_id: 'x' }, { film_id: randomUUID(), user_id: 'me' }]) {
        assert.equal((await call('POST', '/bookmarks', user(), body)).statusCode, 400, JSON.stringify(body));
      }
    });
  });

  describe('reviews', () => {
    it('creates a review once per user and film (409 the second time) and returns the text exactly as sent', async () => {
      const [u, f] = [user(), film()];
      const text = '<b>Great</b> film & "quotes" — ünïcödé\nnew line';
      const res = await call('POST', `/films/${f}/reviews`, u, { text, score: 9 });
      assert.equal(res.statusCode, 201);
      const review = res.json<{ id: string; text: string; score: number; upvotes: number; downvotes: number; user_id: string; film_id: string }>();
      assert.deepEqual(
        { text: review.text, score: review.score, upvotes: review.upvotes, downvotes: review.downvotes, user_id: review.user_id, film_id: review.film_id },
        { text, score: 9, upvotes: 0, downvotes: 0, user_id: u, film_id: f },
      );
      const second = await call('POST', `/films/${f}/reviews`, u, { text: 'again' });
      assert.equal(second.statusCode, 409);
      assert.match(String(second.headers['content-type']), /problem\+json/);
      assert.equal((await call('GET', `/reviews/${review.id}`, user())).json<{ text: string }>().text, text);
      assert.equal((await call('GET', `/reviews/${randomUUID()}`, u)).statusCode, 404);
    });

    it('validates text length, score range and unknown fields', async () => {
      const f = film();
      for (const body of [{ text: '' }, { text: 'x'.repeat(5001) }, { text: 'ok', score: 11 }, { text: 'ok', user_id: 'x' }, {}]) {
        assert.equal((await call('POST', `/films/${f}/reviews`, user(), body)).statusCode, 400, JSON.stringify(body).slice(0, 50));
      }
      assert.equal((await call('POST', `/films/${f}/reviews`, user(), { text: 'x'.repeat(5000) })).statusCode, 201);
    });

    it('lets only the author edit (403 for others), and the author or an admin delete', async () => {
      const [author, other, f] = [user(), user(), film()];
      const { id } = (await call('POST', `/films/${f}/reviews`, author, { text: 'first', score: 3 })).json<{ id: string }>();
      assert.equal((await call('PATCH', `/reviews/${id}`, other, { text: 'hijack' })).statusCode, 403);
      const edited = await call('PATCH', `/reviews/${id}`, author, { text: 'second', score: null });
      assert.equal(edited.statusCode, 200);
      assert.deepEqual([edited.json<{ text: string }>().text, edited.json<{ score: null }>().score], ['second', null]);
      assert.equal((await call('PATCH', `/reviews/${id}`, author, {})).statusCode, 400);
      assert.equal((await call('PATCH', `/reviews/${randomUUID()}`, author, { text: 'x' })).statusCode, 404);
      assert.equal((await call('DELETE', `/reviews/${id}`, other)).statusCode, 403);
      assert.equal((await call('DELETE', `/reviews/${id}`, author)).statusCode, 204);
      assert.equal((await call('GET', `/reviews/${id}`, author)).statusCode, 404);
      const { id: id2 } = (await call('POST', `/films/${f}/reviews`, other, { text: 'mine' })).json<{ id: string }>();
      assert.equal((await call('DELETE', `/reviews/${id2}`, user(), undefined, true)).statusCode, 204, 'an admin may delete');
    });

    it('counts votes, forbids voting on one’s own review, and withdraws votes', async () => {
      const [author, f] = [user(), film()];
      const { id } = (await call('POST', `/films/${f}/reviews`, author, { text: 'vote me' })).json<{ id: string }>();
      assert.equal((await call('PUT', `/reviews/${id}/vote`, author, { value: 1 })).statusCode, 403);
      const [v1, v2] = [user(), user()];
      assert.deepEqual(pick((await call('PUT', `/reviews/${id}/vote`, v1, { value: 1 })).json()), { upvotes: 1, downvotes: 0 });
      assert.deepEqual(pick((await call('PUT', `/reviews/${id}/vote`, v1, { value: 1 })).json()), { upvotes: 1, downvotes: 0 }, 'same vote twice counts once');
      assert.deepEqual(pick((await call('PUT', `/reviews/${id}/vote`, v2, { value: -1 })).json()), { upvotes: 1, downvotes: 1 });
      assert.deepEqual(pick((await call('PUT', `/reviews/${id}/vote`, v1, { value: -1 })).json()), { upvotes: 0, downvotes: 2 });
      assert.equal((await call('PUT', `/reviews/${id}/vote`, v1, { value: 2 })).statusCode, 400);
      assert.equal((await call('DELETE', `/reviews/${id}/vote`, v1)).statusCode, 204);
      assert.deepEqual(pick((await call('GET', `/reviews/${id}`, v1)).json()), { upvotes: 0, downvotes: 1 });
      assert.equal((await call('PUT', `/reviews/${randomUUID()}/vote`, v1, { value: 1 })).statusCode, 404);
      assert.equal((await call('DELETE', `/reviews/${randomUUID()}/vote`, v1)).statusCode, 404);
    });

    it('pages a film’s reviews by newest, oldest and top', async () => {
      const f = film();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await call('POST', `/films/${f}/reviews`, user(), { text: `r${i}` })).json<{ id: string }>().id);
      await call('PUT', `/reviews/${ids[0]}/vote`, user(), { value: 1 });
      await call('PUT', `/reviews/${ids[0]}/vote`, user(), { value: 1 });
      await call('PUT', `/reviews/${ids[2]}/vote`, user(), { value: -1 });
      const all = async (sort: string) => {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const q: string = `/films/${f}/reviews?sort=${sort}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const page = (await call('GET', q, user())).json<{ items: { id: string }[]; next_cursor: string | null }>();
          seen.push(...page.items.map((r) => r.id));
          cursor = page.next_cursor;
        } while (cursor);
        return seen;
      };
      assert.deepEqual(await all('newest'), [ids[2], ids[1], ids[0]]);
      assert.deepEqual(await all('oldest'), ids);
      assert.deepEqual(await all('top'), [ids[0], ids[1], ids[2]]);
      assert.equal((await call('GET', `/films/${f}/reviews?sort=best`, user())).statusCode, 400);
    });
  });
});

function pick(body: Record<string, unknown>) {
  return { upvotes: body.upvotes, downvotes: body.downvotes };
}
