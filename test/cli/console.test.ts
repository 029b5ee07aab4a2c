import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/app.ts';
import { startRaw } from '../helpers/cli.ts';
import { runCli, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): \S/;
const PROBES = ['/healthz', '/readyz', '/metrics'];

async function hit(url: string, paths: string[]): Promise<void> {
  for (const path of paths) await (await fetch(`${url}${path}`)).arrayBuffer();
}

/**
 * What a person sees in the terminal, and what a log shipper gets from a file or a pipe: the real
 * service with LOG_FORMAT forced to `pretty` (Node has no pseudo-terminal to test `auto` with),
 * and with the default `auto` writing into a pipe and into a file.
 */
describe('console output of the running service', () => {
  let tmp: TempDir;
  let env: Record<string, string>;
  before(async () => {
    tmp = await makeTempDir('ugc-console-');
    env = { AUTH_JWT_SECRET: randomBytes(32).toString('hex'), LOG_LEVEL: 'info' };
  });
  after(async () => {
    await stopAll();
    await tmp.cleanup();
  });

  it('pretty: one short line per entry, the start-up line once with docs and token, no probe lines', { timeout: 90_000 }, async () => {
    const svc = await startRaw({ ...env, DATA_DIR: join(tmp.dir, 'pretty'), LOG_FORMAT: 'pretty' }, 'serve', /UGC Service listening on /);
    try {
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(svc.lines.join('\n'))?.[1];
      assert.ok(url, svc.lines.join('\n'));
      await eventually(() => Promise.resolve(svc.lines), (lines) => lines.some((l) => /etl: ETL started/.test(l)), 20_000, 'the ETL thread line');
      await hit(url, [...PROBES, '/api/v1/users/me/likes']);
      await eventually(() => Promise.resolve(svc.lines), (lines) => lines.some((l) => l.includes('GET /api/v1/users/me/likes 401')), 5000, 'the access line');

      for (const line of svc.lines) assert.match(line, PRETTY_LINE, 'every line, the ETL thread’s too, is a pretty line');
      const listening = svc.lines.filter((l) => /listening/i.test(l));
      assert.equal(listening.length, 1, listening.join('\n'));
      assert.match(listening[0] ?? '', new RegExp(`INFO: UGC Service listening on ${url} — API docs: ${url}/docs — a token: npm run token -- --user user_123 `));
      assert.match(svc.lines.join('\n'), /INFO: GET \/api\/v1\/users\/me\/likes 401 \d+\.\d ms$/m);
      for (const probe of PROBES) assert.ok(!svc.lines.some((l) => l.includes(` ${probe} `)), `no line for ${probe}`);
    } finally {
      svc.child.kill('SIGTERM');
      await svc.exited;
    }
  });

  it('auto into a pipe: ECS JSON; probes only at debug; the start-up entry has the URLs as fields', { timeout: 90_000 }, async () => {
    const svc = await startService({ ...env, DATA_DIR: join(tmp.dir, 'json'), LOG_LEVEL: 'debug' });
    await hit(svc.url, [...PROBES, '/api/v1/users/me/likes']);
    const access = await eventually(
      () => Promise.resolve(svc.logs.filter((e) => e.message === 'request completed')),
      (lines) => lines.length === 4,
      5000,
      'four access lines',
    );
    for (const entry of access) {
      const quiet = PROBES.includes(String(entry['url.path']));
      assert.equal(entry['log.level'], quiet ? 'debug' : 'info', String(entry['url.path']));
      assert.ok(entry['ecs.version']);
    }
    const listening = svc.logs.find((e) => e.message === 'UGC Service listening');
    assert.equal(listening?.listen_url, svc.url);
    assert.equal(listening.docs_url, `${svc.url}/docs`);
    assert.equal(listening.token_command, 'npm run token -- --user user_123');
    assert.ok(!svc.logs.some((e) => String(e.message).startsWith('Server listening at')), 'Fastify’s own listening lines are not there');
    svc.child.kill('SIGTERM');
    await svc.exited;
  });

  it('auto into a file: ECS JSON lines', { timeout: 60_000 }, async () => {
    const file = join(tmp.dir, 'migrate.log');
    const fd = openSync(file, 'w');
    const child = spawn(process.execPath, [new URL('../../src/main.ts', import.meta.url).pathname, 'migrate'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, DATA_DIR: join(tmp.dir, 'file') },
      stdio: ['ignore', fd, 'pipe'],
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    closeSync(fd);
    assert.equal(code, 0);
    const entries = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = entries.find((e) => e.message === 'migrations done');
    assert.equal(done?.['log.level'], 'info');
    assert.ok(done['ecs.version']);
  });

  it('api on the embedded event log says that nothing loads events, and to use npm start', { timeout: 60_000 }, async () => {
    const svc = await startService({ ...env, DATA_DIR: join(tmp.dir, 'api') }, 'api');
    const hint = await eventually(() => Promise.resolve(svc.logs.find((e) => e['log.level'] === 'warn')), Boolean, 5000, 'the hint');
    assert.match(String(hint?.message), /^No ETL runs in this process: .* Use "npm start" for the API and the ETL together\.$/);
    svc.child.kill('SIGTERM');
    await svc.exited;
    // And it is true: an etl beside a running api on the same data directory is refused.
    const again = await startService({ ...env, DATA_DIR: join(tmp.dir, 'api') }, 'api');
    const etl = await runCli(['etl'], { ...env, DATA_DIR: join(tmp.dir, 'api'), ETL_HTTP_PORT: '0' });
    assert.equal(etl.code, 1);
    assert.match(etl.stderr, /^The data directory .* is in use by process \d+ \("api"/);
    again.child.kill('SIGTERM');
    await again.exited;
  });
});
