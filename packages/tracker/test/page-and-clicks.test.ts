import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { markedFields } from '../src/clicks.ts';
import { pageFields } from '../src/pageviews.ts';

/** An element with `data-ugc-*` attributes, found by `closest` from a target inside it. */
const inside = (attrs: Record<string, string> | null) => ({
  closest: (selector: string) => {
    assert.equal(selector, '[data-ugc-kind][data-ugc-id]');
    return attrs === null ? null : { getAttribute: (name: string) => attrs[name] ?? null };
  },
});

describe('tracker: clicks on marked elements', () => {
  const FILM = 'd9fb3d50-7415-4779-b780-824659acf34e';

  it('reads kind and id, and film_id from a film id or data-ugc-film-id', () => {
    assert.deepEqual(markedFields(inside({ 'data-ugc-kind': 'film', 'data-ugc-id': FILM })), { element: { kind: 'film', id: FILM }, film_id: FILM });
    assert.deepEqual(markedFields(inside({ 'data-ugc-kind': 'trailer', 'data-ugc-id': 'tr-42', 'data-ugc-film-id': FILM })), {
      element: { kind: 'trailer', id: 'tr-42' },
      film_id: FILM,
    });
    assert.deepEqual(markedFields(inside({ 'data-ugc-kind': 'category', 'data-ugc-id': 'noir' })), { element: { kind: 'category', id: 'noir' } });
    assert.deepEqual(markedFields(inside({ 'data-ugc-kind': 'person', 'data-ugc-id': 'p-7' })), { element: { kind: 'person', id: 'p-7' } });
    assert.deepEqual(markedFields(inside({ 'data-ugc-kind': 'film', 'data-ugc-id': 'not-a-uuid' })), { element: { kind: 'film', id: 'not-a-uuid' } });
  });

  it('ignores unmarked targets, malformed marks and things that are not elements', () => {
    assert.equal(markedFields(inside(null)), undefined);
    assert.equal(markedFields(inside({ 'data-ugc-kind': 'Film!', 'data-ugc-id': 'x' })), undefined);
    assert.equal(markedFields(inside({ 'data-ugc-kind': 'film', 'data-ugc-id': '' })), undefined);
    for (const target of [null, undefined, {}, 'text', { closest: 1 }]) assert.equal(markedFields(target), undefined);
  });
});

describe('tracker: page views', () => {
  it('sends the path as the page element and the URL without its fragment', () => {
    const fields = pageFields({ origin: 'https://cinema.example', pathname: '/films/42', search: '?ref=home' }, 'Film 42', 'https://cinema.example/#token=secret');
    assert.deepEqual(fields, {
      element: { kind: 'page', id: '/films/42' },
      properties: { url: 'https://cinema.example/films/42?ref=home', title: 'Film 42', referrer: 'https://cinema.example/' },
    });
  });
});
