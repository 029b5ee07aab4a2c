import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/app.ts';
import { startNpm } from '../helpers/cli.ts';
import { runCli } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A supervisor (systemd, a process manager, a test harness) stops `npm start` by sending SIGTERM
 * to the npm process. npm forwards it to the script's process (@npmcli/run-script's signal
 * manager), which is the shell running the script; the shell must hand it on, or the service
 * outlives npm, still holding its port and its data directory. The real package.json scripts run
 * here with the real npm, in a directory of their own (the repository's `src` and `node_modules`
 * linked in, so no developer's .env or ./data is used).
 */
describe('npm scripts: a SIGTERM to npm stops the service', () => {
  let tmp: TempDir;
  before(async () => {
    tmp = await makeTempDir('ugc-npm-signal-');
    copyFileSync(join(ROOT, 'package.json'), join(tmp.dir, 'package.json'));
    symlinkSync(join(ROOT, 'src'), join(tmp.dir, 'src'));
    symlinkSync(join(ROOT, 'node_modules'), join(tmp.dir, 'node_modules'));
  });
  after(() => tmp.cleanup());

  for (const script of ['start', 'api']) {
    it(`npm run ${script}, then SIGTERM to npm: the node process is gone, the port and the data directory are free`, { timeout: 90_000 }, async () => {
      const dataDir = join(tmp.dir, `data-${script}`);
      const env = { DATA_DIR: dataDir, AUTH_JWT_SECRET: randomBytes(32).toString('hex'), HOST: '127.0.0.1', LOG_FORMAT: 'json' };
      const npm = await startNpm(script, tmp.dir, env, /UGC Service listening/);
      const listen = (JSON.parse(npm.lines.find((l) => l.includes('UGC Service listening')) ?? '{}') as { listen_url?: string }).listen_url ?? '';
      const port = Number(new URL(listen).port);
      const { pid } = JSON.parse(readFileSync(join(dataDir, 'service.lock.json'), 'utf8')) as { pid: number };
      assert.notEqual(pid, npm.child.pid, 'the service is a process of its own under npm');
      try {
        npm.child.kill('SIGTERM');
        const exit = await npm.exited;
        assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `npm ended: ${JSON.stringify(exit)}`);
        await eventually(() => Promise.resolve(alive(pid)), (a) => !a, 5000, `process ${pid} gone`);
        assert.equal(await listening(port), false, `port ${port} is free`);
        const next = await runCli(['migrate'], { DATA_DIR: dataDir, HOME: process.env.HOME ?? '' });
        assert.equal(next.code, 0, `the data directory is free: ${next.stderr}`);
      } finally {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
    });
  }

  it('Ctrl-C on npm start (SIGINT to node from the terminal, and again from npm): one clean shutdown, "stopped" logged', { timeout: 90_000 }, async () => {
    const dataDir = join(tmp.dir, 'data-ctrl-c');
    const env = { DATA_DIR: dataDir, AUTH_JWT_SECRET: randomBytes(32).toString('hex'), HOST: '127.0.0.1', LOG_FORMAT: 'json' };
    const npm = await startNpm('start', tmp.dir, env, /UGC Service listening/);
    const { pid } = JSON.parse(readFileSync(join(dataDir, 'service.lock.json'), 'utf8')) as { pid: number };
    try {
      // The terminal signals the whole foreground process group: node gets it, and again a few
      // milliseconds later from npm, which forwards it (sent here as two signals 5 ms apart).
      process.kill(pid, 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 5));
      process.kill(pid, 'SIGINT');
      npm.child.kill('SIGINT');
      await npm.exited;
      await eventually(() => Promise.resolve(alive(pid)), (a) => !a, 5000, `process ${pid} gone`);
      const messages = npm.lines.map((l) => (JSON.parse(l) as { message?: string }).message);
      assert.ok(messages.includes('stopped'), `a clean shutdown, not killed by the second SIGINT: ${messages.slice(-5).join(' | ')}`);
      assert.ok(!messages.includes('second signal: exiting now'), 'the duplicate is not taken for a second request');
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
