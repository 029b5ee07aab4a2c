import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

/**
 * Every shell script of the repository through `bash -n` and shellcheck (Debian's, installed by
 * scripts/ci/shellcheck.sh, which `npm run test:deploy` runs first). Not in `npm test`: that one
 * needs Node and nothing else.
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const INSTALL_HINT = 'run `bash scripts/ci/shellcheck.sh` (installs Debian\'s shellcheck; `npm run test:deploy` does it first)';
const SCRIPTS = ['.ci/run', ...globSync('{deploy,scripts}/**/*.sh', { cwd: ROOT })].sort();

function shellcheck(args: string[], input?: string) {
  const r = spawnSync('shellcheck', ['-S', 'warning', ...args], { cwd: ROOT, encoding: 'utf8', input });
  if (r.error) throw new Error(`shellcheck is not installed: ${INSTALL_HINT}. This suite never skips.`);
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('shell scripts', () => {
  it('are found: .ci/run and the scripts under deploy/ and scripts/', () => {
    for (const s of ['.ci/run', 'scripts/ci/tools.sh', 'scripts/ci/node-only.sh', 'deploy/elasticsearch/setup.sh']) assert.ok(SCRIPTS.includes(s), s);
  });

  it('parse (bash -n)', () => {
    for (const s of SCRIPTS) {
      const r = spawnSync('bash', ['-n', join(ROOT, s)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${s}: ${r.stderr}`);
    }
  });

  it('pass shellcheck at warning level', () => {
    const { code, output } = shellcheck(SCRIPTS);
    assert.equal(code, 0, output);
  });

  it('shellcheck really checks: a `cd` without a fallback is reported', () => {
    const { code, output } = shellcheck(['-'], '#!/usr/bin/env bash\ncd /nowhere\nrm -f ./*\n');
    assert.equal(code, 1, output);
    assert.match(output, /SC2164/);
  });
});
