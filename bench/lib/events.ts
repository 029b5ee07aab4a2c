/**
 * Behaviour events as a web player sends them: a mix of clicks, page views, finished views,
 * playback progress and searches, 150–300 bytes of JSON each, for a few hundred films. Seeded,
 * so every run sends the same bytes.
 */
import type { EventInput } from '../../src/domain/events.ts';
import { type Random, seeded } from '../../test/helpers/random.ts';

export { type Random, seeded };

function uuid(random: Random): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = (8 + Math.floor(random() * 4)).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const FILMS = (() => {
  const random = seeded(42);
  return Array.from({ length: 500 }, () => uuid(random));
})();
const PAGES = ['/', '/films', '/films/popular', '/search', '/profile', '/genres/drama', '/genres/comedy'];
const QUERIES = ['star wars', 'noir', 'comedy 1990s', 'kurosawa', 'space documentary', 'heist'];
const QUALITIES = ['480p', '720p', '1080p', '2160p'];

function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** `count` events in the client's form, happening before `nowMs` (up to `spreadMs` earlier). */
export function eventInputs(count: number, random: Random, nowMs: number, spreadMs = 60_000): EventInput[] {
  return Array.from({ length: count }, (): EventInput => {
    const at = nowMs - Math.floor(random() * spreadMs);
    const occurred_at = new Date(at).toISOString();
    const film_id = pick(random, FILMS);
    const kind = random();
    if (kind < 0.3) {
      return { type: 'click', element: { kind: 'trailer', id: `tr-${Math.floor(random() * 10_000)}` }, film_id, occurred_at };
    }
    if (kind < 0.5) {
      return {
        type: 'page_view',
        element: { kind: 'page', id: pick(random, PAGES) },
        occurred_at,
        properties: { referrer: pick(random, PAGES), locale: 'en-US', screen: '1920x1080' },
      };
    }
    if (kind < 0.65) {
      const watchedMs = Math.floor(random() * 7_200_000);
      return {
        type: 'view',
        film_id,
        started_at: new Date(at - watchedMs).toISOString(),
        ended_at: occurred_at,
        occurred_at,
      };
    }
    if (kind < 0.9) {
      return {
        type: 'playback_progress',
        film_id,
        occurred_at,
        properties: { position_s: Math.floor(random() * 7200), quality: pick(random, QUALITIES), bitrate_kbps: 800 + Math.floor(random() * 8000) },
      };
    }
    return { type: 'search', description: 'search results shown', occurred_at, properties: { query: pick(random, QUERIES), results: Math.floor(random() * 50) } };
  });
}

/** A POST /api/v1/events body: `{sent_at, events}` as a client batches them. */
export function batchBody(events: EventInput[], sentAtMs: number): Buffer {
  return Buffer.from(JSON.stringify({ sent_at: new Date(sentAtMs).toISOString(), events }));
}
