import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type * as Tracker from '../../packages/tracker/src/index.ts';
import { stopAll } from '../helpers/service.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { launchChromium, spawnChromium } from './helpers/chromium.ts';
import { TestProxy } from './helpers/proxy.ts';
import { storedCount } from './helpers/stored.ts';
import { type StoredEvent, startWebService, until } from './helpers/service.ts';

declare global {
  interface Window {
    ugc: typeof Tracker;
  }
}

/**
 * The tracker in headless Chromium against the real service (`serve`: API, ETL thread, chDB):
 * what a page does must arrive in analytics with the right values. The demo page is loaded
 * through a proxy on another port — another origin, the one CORS_ORIGINS allows — so every
 * call is a real cross-origin call; `localhost` on that port is a second origin, not allowed.
 */
const FILM = 'd9fb3d50-7415-4779-b780-824659acf34e';
const CLIP_S = 6;

describe('the browser tracker against the real service (headless Chromium)', () => {
  let browser: Browser;
  let web: Awaited<ReturnType<typeof startWebService>>;
  /** The page's origin: a proxy to the service on its own port. */
  const site = new TestProxy();
  /** Between the page and the API when a test needs to see or break the calls. */
  const api = new TestProxy();
  let origin = '';
  let apiProxy = '';
  const contexts: BrowserContext[] = [];

  before(async () => {
    origin = await site.listen();
    apiProxy = await api.listen();
    web = await startWebService({ CORS_ORIGINS: origin }, CLIP_S);
    site.target = web.service.url;
    api.target = web.service.url;
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await stopAll();
    await Promise.all([site.close(), api.close()]);
    await web?.tmp.cleanup();
  });

  async function open(user: string, params: Record<string, string | number>, options: { from?: string; endpoint?: string } = {}): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const query = new URLSearchParams({ api: options.endpoint ?? web.service.url, ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])) });
    await page.goto(`${options.from ?? origin}/demo/?${query.toString()}#token=${await web.token(user)}`);
    await page.waitForFunction(() => typeof window.ugc === 'object');
    return page;
  }

  const ofType = (events: StoredEvent[], type: string) => events.filter((e) => e.type === type);
  const near = (actual: unknown, expected: number, tolerance: number, what: string) =>
    assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= tolerance, `${what}: ${String(actual)} not within ${tolerance} of ${expected}`);
  const intervalS = (e: StoredEvent) => (Date.parse(e.ended_at ?? '') - Date.parse(e.started_at ?? '')) / 1000;
  it('page views, clicks on marked elements and video progress arrive in analytics with the right values', async () => {
    const user = web.newUser();
    const page = await open(user, { flush_ms: 300, progress_s: 2 });
    await page.click('#film-2');
    await page.click('#trailer-1');
    await page.click('#cat-noir');
    await page.click('#person-7');
    await page.click('#nav-series');
    await page.evaluate(() => document.querySelector('video')?.play());
    await page.waitForFunction(() => document.querySelector('video')?.ended === true, null, { timeout: 60_000 });
    await page.evaluate(() => window.ugc.flush());

    const events = await until(
      () => web.userEvents(user),
      (es) => ofType(es, 'playback_stop').length === 1 && ofType(es, 'page_view').length === 2 && ofType(es, 'click').length === 4,
      'page views, clicks and the playback in analytics',
    );
    const jwt = await web.token(user);
    assert.ok(!JSON.stringify(events).includes(jwt.split('.')[2] ?? jwt), 'the token (in the page URL fragment) is in no event');

    const views = ofType(events, 'page_view').sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));
    assert.deepEqual(views.map((e) => e.element), [{ kind: 'page', id: '/demo/' }, { kind: 'page', id: '/demo/series' }]);
    assert.match(String(views[0]?.properties.url), new RegExp(`^${origin}/demo/\\?api=`));
    assert.equal(views[0]?.properties.title, 'UGC demo cinema');

    const clicks = ofType(events, 'click').map((e) => [e.element?.kind, e.element?.id, e.film_id]);
    assert.deepEqual(clicks.sort(), [
      ['category', 'noir', null],
      ['film', '6f1f4a4e-5f5e-4a0e-9b7b-0a1b2c3d4e5f', '6f1f4a4e-5f5e-4a0e-9b7b-0a1b2c3d4e5f'],
      ['person', 'person-7', null],
      ['trailer', 'tr-long-night', FILM],
    ].sort());

    const playback = events.filter((e) => e.type.startsWith('playback_'));
    for (const e of playback) {
      assert.equal(e.film_id, FILM, `${e.type} is about the film`);
      near(e.properties.duration_s, CLIP_S, 0.1, `${e.type} duration_s`);
    }
    assert.equal(ofType(events, 'playback_start').length, 1);
    near(ofType(events, 'playback_start')[0]?.properties.position_s, 0, 0.3, 'start position');
    const progress = ofType(events, 'playback_progress');
    const milestones = progress.filter((e) => e.properties.reason === 'milestone');
    assert.deepEqual(milestones.map((e) => e.properties.percent).sort((a, b) => Number(a) - Number(b)), [10, 25, 50, 75, 90]);
    for (const m of milestones) near(m.properties.position_s, (Number(m.properties.percent) * CLIP_S) / 100 + 0.3, 0.35, `position at ${String(m.properties.percent)} %`);
    assert.ok(progress.some((e) => e.properties.reason === 'interval'), 'progress every 2 s of playing');
    const stop = ofType(events, 'playback_stop')[0];
    assert.equal(stop?.properties.reason, 'ended');
    near(stop?.properties.position_s, CLIP_S, 0.1, 'stop position');
    near(stop?.properties.watched_s, CLIP_S, 1.5, 'watched seconds');
    // The stretches played, one after the other: their sum is the watch time the service reports.
    const stretches = [...progress, ...ofType(events, 'playback_stop')].filter((e) => e.started_at !== null);
    near(stretches.reduce((s, e) => s + intervalS(e), 0), Number(stop?.properties.watched_s), 0.01, 'sum of the played intervals');
    assert.equal(await storedCount(page), 0, 'nothing left waiting in localStorage');
  });

  it('delivers everything, once, when the network comes back after a cut', async () => {
    const user = web.newUser();
    const page = await open(user, { flush_ms: 300 });
    await until(() => web.userEvents(user), (es) => es.length === 1, 'the first page view');
    await page.context().setOffline(true);
    for (const id of ['#film-1', '#film-2', '#film-3', '#film-4', '#cat-noir']) await page.click(id, { position: { x: 3, y: 3 } });
    await page.evaluate(() => window.ugc.flush());
    assert.equal(await storedCount(page), 5, 'the five clicks wait in localStorage');
    await page.context().setOffline(false);
    const events = await until(() => web.userEvents(user), (es) => ofType(es, 'click').length >= 5, 'the clicks made offline');
    await until(() => storedCount(page), (n) => n === 0, 'an empty queue');
    const final = await web.userEvents(user);
    assert.equal(ofType(final, 'click').length, 5);
    assert.equal(final.length, 6);
    assert.equal(new Set(events.map((e) => e.event_id)).size, events.length);
  });

  it('still delivers an event tracked right before the page is left (beacon)', async () => {
    const user = web.newUser();
    // Nothing leaves on a timer: only the beacon can carry the events out.
    const page = await open(user, { flush_ms: 600_000, batch: 1000 }, { endpoint: apiProxy });
    const marker = randomUUID();
    await page.evaluate((m) => window.ugc.track('custom', { properties: { marker: m } }), marker);
    await page.goto('about:blank');
    const events = await until(() => web.userEvents(user), (es) => es.some((e) => e.properties.marker === marker), 'the event sent as the page went away');
    assert.ok(ofType(events, 'page_view').length === 1, 'the page view waiting with it too');
    const beacons = api.seen.filter((r) => r.method === 'POST' && r.body.includes(marker));
    assert.ok(beacons.length >= 1 && beacons.every((r) => r.contentType?.startsWith('text/plain')), 'sent as a text/plain beacon');
    assert.ok(beacons.some((r) => r.status === 202), 'and accepted');
  });

  it('retries a 503 (honouring Retry-After) and the service counts the batch once', async () => {
    const user = web.newUser();
    const marker = randomUUID();
    let failed: number | undefined;
    // The service writes the batch, then the client sees a 503: the retry must not count twice.
    api.fault = (r) => {
      if (failed !== undefined || r.method !== 'POST' || !r.body.includes(marker)) return undefined;
      failed = r.at;
      return { status: 503, headers: { 'retry-after': '2' } };
    };
    try {
      const page = await open(user, { flush_ms: 200 }, { endpoint: apiProxy });
      await page.evaluate((m) => window.ugc.track('custom', { properties: { marker: m } }), marker);
      const events = await until(
        () => web.userEvents(user),
        (es) => es.some((e) => e.properties.marker === marker) && api.seen.filter((r) => r.body.includes(marker)).length >= 2,
        'the event after the retry',
      );
      const attempts = api.seen.filter((r) => r.method === 'POST' && r.body.includes(marker));
      assert.equal(attempts[0]?.status, 503);
      assert.equal(attempts[1]?.status, 202);
      assert.ok((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0) >= 1900, `retried after ${(attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)} ms, Retry-After was 2 s`);
      const ids = (body: string) => (JSON.parse(body) as { events: { event_id: string }[] }).events.map((e) => e.event_id).sort();
      assert.deepEqual(ids(attempts[1]?.body ?? '{}'), ids(attempts[0]?.body ?? '{}'), 'the same event ids');
      assert.equal(events.filter((e) => e.properties.marker === marker).length, 1, 'counted once');
      assert.equal(await storedCount(page), 0);
    } finally {
      api.fault = undefined;
    }
  });

  it('is blocked by the browser on an origin that is not in CORS_ORIGINS', async () => {
    const user = web.newUser();
    const other = `http://localhost:${site.port}`;
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const corsErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /CORS policy/.test(m.text())) corsErrors.push(m.text());
    });
    await page.goto(`${other}/demo/?api=${encodeURIComponent(web.service.url)}&flush_ms=200#token=${await web.token(user)}`);
    await page.waitForFunction(() => typeof window.ugc === 'object');
    await until(() => Promise.resolve(corsErrors.length), (n) => n > 0, 'a CORS error in the console', 15_000);
    assert.match(corsErrors[0] ?? '', new RegExp(`from origin '${other}' has been blocked`));
    const read = await page.evaluate(async (base) => fetch(`${base}/healthz`).then(() => 'read', () => 'blocked'), web.service.url);
    assert.equal(read, 'blocked');
    assert.equal(await storedCount(page), 1, 'the page view still waits, undelivered');
    assert.deepEqual(await web.userEvents(user), []);
  });

  it("runs the README's web page as written (script tag and five lines)", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## From a web page'));
    const html = /<<'EOF'\n([\s\S]*?)\nEOF\n/.exec(section)?.[1];
    assert.ok(html, 'the README has the page between <<\'EOF\' and EOF');
    assert.match(section, /CORS_ORIGINS=http:\/\/localhost:3000 npm start/);
    const user = web.newUser();
    // What the README's sed does, and the service's and the page's addresses of this test.
    site.pages.set('/readme.html', html.replaceAll('PASTE_TOKEN_HERE', await web.token(user)).replaceAll('http://localhost:8000', web.service.url));
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${origin}/readme.html`);
    await page.click('button');
    const events = await until(
      () => web.userEvents(user),
      (es) => ['page_view', 'search', 'language_change', 'click'].every((t) => ofType(es, t).length === 1),
      "the README page's events",
    );
    assert.deepEqual(ofType(events, 'search')[0]?.properties, { query: 'noir' });
    assert.deepEqual(ofType(events, 'click')[0]?.element, { kind: 'film', id: FILM });
    assert.equal(ofType(events, 'click')[0]?.film_id, FILM);
  });

  it('delivers, at the next visit, what a killed browser had tracked (IndexedDB survives the kill)', async () => {
    const user = web.newUser();
    const profile = await makeTempDir('ugc-chromium-profile-');
    const url = async (params: Record<string, string>) =>
      `${origin}/demo/?${new URLSearchParams({ api: web.service.url, ...params }).toString()}#token=${await web.token(user)}`;
    const first = await spawnChromium(profile.dir);
    let second: Awaited<ReturnType<typeof spawnChromium>> | undefined;
    try {
      const page = await (first.browser.contexts()[0] ?? (await first.browser.newContext())).newPage();
      // Nothing leaves by itself: only what the page stored can survive the kill.
      await page.goto(await url({ flush_ms: '600000', batch: '1000' }));
      await page.waitForFunction(() => typeof window.ugc === 'object');
      const track = (label: string, n: number) =>
        page.evaluate(([l, count]) => Array.from({ length: count }, (_, i) => window.ugc.track('custom', { properties: { batch: l, i } })?.event_id), [label, n] as const);
      const early = await track('early', 10);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const late = await track('late', 10);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const last = await track('last', 10);
      await first.kill();

      second = await spawnChromium(profile.dir);
      const again = await (second.browser.contexts()[0] ?? (await second.browser.newContext())).newPage();
      await again.goto(await url({ flush_ms: '300' }));
      const events = await until(
        () => web.userEvents(user),
        (es) => ['early', 'late'].every((b) => es.filter((e) => e.properties.batch === b).length === 10) && ofType(es, 'page_view').length === 2,
        'the events stored before the kill, sent by the next visit',
        60_000,
      );
      const survived = (ids: (string | undefined)[]) => ids.filter((id) => events.some((e) => e.event_id === id)).length;
      console.log(`browser killed: events tracked 1.2 s before it: ${survived(early)}/10 delivered by the next visit; 0.2 s before: ${survived(late)}/10; at the kill: ${survived(last)}/10`);
      assert.equal(survived(early) + survived(late), 20);
      assert.equal(new Set(events.map((e) => e.event_id)).size, events.length, 'each once');
    } finally {
      await first.kill();
      await second?.kill();
      await profile.cleanup();
    }
  });

  it('sends nothing under Do Not Track, nor after optOut() (remembered across visits)', async () => {
    const dntUser = web.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const dnt = await context.newPage();
    await dnt.addInitScript(() => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' }));
    await dnt.goto(`${origin}/demo/?api=${encodeURIComponent(web.service.url)}&flush_ms=100#token=${await web.token(dntUser)}`);
    await dnt.waitForFunction(() => typeof window.ugc === 'object');
    assert.match((await dnt.textContent('#status')) ?? '', /Not tracking/);
    assert.equal(await dnt.evaluate(() => window.ugc.track('custom')), undefined);

    const user = web.newUser();
    const page = await open(user, { flush_ms: 100 });
    await until(() => web.userEvents(user), (es) => es.length === 1, 'the page view before the opt-out');
    await page.evaluate(() => window.ugc.optOut());
    assert.equal(await page.evaluate(() => window.ugc.track('custom')), undefined);
    await page.click('#film-1', { position: { x: 3, y: 3 } });
    await page.reload();
    assert.match((await page.textContent('#status')) ?? '', /Not tracking/);
    assert.equal(await storedCount(page), 0);
    assert.deepEqual((await web.userEvents(user)).map((e) => e.type), ['page_view']);
    assert.deepEqual(await web.userEvents(dntUser), []);
  });
});
