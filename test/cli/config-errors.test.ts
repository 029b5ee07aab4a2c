import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { STACK_FRAME, closedPort } from '../helpers/cli.ts';
import { runCli } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

/** Exactly `line` on stderr and nothing else, no stack frame; the exit code `code`. */
function assertFails(result: { code: number | null; stderr: string }, code: number, line: RegExp): void {
  assert.equal(result.stderr.trim().split('\n').length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(result.stderr.trim(), line);
  assert.doesNotMatch(result.stderr, STACK_FRAME);
  assert.equal(result.code, code, result.stderr);
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Configuration a fresh user gets wrong, met by the real `node src/main.ts`: a HOST that is no
 * address, a DATA_DIR that cannot be a directory, a backend server that is not there. Each is
 * one line naming the variable to change; configuration is exit 2, an absent server exit 1.
 */
describe('command line: configuration and backend failures name their variable', () => {
  let tmp: TempDir;
  let env: Record<string, string>;
  /** `env` without AUTH_JWT_SECRET: the development secret in DATA_DIR. */
  let noSecret: Record<string, string>;
  before(async () => {
    tmp = await makeTempDir('ugc-cli-config-');
    noSecret = { HOME: process.env.HOME ?? '', DATA_DIR: join(tmp.dir, 'data'), PORT: '0' };
    env = { ...noSecret, AUTH_JWT_SECRET: randomBytes(32).toString('hex') };
  });
  after(() => tmp.cleanup());

  for (const host of ['256.1.1.1', 'nosuchhost.invalid']) {
    it(`HOST=${host}: one line naming HOST, exit 2`, { timeout: 60_000 }, async () => {
      const result = await runCli(['serve'], { ...env, DATA_DIR: join(tmp.dir, `host-${host}`), HOST: host });
      assertFails(result, 2, new RegExp(`^HOST=${escape(host)} is neither an IP address nor a name that resolves\\. Set HOST to an address of this machine: 127\\.0\\.0\\.1, 0\\.0\\.0\\.0 or ::\\.$`));
    });
  }

  it('DATA_DIR that is a file, or under one: one line naming DATA_DIR for serve, migrate and token, exit 2', { timeout: 60_000 }, async () => {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const cases: [string[], string, string][] = [
      [['serve'], file, 'it is a file'],
      [['migrate'], file, 'it is a file'],
      [['serve'], join(file, 'sub'), `${file} is a file`],
    ];
    for (const [args, dataDir, why] of cases) {
      const result = await runCli(args, { ...env, DATA_DIR: dataDir });
      assertFails(result, 2, new RegExp(`^DATA_DIR=${escape(dataDir)} is not a usable directory: ${escape(why)}\\. Set DATA_DIR to a writable directory\\.$`));
    }
    // token uses DATA_DIR only for the generated development secret.
    const token = await runCli(['token', '--user', 'u'], { ...noSecret, DATA_DIR: join(file, 'sub') });
    assertFails(token, 2, new RegExp(`^DATA_DIR=${escape(join(file, 'sub'))} is not a usable directory: ${escape(file)} is a file\\.`));
    const withSecret = await runCli(['token', '--user', 'u'], { ...env, DATA_DIR: file });
    assert.equal(withSecret.code, 0, withSecret.stderr);
  });

  // Linux's /proc, where Node's recursive mkdirSync never returned; macOS has no /proc (reported as skipped there).
  it('DATA_DIR where no directory can be made (/proc): the same line, not a silent spin; a new nested one is made', { timeout: 60_000, skip: process.platform !== 'linux' && 'needs Linux /proc' }, async () => {
    const proc = await runCli(['migrate'], { ...env, DATA_DIR: '/proc/ugc-no-such-dir/data' });
    assertFails(proc, 2, /^DATA_DIR=\/proc\/ugc-no-such-dir\/data is not a usable directory: this process may not write there \(ENOENT\)\. Set DATA_DIR to a writable directory\.$/);
    const nested = join(tmp.dir, 'new', 'nested', 'data');
    const made = await runCli(['migrate'], { ...env, DATA_DIR: nested });
    assert.equal(made.code, 0, made.stderr);
    assert.ok(existsSync(join(nested, 'warehouse')), 'the warehouse is in the new directory');
  });

  it('migrate generates no development JWT secret: it verifies no tokens', { timeout: 60_000 }, async () => {
    const dataDir = join(tmp.dir, 'migrate-only');
    const result = await runCli(['migrate'], { ...noSecret, DATA_DIR: dataDir });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(existsSync(join(dataDir, 'warehouse')), 'the warehouse was migrated');
    assert.equal(existsSync(join(dataDir, 'dev-jwt-secret')), false);
  });

  const servers: [string, Record<string, string>, (port: number) => RegExp][] = [
    [
      'Kafka',
      { EVENT_LOG: 'kafka', KAFKA_TIMEOUT_MS: '2000' },
      () => /^api failed: Kafka is unreachable \(initProducerId failed \d+ times\)\. Is Kafka running at the address in KAFKA_BROKERS\?$/,
    ],
    [
      'MongoDB',
      { STORE: 'mongodb' },
      (port) => new RegExp(`^api failed: The MongoDB store is unavailable \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)\\. Is MongoDB running at the address in MONGODB_URL\\?$`),
    ],
  ];
  for (const [name, vars, line] of servers) {
    it(`${name} not running: one sentence naming only its variable, exit 1`, { timeout: 60_000 }, async () => {
      const port = await closedPort();
      const result = await runCli(['api'], {
        ...env,
        ...vars,
        DATA_DIR: join(tmp.dir, `down-${name}`),
        KAFKA_BROKERS: `127.0.0.1:${port}`,
        MONGODB_URL: `mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=2000`,
      });
      assertFails(result, 1, line(port));
      assert.doesNotMatch(result.stderr, /\.\s*\(|\.\)|\.\./, 'no ". (", ".)" or ".."');
    });
  }
});
