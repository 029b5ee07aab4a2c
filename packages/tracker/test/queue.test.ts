import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BEACON_GRACE_MS, EventQueue, STALE_MS } from '../src/queue.ts';
import type { TrackerOptions } from '../src/types.ts';
import { type Sent, fakeBrowser } from './fakes.ts';

const settings = (over: Partial<TrackerOptions> = {}) => ({
  batchSize: 3,
  flushIntervalMs: 5000,
  maxQueue: 1000,
  retryMinMs: 1000,
  retryMaxMs: 60_000,
  progressIntervalS: 10,
  autoPageViews: true,
  autoClicks: true,
  autoVideo: true,
  respectDoNotTrack: true,
  onError: undefined,
  ...over,
});

function queueOn(browser: ReturnType<typeof fakeBrowser>, over: Partial<TrackerOptions> = {}, pageId = 'page-1') {
  const options: TrackerOptions = { endpoint: 'https://ugc.example/', token: 'jwt-1', ...over };
  return new EventQueue(options, settings(over), browser.env, pageId);
}

const ids = (sent: Sent) => sent.body.events.map((e) => e.event_id);
const problem = (status: number, body: unknown = {}, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json', ...headers } });

describe('tracker queue: batching', () => {
  it('sends a batch when batchSize events wait, with ids and times fixed at creation', async () => {
    const b = fakeBrowser();
    const q = queueOn(b);
    const first = q.add('click', { element: { kind: 'film', id: 'f1' } });
    await b.advance(1000);
    q.add('page_view');
    q.add('playback_start');
    await b.settle();
    assert.equal(b.requests.length, 1);
    const [sent] = b.requests;
    assert.ok(sent);
    assert.equal(sent.url, 'https://ugc.example/api/v1/events');
    assert.equal(sent.headers.authorization, 'Bearer jwt-1');
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.deepEqual(sent.body.events.map((e) => e.type), ['click', 'page_view', 'playback_start']);
    assert.equal(sent.body.events[0]?.event_id, first?.event_id);
    assert.match(sent.body.events[0]?.event_id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(sent.body.events[0]?.occurred_at, '2026-01-01T12:00:00.000Z');
    assert.equal(sent.body.events[1]?.occurred_at, '2026-01-01T12:00:01.000Z');
    assert.equal(sent.body.sent_at, '2026-01-01T12:00:01.000Z');
    assert.equal(q.pending.length, 0);
    assert.equal(b.storage.length, 0, 'nothing left stored');
  });

  it('sends a smaller batch flushIntervalMs after its first event', async () => {
    const b = fakeBrowser();
    const q = queueOn(b);
    q.add('click');
    await b.advance(4999);
    assert.equal(b.requests.length, 0);
    q.add('click');
    await b.advance(1);
    assert.equal(b.requests.length, 1);
    assert.equal(b.requests[0]?.body.events.length, 2);
  });

  it('stores every event the moment it is created, and another page takes them over once this one is gone', async () => {
    const b = fakeBrowser(() => new TypeError('offline'));
    const q = queueOn(b);
    const e = q.add('click');
    assert.equal(b.storage.length, 1);
    assert.match([...b.storage.map.values()][0] ?? '', new RegExp(e?.event_id ?? 'x'));
    q.stop(false);
    const next = queueOn(b, {}, 'page-2');
    await next.adopt();
    assert.equal(next.pending.length, 0, 'not while the first page may still be alive');
    await b.advance(STALE_MS);
    await next.adopt();
    assert.deepEqual(next.pending.map((x) => x.event_id), [e?.event_id]);
  });
});

describe('tracker queue: retries', () => {
  it('retries a 503 with the same event ids, a new sent_at, not before Retry-After', async () => {
    const b = fakeBrowser((_sent, n) => (n === 1 ? problem(503, {}, { 'retry-after': '7' }) : new Response('{}', { status: 202 })));
    const q = queueOn(b);
    q.add('click');
    q.add('click');
    await q.flush();
    assert.equal(b.requests.length, 1);
    await b.advance(6999);
    assert.equal(b.requests.length, 1, 'waits out Retry-After');
    await b.advance(1);
    assert.equal(b.requests.length, 2);
    const [a, c] = b.requests as [Sent, Sent];
    assert.deepEqual(ids(c), ids(a));
    assert.notEqual(c.body.sent_at, a.body.sent_at);
    assert.deepEqual(c.body.events.map((e) => e.occurred_at), a.body.events.map((e) => e.occurred_at));
    assert.equal(q.pending.length, 0);
  });

  it('backs off exponentially while the network is down, and sends at once when it comes back', async () => {
    let offline = true;
    const b = fakeBrowser(() => (offline ? new TypeError('Failed to fetch') : new Response('{}', { status: 202 })));
    const q = queueOn(b);
    q.add('click');
    await q.flush();
    await b.advance(120_000);
    const gaps = b.requests.slice(1).map((r, i) => r.at - (b.requests[i]?.at ?? 0));
    // random() = 0.5: 3/4 of 1 s, 2 s, 4 s, ... capped at 60 s.
    assert.deepEqual(gaps.slice(0, 6), [750, 1500, 3000, 6000, 12_000, 24_000]);
    offline = false;
    const before = b.requests.length;
    await q.online();
    assert.equal(b.requests.length, before + 1);
    assert.equal(q.pending.length, 0);
  });

  it('asks a token function before every attempt (a fresh JWT), and retries a 401', async () => {
    let n = 0;
    const b = fakeBrowser((sent) => (sent.headers.authorization === 'Bearer jwt-1' ? problem(401) : new Response('{}', { status: 202 })));
    const q = queueOn(b, { token: () => Promise.resolve(`jwt-${++n}`) });
    q.add('click');
    await q.flush();
    await b.advance(2000);
    assert.deepEqual(b.requests.map((r) => r.headers.authorization), ['Bearer jwt-1', 'Bearer jwt-2']);
    assert.equal(q.pending.length, 0);
  });

  it('drops only the events a 400 names, reports them, and sends the rest', async () => {
    const errors: { status: number; dropped: number }[] = [];
    const b = fakeBrowser((_s, n) => (n === 1 ? problem(400, { detail: 'Invalid body.', errors: [{ path: '/events/1/type' }] }) : new Response('{}', { status: 202 })));
    const q = queueOn(b, { onError: (info) => errors.push(info) });
    const kept = [q.add('click'), q.add('Bad!'), q.add('click')];
    await q.flush();
    assert.equal(b.requests.length, 2);
    assert.deepEqual(ids(b.requests[1] as Sent), [kept[0]?.event_id, kept[2]?.event_id]);
    assert.deepEqual(errors, [{ status: 400, dropped: 1, detail: 'Invalid body.' }]);
  });

  it('splits a batch the service finds too large (413)', async () => {
    const b = fakeBrowser((sent) => (sent.body.events.length > 1 ? problem(413) : new Response('{}', { status: 202 })));
    const q = queueOn(b, { batchSize: 4 });
    for (let i = 0; i < 4; i++) q.add('click');
    await q.flush();
    assert.deepEqual(b.requests.map((r) => r.body.events.length), [4, 2, 1, 1, 1, 1]);
    assert.equal(q.pending.length, 0);
  });

  it('keeps at most maxQueue events, dropping the oldest', async () => {
    const errors: number[] = [];
    const b = fakeBrowser(() => new TypeError('offline'));
    const q = queueOn(b, { maxQueue: 5, batchSize: 100, onError: (i) => errors.push(i.dropped) });
    const all = Array.from({ length: 7 }, () => q.add('click'));
    assert.deepEqual(q.pending.map((e) => e.event_id), all.slice(2).map((e) => e?.event_id));
    assert.deepEqual(errors, [1, 1]);
    q.stop(true);
    await b.settle();
  });
});

describe('tracker queue: the page going away', () => {
  it('hands waiting events to sendBeacon with the token in the text body, and keeps them until a read answer', async () => {
    const b = fakeBrowser();
    const q = queueOn(b, { batchSize: 100 });
    const e = q.add('click');
    q.beacon();
    assert.equal(b.beacons.length, 1);
    assert.equal(b.beacons[0]?.body.access_token, 'jwt-1');
    assert.deepEqual(ids(b.beacons[0]), [e?.event_id]);
    assert.equal(q.pending.length, 1, 'still stored: the beacon may have met a 503');
    q.beacon();
    assert.equal(b.beacons.length, 1, 'not beaconed twice within the grace period');
    await b.advance(BEACON_GRACE_MS - 1);
    assert.equal(b.requests.length, 0);
    await b.advance(1);
    assert.deepEqual(b.requests.map(ids), [[e?.event_id]], 'sent again, now with an answer');
    assert.equal(q.pending.length, 0);
  });

  it('uses the last token a token function gave when it cannot answer at once', async () => {
    const b = fakeBrowser();
    const q = queueOn(b, { batchSize: 1, token: () => Promise.resolve('jwt-async') });
    q.add('click');
    await b.settle();
    q.add('click');
    b.env.fetch = () => new Promise(() => undefined);
    q.add('page_view');
    q.beacon();
    assert.equal(b.beacons[0]?.body.access_token, 'jwt-async');
  });

  it('forgets everything on opt-out', () => {
    const b = fakeBrowser(() => new TypeError('offline'));
    const q = queueOn(b);
    q.add('click');
    q.stop(true);
    assert.equal(b.storage.length, 0);
    assert.equal(q.add('click'), undefined);
  });
});
