import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '../../src/api/auth.ts';
import { eventually } from '../helpers/app.ts';
import { seeded } from '../helpers/random.ts';
import { type RunningService, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

/**
 * Load-time deduplication end to end on the embedded service (chDB, in the process): the ETL is
 * SIGKILLed at random points while it loads small batches — before, during and after inserts,
 * between the keys and the rows, before offset commits — and restarted; afterwards every event,
 * re-sent copies included, is stored exactly once and the rollups count it once.
 */
describe('end to end: SIGKILL of the embedded service at any point while loading', () => {
  let tmp: TempDir;
  let env: Record<string, string>;
  const secret = randomBytes(32).toString('hex');
  before(async () => {
    tmp = await makeTempDir('ugc-e2e-kill-');
    env = { DATA_DIR: tmp.dir, AUTH_JWT_SECRET: secret, ETL_BATCH_SIZE: '25', ETL_BATCH_MAX_WAIT_MS: '20' };
  });
  after(async () => {
    await stopAll();
    await tmp.cleanup();
  });

  const bearer = async (user: string, admin = false) => `Bearer ${await mintToken({ secret, userId: user, admin, ttlSeconds: 600 })}`;

  async function post(url: string, user: string, events: object[]): Promise<void> {
    const res = await fetch(`${url}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: await bearer(user) },
      body: JSON.stringify({ sent_at: new Date().toISOString(), events }),
    });
    assert.equal(res.status, 202);
  }

  async function summary(url: string): Promise<{ events: number; users: number; by_type: Record<string, number> }> {
    const res = await fetch(`${url}/api/v1/analytics/summary`, { headers: { authorization: await bearer('admin', true) } });
    const { events, users, by_type } = (await res.json()) as { events: number; users: number; by_type: Record<string, number> };
    return { events, users, by_type };
  }

  it('stores every event once, re-sent copies and shared ids included, however often the ETL is killed', async () => {
    const random = seeded(9);
    let svc: RunningService = await startService(env);
    const run = randomUUID().slice(0, 6);
    const users = Array.from({ length: 24 }, (_, i) => `kill-${run}-${i}`);
    const sent = new Map<string, { id: string; type: string }[]>(users.map((u) => [u, []]));
    const shared = randomUUID(); // every user also sends an event with this one id
    for (const user of users) {
      const events = Array.from({ length: 30 }, (_, j) => ({ event_id: randomUUID(), type: j % 3 === 0 ? 'view' : 'click' }));
      events.push({ event_id: shared, type: 'search' });
      sent.set(user, events.map((e) => ({ id: e.event_id, type: e.type })));
      await post(svc.url, user, events);
    }
    // Re-sends of a third of each user's events, as another request: same ids, other types.
    for (const user of users) {
      await post(svc.url, user, (sent.get(user) ?? []).filter((_, j) => j % 3 === 1).map((e) => ({ event_id: e.id, type: 'playback_stop' })));
    }
    for (let kill = 0; kill < 5; kill++) {
      await sleep(Math.floor(random() * 400));
      svc.child.kill('SIGKILL');
      assert.equal((await svc.exited).signal, 'SIGKILL');
      svc = await startService(env);
    }
    const expected = { events: users.length * 31, users: users.length, by_type: { click: users.length * 20, search: users.length, view: users.length * 10 } };
    const result = await eventually(() => summary(svc.url), (s) => s.events >= expected.events, 60_000, 'every event loaded');
    // Let any batch still in hand land, then check nothing was loaded twice.
    await eventually(
      async () => (await fetch(`${svc.url}/metrics`)).text(),
      (m) => /ugc_etl_consumer_lag 0/.test(m),
      30_000,
      'lag 0',
    );
    assert.deepEqual(result, expected);
    assert.deepEqual(await summary(svc.url), expected);
    for (const user of users.slice(0, 4)) {
      const res = await fetch(`${svc.url}/api/v1/analytics/users/${user}/events?limit=1000`, { headers: { authorization: await bearer('admin', true) } });
      const { items } = (await res.json()) as { items: { event_id: string; type: string }[] };
      assert.deepEqual(
        items.map((e) => `${e.event_id}:${e.type}`).sort(),
        (sent.get(user) ?? []).map((e) => `${e.id}:${e.type}`).sort(),
        `${user}: each event once, as first sent`,
      );
    }
    svc.child.kill('SIGTERM');
    assert.equal((await svc.exited).code, 0);
  });
});
