import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/app.ts';
import { STACK_FRAME, closedPort, occupyPort } from '../helpers/cli.ts';
import { runCli, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

/** One line on stderr, no stack frame anywhere. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.equal(stderr.trim().split('\n').length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(stderr.trim(), pattern);
  assert.doesNotMatch(stderr, STACK_FRAME);
}

/**
 * The command line's failures as a user meets them: the real `node src/main.ts`, each error a
 * clear message saying what to do next, and exit code 2 for usage and configuration, 1 at run time.
 */
describe('command line: clear errors and exit codes', () => {
  let tmp: TempDir;
  let env: Record<string, string>;
  before(async () => {
    tmp = await makeTempDir('ugc-cli-');
    env = { HOME: process.env.HOME ?? '', DATA_DIR: join(tmp.dir, 'data'), AUTH_JWT_SECRET: randomBytes(32).toString('hex') };
  });
  after(async () => {
    await stopAll();
    await tmp.cleanup();
  });

  const badTokenArgs: [string[], RegExp][] = [
    [['--user'], /^--user needs a value, e\.g\. --user user_123\.$/m],
    [['--user', '--admin'], /^--user needs a value, e\.g\. --user user_123\.$/m],
    [['--user', 'a', '--user', 'b'], /^--user given twice\.$/m],
    [['--user', 'x', '--ttl'], /^--ttl needs a value, e\.g\. --ttl 3600\.$/m],
    [['--user', '   '], /^--user must not be blank or hold control, format or surrogate code points\.$/m],
    [['--user', 'x'.repeat(65)], /^--user must be 1\.\.64 characters\.$/m],
    [['--user', 'x', '--admin=yes'], /^--admin takes no value\.$/m],
    [['--usr', 'x'], /^Unknown option '--usr'/],
    [['--user', 'x', '--ttl', '-5'], /^--ttl must be a positive whole number of seconds, not "-5"/],
    [['--user', 'x', '--ttl', 'abc'], /^--ttl must be a positive whole number of seconds, not "abc"/],
    [['--user', 'x', '--ttl', '0'], /^--ttl must be a positive whole number of seconds, not "0"/],
    [['--user', 'x', 'extra'], /^Unexpected argument 'extra'/],
    [[], /^--user is required, e\.g\. --user user_123\.$/m],
  ];
  for (const [args, reason] of badTokenArgs) {
    it(`token ${args.join(' ') || '(no arguments)'}: the reason and the token usage on stderr, exit 2`, async () => {
      const { code, stdout, stderr } = await runCli(['token', ...args], env);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.match(stderr, reason);
      assert.match(stderr, /^Usage: npm run token -- --user <id> \[--admin\] \[--ttl <seconds>\]$/m);
      assert.doesNotMatch(stderr, STACK_FRAME);
    });
  }

  it('token --help prints the token usage on stdout, exit 0, whatever the configuration', async () => {
    const { code, stdout, stderr } = await runCli(['token', '--help'], { ...env, PORT: 'not a port' });
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: npm run token -- --user <id>/);
    assert.equal(stderr, '');
  });

  it('--help lists the commands and the exit codes; an unknown command or an argument is a usage error', async () => {
    const help = await runCli(['--help'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /serve .*\n.*api/);
    assert.match(help.stdout, /Exit codes: 0 done; 1 runtime failure .*\n2 usage or configuration error/);
    const unknown = await runCli(['nope'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^Unknown command "nope"\.\nUsage: /);
    const extra = await runCli(['serve', '--port', '3'], env);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /^"serve" takes no arguments \(got --port 3\); it is configured by environment variables\./);
    for (const r of [unknown, extra]) assert.doesNotMatch(r.stderr, STACK_FRAME);
  });

  it('names an invalid AUTH_JWT_SECRET without printing it, exit 2', async () => {
    const secret = 'correct-horse-battery';
    const { code, stdout, stderr } = await runCli(['serve'], { ...env, AUTH_JWT_SECRET: secret });
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /AUTH_JWT_SECRET=\(value hidden\): expected at least 32 characters/);
    assert.ok(!stderr.includes(secret), stderr);
  });

  it('api: a port in use is one line naming the port and PORT, exit 1; the JSON log has it too', { timeout: 60_000 }, async () => {
    const { port, server } = await occupyPort();
    try {
      const { code, stdout, stderr } = await runCli(['api'], { ...env, DATA_DIR: join(tmp.dir, 'api-port'), PORT: String(port) });
      assert.equal(code, 1);
      assertOneLine(stderr, new RegExp(`^Port ${port} on 127\\.0\\.0\\.1 is already in use \\(is another "npm start" or "npm run api" running\\?\\)\\. Stop it or set PORT to a free port\\.$`));
      const fatal = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e['log.level'] === 'fatal');
      assert.equal(fatal?.message, stderr.trim());
    } finally {
      server.close();
    }
  });

  it('etl: its operations port in use is one line naming ETL_HTTP_PORT, exit 1', { timeout: 60_000 }, async () => {
    const { port, server } = await occupyPort();
    try {
      const { code, stderr } = await runCli(['etl'], { ...env, DATA_DIR: join(tmp.dir, 'etl-port'), ETL_HTTP_PORT: String(port) });
      assert.equal(code, 1);
      assertOneLine(stderr, new RegExp(`^Port ${port} on 127\\.0\\.0\\.1 is already in use \\(is another "npm run etl" running\\?\\)\\. Stop it or set ETL_HTTP_PORT to a free port\\.$`));
    } finally {
      server.close();
    }
  });

  it('a data directory in use: one line with its holder, exit 1; the lock dies with a SIGKILLed holder', { timeout: 120_000 }, async () => {
    const dataDir = join(tmp.dir, 'shared');
    const svc = await startService({ ...env, DATA_DIR: dataDir });
    for (const command of ['migrate', 'api', 'etl']) {
      const { code, stderr } = await runCli([command], { ...env, DATA_DIR: dataDir, PORT: '0', ETL_HTTP_PORT: '0' });
      assert.equal(code, 1, `${command}: ${stderr}`);
      assertOneLine(stderr, new RegExp(`^The data directory ${dataDir} is in use by process ${svc.child.pid} \\("serve", since [^)]+\\); .*Stop that process, or set DATA_DIR to another directory\\.`));
      assert.doesNotMatch(stderr, /DB::Exception/);
    }
    const refused = await runCli(['api'], { ...env, DATA_DIR: dataDir, PORT: '0' });
    assert.match(refused.stderr, /run "npm start": one process, both/);
    // The holder is unharmed by the attempts.
    assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);

    svc.child.kill('SIGKILL');
    await svc.exited;
    const after = await runCli(['migrate'], { ...env, DATA_DIR: dataDir });
    assert.equal(after.code, 0, after.stderr);
  });

  it('a SIGTERM while serve is still starting (its ETL thread) waits for start-up, then stops cleanly: exit 0', { timeout: 60_000 }, async () => {
    const svc = await startService({ ...env, DATA_DIR: join(tmp.dir, 'early-term') });
    svc.child.kill('SIGTERM');
    assert.deepEqual(await svc.exited, { code: 0, signal: null });
    await eventually(() => Promise.resolve(svc.logs), (logs) => logs.some((e) => e.message === 'stopped'), 2000, 'the "stopped" line');
  });

  it('an unreachable backend: one line with its error and where to look, exit 1', { timeout: 60_000 }, async () => {
    const port = await closedPort();
    const { code, stderr } = await runCli(['migrate'], { ...env, WAREHOUSE: 'clickhouse', CLICKHOUSE_URL: `http://127.0.0.1:${port}` });
    assert.equal(code, 1);
    assertOneLine(stderr, new RegExp(`^migrate failed: warehouse query failed \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)\\. Is ClickHouse running at the address in CLICKHOUSE_URL\\?$`));
  });
});
