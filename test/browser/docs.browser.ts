import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { mintToken } from '../../src/api/auth.ts';
import { type RunningService, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';
import { launchChromium } from './helpers/chromium.ts';

/**
 * The API docs page as a person uses it, in headless Chromium against the real service: open
 * the service's address (it leads to /docs), "Authorize" with a token from `npm run token`, then
 * "Try it out" and "Execute" on a route; the call carries the token and gets its 2xx.
 */
describe('the API docs page (headless Chromium)', () => {
  let tmp: TempDir;
  let svc: RunningService;
  let browser: Browser;
  const secret = randomBytes(32).toString('hex');

  before(async () => {
    tmp = await makeTempDir('ugc-docs-');
    svc = await startService({ DATA_DIR: tmp.dir, AUTH_JWT_SECRET: secret });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await stopAll();
    await tmp?.cleanup();
  });

  /** Authorize with `token`, then Try it out → Execute on `method path` with the body as pre-filled; the status the page shows. */
  async function tryItOut(page: Page, token: string, method: string, path: string): Promise<{ status: string; curl: string; prefilled: string | undefined }> {
    await page.click('button.btn.authorize');
    await page.fill('.modal-ux input[type="text"], .modal-ux input[type="password"]', token);
    await page.click('.modal-ux button.modal-btn.auth.authorize');
    await page.click('.modal-ux button.btn-done');
    const block = page.locator(`.opblock-${method}`, { has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
    await block.locator('.opblock-summary').click();
    await block.locator('button.try-out__btn').click();
    const body = block.locator('textarea.body-param__text');
    const prefilled = (await body.count()) > 0 ? await body.inputValue() : undefined;
    await block.locator('button.execute').click();
    const status = block.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 15_000 });
    return { status: (await status.innerText()).trim(), curl: await block.locator('.curl-command').innerText(), prefilled };
  }

  it('opens from the service address, and a call tried out with the pasted token gets its 200', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(svc.url);
    assert.match(new URL(page.url()).pathname, /^\/docs/, 'the service address leads to the docs');
    await page.locator('.information-container').getByText('npm run token -- --user user_123').first().waitFor({ timeout: 15_000 });

    const user = await mintToken({ secret, userId: 'docs_user', admin: false, ttlSeconds: 600 });
    const { status, curl } = await tryItOut(page, user, 'get', '/api/v1/users/me/likes');
    assert.equal(status, '200', curl);
    assert.match(curl, new RegExp(`Authorization: Bearer ${user}`));
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('tries out an admin route with an admin token', async () => {
    const page = await browser.newPage();
    await page.goto(`${svc.url}/docs`);
    const admin = await mintToken({ secret, userId: 'docs_admin', admin: true, ttlSeconds: 600 });
    const { status, curl } = await tryItOut(page, admin, 'get', '/api/v1/analytics/summary');
    assert.equal(status, '200', curl);
    await page.close();
  });

  it('sends the events example it pre-fills as it is, gets 202, and the events are stored as of now', async () => {
    const page = await browser.newPage();
    await page.goto(`${svc.url}/docs`);
    const user = await mintToken({ secret, userId: 'docs_events', admin: false, ttlSeconds: 600 });
    const before = Date.now();
    const { status, curl, prefilled } = await tryItOut(page, user, 'post', '/api/v1/events');
    assert.equal(status, '202', curl);
    const sent = JSON.parse(prefilled ?? '{}') as { sent_at?: string; events?: { type: string }[] };
    assert.ok(sent.sent_at && sent.events?.length === 2, `the body is the example batch: ${prefilled}`);
    await page.close();

    // The example is dated 2026-01-01; sent_at moves it to the time it arrived.
    const admin = { authorization: `Bearer ${await mintToken({ secret, userId: 'docs_admin', admin: true, ttlSeconds: 600 })}` };
    let items: { type: string; occurred_at: string }[] = [];
    for (const deadline = Date.now() + 15_000; items.length < 2 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      items = ((await (await fetch(`${svc.url}/api/v1/analytics/users/docs_events/events`, { headers: admin })).json()) as { items: typeof items }).items;
    }
    assert.deepEqual(items.map((e) => e.type).sort(), ['click', 'view']);
    for (const e of items) assert.ok(Date.parse(e.occurred_at) >= before - 5 * 60_000 && Date.parse(e.occurred_at) <= Date.now(), `${e.type} stored as of now: ${e.occurred_at}`);
  });
});
