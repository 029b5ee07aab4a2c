import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteEventLog } from '../../src/adapters/event-log/sqlite-event-log.ts';
import { normalizeEvents } from '../../src/domain/events.ts';
import { eventually } from '../helpers/app.ts';
import { type RunningService, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

/**
 * Issue #7 (invariants 3 and 7) on real processes: the events stream deleted under a running
 * `serve` (the ETL in its worker thread: its health crosses the thread boundary) and a running
 * `etl` (its own operations port). Neither exits; /readyz says why it is unready, and both
 * recover and load once the stream is back. The test deletes and re-creates the stream through
 * the same SQLite file, as another process would.
 */
interface Readiness {
  status: number;
  body: { status: string; dependencies: Record<string, { status: string; error?: string; last_load_at?: string | null }> };
}

describe('ETL readiness of the running service', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    await stopAll();
    for (const c of cleanups.reverse()) await c();
  });

  async function fixture(): Promise<{ tmp: TempDir; env: Record<string, string>; log: SqliteEventLog }> {
    const tmp = await makeTempDir('ugc-etl-ready-');
    cleanups.push(() => tmp.cleanup());
    const env = {
      DATA_DIR: tmp.dir, AUTH_JWT_SECRET: randomBytes(32).toString('hex'),
      ETL_BATCH_MAX_WAIT_MS: '50', ETL_RETRY_MIN_MS: '20', ETL_RETRY_MAX_MS: '100', ETL_STALL_AFTER_MS: '2000',
    };
    const log = new SqliteEventLog({ path: join(tmp.dir, 'event-log.sqlite'), defaultPartitions: 4, maxPendingRecords: 1000, retentionMs: -1 });
    cleanups.push(() => log.close());
    return { tmp, env, log };
  }

  async function readyz(base: string): Promise<Readiness> {
    const res = await fetch(`${base}/readyz`);
    return { status: res.status, body: (await res.json()) as Readiness['body'] };
  }

  async function scenario(svc: RunningService, base: string, log: SqliteEventLog): Promise<void> {
    const ready = await eventually(() => readyz(base), (r) => r.status === 200, 20_000, '/readyz 200 at start');
    assert.equal(ready.body.dependencies.etl?.status, 'up');

    await log.start();
    await log.deleteStream('ugc.events');
    const down = await eventually(() => readyz(base), (r) => r.status === 503, 20_000, '/readyz 503 once the stream is gone');
    assert.deepEqual(down.body.dependencies.etl?.status, 'down');
    assert.equal(down.body.dependencies.etl?.error, 'event log poll: Stream ugc.events does not exist.');
    assert.equal(down.body.dependencies.warehouse?.status, 'up');
    await eventually(() => Promise.resolve(svc.logs.some((l) => l.message === 'ETL stalled')), Boolean, 10_000, 'the warning');
    assert.equal(svc.child.exitCode, null, 'still running');

    await log.createStream('ugc.events', { partitions: 4 });
    const result = normalizeEvents([{ type: 'click' }], { userId: 'back-again', receivedAt: new Date(), pathOf: () => '' });
    assert.ok(result.ok);
    await log.append('ugc.events', result.messages.map((m) => ({ key: m.user_id, value: Buffer.from(JSON.stringify(m)) })));
    await eventually(
      async () => (await fetch(`${base}/metrics`)).text(),
      (m) => /^ugc_etl_rows_loaded_total 1$/m.test(m),
      20_000,
      'the record of the re-created stream loaded',
    );
    const back = await eventually(() => readyz(base), (r) => r.status === 200, 20_000, '/readyz 200 again');
    assert.equal(back.body.dependencies.etl?.status, 'up');
    assert.ok(typeof back.body.dependencies.etl?.last_load_at === 'string');
    await eventually(() => Promise.resolve(svc.logs.some((l) => l.message === 'ETL recovered')), Boolean, 10_000, 'the recovery line');
    assert.equal(svc.logs.filter((l) => l.message === 'ETL stalled').length, 1);

    svc.child.kill('SIGTERM');
    assert.deepEqual(await svc.exited, { code: 0, signal: null });
  }

  it('serve: /readyz reports the ETL thread unready while its stream is gone, and ready once it loads again', { timeout: 90_000 }, async () => {
    const { env, log } = await fixture();
    const svc = await startService(env, 'serve');
    await scenario(svc, svc.url, log);
  });

  it('etl: its /readyz reports it unready while its stream is gone, and ready once it loads again', { timeout: 90_000 }, async () => {
    const { env, log } = await fixture();
    const svc = await startService({ ...env, ETL_HTTP_PORT: '0' }, 'etl');
    const listening = svc.logs.find((l) => l.message === 'ETL operations endpoint listening');
    assert.ok(typeof listening?.listen_url === 'string');
    await scenario(svc, listening.listen_url, log);
  });
});

