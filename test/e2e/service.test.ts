import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { ChdbWarehouse } from '../../src/adapters/warehouse/chdb-warehouse.ts';
import { SqliteEventLog } from '../../src/adapters/event-log/sqlite-event-log.ts';
import { eventually } from '../helpers/app.ts';
import { runCli, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

/**
 * The whole service as a user runs it: a real process on the embedded backends, driven over
 * HTTP, killed and restarted.
 */
describe('end to end: the embedded service as a process', () => {
  let tmp: TempDir;
  let env: Record<string, string>;
  before(async () => {
    tmp = await makeTempDir('ugc-e2e-');
    env = { DATA_DIR: tmp.dir, AUTH_JWT_SECRET: randomBytes(32).toString('hex'), ETL_BATCH_MAX_WAIT_MS: '100' };
  });
  after(async () => {
    await stopAll();
    await tmp.cleanup();
  });

  async function token(user: string, admin = false): Promise<string> {
    const { code, stdout, stderr } = await runCli(['token', '--user', user, ...(admin ? ['--admin'] : [])], env);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'token prints the token alone');
    assert.match(lines[0] ?? '', /^[\w-]+\.[\w-]+\.[\w-]+$/);
    return lines[0] ?? '';
  }

  async function postEvents(url: string, user: string, events: object[]) {
    const res = await fetch(`${url}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(user)}` },
      body: JSON.stringify({ sent_at: new Date().toISOString(), events }),
    });
    return { status: res.status, body: (await res.json()) };
  }

  async function userEvents(url: string, user: string, adminToken: string): Promise<{ event_id: string }[]> {
    const res = await fetch(`${url}/api/v1/analytics/users/${user}/events?limit=1000`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { items: { event_id: string }[] }).items;
  }

  it('delivers posted events to analytics, and the same event_id twice counts once', async () => {
    const svc = await startService(env);
    const admin = await token('admin', true);
    const user = `e2e-${randomUUID().slice(0, 8)}`;
    const dup = randomUUID();
    const film = randomUUID();
    assert.deepEqual(await postEvents(svc.url, user, [{ type: 'view', film_id: film, event_id: dup }, { type: 'click' }]), { status: 202, body: { accepted: 2 } });
    assert.deepEqual(await postEvents(svc.url, user, [{ type: 'view', film_id: film, event_id: dup }]), { status: 202, body: { accepted: 1 } });
    const items = await eventually(() => userEvents(svc.url, user, admin), (e) => e.length >= 2, 20_000, 'events in analytics');
    // Let the duplicate's batch land too, then check it did not add a row.
    const metrics = await eventually(
      async () => (await fetch(`${svc.url}/metrics`)).text(),
      (m) => /ugc_etl_rows_loaded_total 3/.test(m) && /ugc_etl_consumer_lag 0/.test(m),
      20_000,
      'all three rows loaded',
    );
    // The pipeline's own metrics, scraped after real traffic.
    assert.match(metrics, /ugc_events_accepted_total 3/);
    assert.match(metrics, /ugc_event_log_append_duration_seconds_count 2/);
    assert.match(metrics, /ugc_etl_batch_size_count [1-9]/);
    assert.match(metrics, /ugc_etl_batch_duration_seconds_count [1-9]/);
    assert.match(metrics, /ugc_etl_dead_lettered_total 0/);
    assert.match(metrics, /ugc_etl_insert_failures_total\b/);
    // The ETL thread's metrics are summed into the API's; process metrics come from one registry.
    assert.equal(metrics.match(/^process_cpu_user_seconds_total /gm)?.length, 1);
    assert.equal(metrics.match(/^# TYPE ugc_etl_rows_loaded_total /gm)?.length, 1);
    assert.match(metrics, /http_request_duration_seconds_bucket\{le="0.1",method="POST",route="\/api\/v1\/events",status="202"\} [12]/);
    assert.equal((await userEvents(svc.url, user, admin)).length, 2);
    assert.equal(items.filter((e) => e.event_id === dup).length, 1);
    const top = await fetch(`${svc.url}/api/v1/analytics/films/top`, { headers: { authorization: `Bearer ${admin}` } });
    assert.deepEqual(((await top.json()) as { items: { film_id: string; views: number }[] }).items.find((f) => f.film_id === film)?.views, 1);
    svc.child.kill('SIGTERM');
    assert.deepEqual(await svc.exited, { code: 0, signal: null });
  });

  it('loses no acknowledged event when killed with SIGKILL right after the 202', async () => {
    // The ETL would hold the batch for a minute: the kill certainly lands before it loads.
    const svc = await startService({ ...env, ETL_BATCH_MAX_WAIT_MS: '60000', ETL_BATCH_SIZE: '100000' });
    const user = `kill-${randomUUID().slice(0, 8)}`;
    const events = Array.from({ length: 50 }, () => ({ type: 'playback_progress', event_id: randomUUID() }));
    const res = await postEvents(svc.url, user, events);
    assert.equal(res.status, 202);
    svc.child.kill('SIGKILL');
    assert.equal((await svc.exited).signal, 'SIGKILL');

    const restarted = await startService(env);
    const admin = await token('admin', true);
    const loaded = await eventually(() => userEvents(restarted.url, user, admin), (e) => e.length === 50, 20_000, 'all 50 events after restart');
    assert.deepEqual(new Set(loaded.map((e) => e.event_id)), new Set(events.map((e) => e.event_id)));
    restarted.child.kill('SIGTERM');
    assert.equal((await restarted.exited).code, 0);
  });

  it('on SIGTERM finishes in-flight work, flushes the ETL batch in hand and commits it', async () => {
    const svc = await startService({ ...env, ETL_BATCH_MAX_WAIT_MS: '60000', ETL_BATCH_SIZE: '100000' });
    const user = `term-${randomUUID().slice(0, 8)}`;
    const res = await postEvents(svc.url, user, Array.from({ length: 20 }, () => ({ type: 'click' })));
    assert.equal(res.status, 202);
    svc.child.kill('SIGTERM');
    assert.deepEqual(await svc.exited, { code: 0, signal: null });

    // With the service stopped, look at the backends directly.
    const log = new SqliteEventLog({ path: `${tmp.dir}/event-log.sqlite`, defaultPartitions: 4, maxPendingRecords: 1000, retentionMs: 3_600_000 });
    await log.start();
    const consumer = log.consumer({ group: 'ugc-etl', stream: 'ugc.events' });
    assert.equal(await consumer.lag(), 0, 'the ETL committed everything before exiting');
    await consumer.close();
    await log.close();
    const warehouse = new ChdbWarehouse({ path: `${tmp.dir}/warehouse`, database: 'ugc' });
    await warehouse.start();
    const events = await warehouse.userEvents(user, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) }, 100);
    await warehouse.close();
    assert.equal(events.length, 20);
  });

  it('exits non-zero, after closing cleanly, when the ETL dies (a supervisor restarts it)', async () => {
    // Its own data directory: it breaks the event log file under the ETL (a stream that is merely
    // deleted is not fatal: the ETL waits for it, see etl-readiness.test.ts).
    const own = await makeTempDir('ugc-e2e-crash-');
    try {
      const svc = await startService({ ...env, DATA_DIR: own.dir });
      const file = new DatabaseSync(join(own.dir, 'event-log.sqlite'));
      file.exec('PRAGMA busy_timeout = 5000; DROP TABLE records;');
      file.close();
      assert.deepEqual(await svc.exited, { code: 1, signal: null });
      const messages = svc.logs.map((l) => `${String(l['log.level'])} ${String(l.message)}`);
      assert.ok(messages.includes('fatal ETL stopped on an unexpected error'), messages.join('\n'));
      assert.ok(messages.includes('info stopped'), 'the API and the backends were closed before exiting');
      assert.ok(!messages.some((m) => m.startsWith('error')), messages.join('\n'));
    } finally {
      await own.cleanup();
    }
  });

  it("refuses to delete its own streams (409) and keeps loading: the events acknowledged before are not lost (issue #7)", async () => {
    // Deleting the events stream used to answer 204; the ETL then died and the service exited.
    const own = await makeTempDir('ugc-e2e-own-');
    try {
      const ownEnv = { ...env, DATA_DIR: own.dir };
      const svc = await startService(ownEnv);
      const admin = (await runCli(['token', '--user', 'admin', '--admin'], ownEnv)).stdout.trim();
      const user = `own-${randomUUID().slice(0, 8)}`;
      const userToken = (await runCli(['token', '--user', user], ownEnv)).stdout.trim();
      const post = await fetch(`${svc.url}/api/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${userToken}` },
        body: JSON.stringify({ type: 'click' }),
      });
      assert.equal(post.status, 202);
      for (const name of ['ugc.events', 'ugc.events.dlq']) {
        const res = await fetch(`${svc.url}/api/v1/topics/${name}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
        assert.equal(res.status, 409, name);
      }
      await eventually(() => userEvents(svc.url, user, admin), (e) => e.length === 1, 20_000, 'the acknowledged event loaded');
      svc.child.kill('SIGTERM');
      assert.deepEqual(await svc.exited, { code: 0, signal: null });
    } finally {
      await own.cleanup();
    }
  });

  it('refuses to start on bad configuration, naming every bad variable', async () => {
    const { code, stderr } = await runCli(['serve'], { ...env, PORT: 'abc', ETL_BATCH_SIZE: '0', EVENT_LOG: 'kafkaesque' });
    assert.equal(code, 2);
    for (const name of ['PORT', 'ETL_BATCH_SIZE', 'EVENT_LOG']) assert.match(stderr, new RegExp(`${name}=`));
  });
});
