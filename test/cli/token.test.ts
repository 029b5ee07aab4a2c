import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { JwtVerifier, mintToken } from '../../src/api/auth.ts';
import { parseTokenArgs } from '../../src/cli/token.ts';
import type { Config } from '../../src/config.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { runCli, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const SECRET = randomBytes(32).toString('hex');
const AUTH: Config['auth'] = { algorithm: 'HS256', secret: SECRET, publicKey: undefined, jwksUrl: undefined, issuer: undefined, audience: undefined };

/** The user id the service reads from a token minted for `user`, or undefined if it refuses the token. */
async function serviceReads(user: string): Promise<string | undefined> {
  const token = await mintToken({ secret: SECRET, userId: user, admin: false, ttlSeconds: 60 });
  return new JwtVerifier(AUTH).verify(token).then(
    (p) => p.userId,
    () => undefined,
  );
}

/** Whether `token` accepts these arguments (throws on anything but a UsageError). */
function accepts(args: string[]): boolean {
  try {
    return parseTokenArgs(args) !== 'help';
  } catch (err) {
    if (err instanceof UsageError) return false;
    throw err;
  }
}

/** Strings near the subject rule's edges: blanks, invisible and ill-formed code points, emoji, 64 code points. */
const userIds = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.array(fc.constantFrom(' ', '\t', '\u00a0', '\u200b', '\u202e', '\u0007', '\ud800', '😀', 'é', 'a', '_'), { maxLength: 70 }).map((a) => a.join('')),
  fc.integer({ min: 60, max: 68 }).map((n) => '😀'.repeat(n)),
);

describe('npm run token and the service agree on user ids', () => {
  let tmp: TempDir;
  before(async () => {
    tmp = await makeTempDir('ugc-token-');
  });
  after(async () => {
    await stopAll();
    await tmp.cleanup();
  });

  it('any --user the token command accepts makes a token the service accepts for that user; any it refuses, the service would refuse', async () => {
    await fc.assert(
      fc.asyncProperty(userIds, async (user) => {
        const accepted = accepts([`--user=${user}`]);
        assert.equal(await serviceReads(user), accepted ? user : undefined);
        // `--user value` means the same, unless the value looks like the next option.
        if (!user.startsWith('--') && user !== '-h') assert.equal(accepts(['--user', user]), accepted);
      }),
      { numRuns: 300 },
    );
  });

  it('the real command: 40 emoji are a user id the service accepts, a blank one is refused before any token, exit 2', async () => {
    const env = { HOME: process.env.HOME ?? '', AUTH_JWT_SECRET: SECRET, DATA_DIR: join(tmp.dir, 'unused') };
    const emoji = '😀'.repeat(40);
    const ok = await runCli(['token', '--user', emoji], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await new JwtVerifier(AUTH).verify(ok.stdout.trim())).userId, emoji);
    const blank = await runCli(['token', '--user', '   '], env);
    assert.equal(blank.code, 2);
    assert.equal(blank.stdout, '');
    assert.match(blank.stderr, /^--user must not be blank or hold control, format or surrogate code points\.\nUsage: npm run token/);
  });

  it('the start-up line’s token command, run as printed, gives a token the service accepts when DATA_DIR is not ./data', { timeout: 90_000 }, async () => {
    const dataDir = join(tmp.dir, "a dir with 'quotes'");
    const svc = await startService({ DATA_DIR: dataDir });
    const listening = svc.logs.find((e) => e.message === 'UGC Service listening');
    const command = String(listening?.token_command);
    assert.equal(command, `DATA_DIR='${dataDir.replaceAll("'", `'\\''`)}' npm run token -- --user user_123`);
    // As a user pastes it: sh in the repository, npm from PATH.
    const child = spawn('sh', ['-c', `${command} --ttl 60`], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, stderr);
    const token = stdout.trim().split('\n').at(-1) ?? '';
    const res = await fetch(`${svc.url}/api/v1/users/me/likes`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, await res.text());
  });
});
