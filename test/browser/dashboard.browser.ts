import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { mintToken } from '../../src/api/auth.ts';
import { eventually } from '../helpers/app.ts';
import { type RunningService, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';
import { launchChromium } from './helpers/chromium.ts';

const SCREENSHOT = join(import.meta.dirname, '../../.tmp/screenshots/dashboard.png');

/**
 * The admin dashboard in headless Chromium against the real service (`serve`: API, ETL thread,
 * chDB) with known traffic: it loads with no console error, every number it shows equals what the
 * API answers, and a screenshot is saved for people to look at.
 */
describe('the admin dashboard (headless Chromium)', () => {
  let tmp: TempDir;
  let svc: RunningService;
  let browser: Browser;
  const secret = randomBytes(32).toString('hex');
  const films = [randomUUID(), randomUUID(), randomUUID()];
  let admin = '';

  const bearer = async (user: string, isAdmin = false) => `Bearer ${await mintToken({ secret, userId: user, admin: isAdmin, ttlSeconds: 600 })}`;
  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${svc.url}/api/v1${path}`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(res.status, 200, path);
    return (await res.json()) as T;
  }

  before(async () => {
    tmp = await makeTempDir('ugc-dashboard-');
    svc = await startService({ DATA_DIR: tmp.dir, AUTH_JWT_SECRET: secret, ETL_BATCH_MAX_WAIT_MS: '100' });
    admin = (await bearer('admin', true)).slice('Bearer '.length);
    let sent = 0;
    for (let u = 0; u < 12; u++) {
      const events: object[] = [];
      for (const [i, film] of films.entries()) {
        if (u % (i + 1) !== 0) continue;
        events.push({ type: 'playback_start', film_id: film, properties: { position_s: 0, duration_s: 600 } });
        events.push({ type: 'playback_progress', film_id: film, properties: { position_s: (u * 50) % 600, duration_s: 600 } });
      }
      events.push({ type: 'click', element: { kind: 'trailer', id: `tr-${u % 3}` } });
      events.push({ type: 'click', element: { kind: 'person', id: 'nm-1' } });
      const res = await fetch(`${svc.url}/api/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: await bearer(`viewer-${u}`) },
        body: JSON.stringify({ events }),
      });
      assert.equal(res.status, 202);
      sent += events.length;
    }
    await eventually(() => api<{ events: number }>('/analytics/summary'), (s) => s.events === sent, 30_000, `${sent} events loaded`);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await stopAll();
    await tmp?.cleanup();
  });

  const text = (page: Page, selector: string) => page.locator(selector).innerText();
  const num = (s: string) => Number(s.replaceAll(',', ''));

  it('loads without console errors and shows the numbers the API answers', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    const errors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${svc.url}/dashboard`);
    await page.fill('#token', admin);
    await page.click('#token-form button');
    await page.waitForFunction(() => document.querySelector('#film-viewers')?.textContent !== '–', undefined, { timeout: 30_000 });

    const summary = await api<{ events: number; users: number }>('/analytics/summary');
    assert.equal(num(await text(page, '#summary-events')), summary.events);
    assert.equal(num(await text(page, '#summary-users')), summary.users);

    const top = await api<{ items: { film_id: string; views: number; watch_seconds: number }[] }>('/analytics/films/top?limit=10');
    const filmRows = await page.locator('#top-films tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
    assert.deepEqual(filmRows.map(([id, views]) => [id, num(views ?? '')]), top.items.map((f) => [f.film_id, f.views]));
    assert.equal(top.items.length, 3);

    const report = await api<{ viewers: number; avg_completion: number }>(`/analytics/films/${top.items[0]?.film_id ?? ''}/report`);
    assert.equal(num(await text(page, '#film-viewers')), report.viewers);
    assert.equal(await text(page, '#film-completion'), `${(report.avg_completion * 100).toFixed(1)} %`);

    const elements = await api<{ items: { kind: string; id: string; events: number; users: number }[] }>('/analytics/elements/top?limit=10');
    const elementRows = await page.locator('#top-elements tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
    assert.deepEqual(elementRows, elements.items.map((e) => [`${e.kind}:${e.id}`, String(e.events), String(e.users)]));

    const tz = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    const active = await api<{ items: { users: number }[] }>(`/analytics/users/active?tz=${encodeURIComponent(tz)}`);
    assert.equal(num(await text(page, '#active-latest')), active.items.at(-1)?.users);

    // Live figures from /metrics: the lag once the ETL is idle, a rate once two samples are in.
    await page.waitForFunction(() => document.querySelector('#etl-lag')?.textContent === '0', undefined, { timeout: 15_000 });
    await page.waitForFunction(() => /^\d[\d,]*$/.test(document.querySelector('#ingest-rate')?.textContent ?? ''), undefined, { timeout: 15_000 });

    // Choosing another film shows its retention.
    const second = top.items[1]?.film_id ?? '';
    await page.locator('#top-films tbody tr').nth(1).click();
    await page.waitForFunction((id) => document.querySelector('#film-title')?.textContent === id, second);
    const secondReport = await api<{ viewers: number }>(`/analytics/films/${second}/report`);
    assert.equal(num(await text(page, '#film-viewers')), secondReport.viewers);

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(statSync(SCREENSHOT).size > 20_000, 'a screenshot with something on it');
    assert.deepEqual(errors, []);
  });

  it('says so when the token is not an admin token', async () => {
    const page = await browser.newPage();
    await page.goto(`${svc.url}/dashboard`);
    await page.fill('#token', (await bearer('nosy')).slice('Bearer '.length));
    await page.click('#token-form button');
    await page.waitForFunction(() => document.querySelector('#status')?.classList.contains('error'), undefined, { timeout: 15_000 });
    assert.match(await text(page, '#status'), /403/);
  });
});
