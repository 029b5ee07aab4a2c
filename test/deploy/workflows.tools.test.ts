import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

/**
 * The GitHub Actions workflows, checked with actionlint (syntax, expressions and contexts, the
 * inputs of the actions used, and the `run:` scripts through shellcheck), plus what they must do.
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const WORKFLOWS = ['.github/workflows/ci.yml', '.github/workflows/cd.yml'];
const INSTALL_HINT = 'run `bash scripts/ci/tools.sh` (builds actionlint with Go into ~/go/bin and installs Debian\'s shellcheck; `npm run test:deploy` does it first)';

function actionlint(): string {
  const candidates = [join(homedir(), 'go', 'bin', 'actionlint')];
  try {
    candidates.unshift(join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin', 'actionlint'));
  } catch {
    // no Go: the PATH and ~/go/bin may still have it
  }
  for (const c of candidates) if (existsSync(c)) return c;
  const onPath = spawnSync('sh', ['-c', 'command -v actionlint'], { encoding: 'utf8' });
  if (onPath.status === 0) return onPath.stdout.trim();
  throw new Error(`actionlint is not installed: ${INSTALL_HINT}. This suite never skips.`);
}

function lint(args: string[], input?: string) {
  const r = spawnSync(actionlint(), ['-color=false', ...args], { cwd: ROOT, encoding: 'utf8', input });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

type Dict = Record<string, unknown>;
interface Step {
  uses?: string;
  run?: string;
  with?: Dict;
  env?: Dict;
}
interface Job {
  'runs-on'?: string;
  uses?: string;
  needs?: string | string[];
  steps?: Step[];
  services?: Record<string, { image: string; env?: Dict; ports?: string[] }>;
  env?: Dict;
  permissions?: Dict;
}
interface Workflow {
  on: Dict;
  permissions?: Dict;
  jobs: Record<string, Job>;
}
const workflow = (file: string) => parse(readFileSync(join(ROOT, file), 'utf8')) as Workflow;
const composeDefault = (name: string) => {
  const m = new RegExp(`\\$\\{${name}:-([^}]+)\\}`).exec(readFileSync(join(ROOT, 'deploy/docker-compose.yml'), 'utf8'));
  assert.ok(m?.[1], `${name} default in deploy/docker-compose.yml`);
  return m[1];
};

describe('.github/workflows', () => {
  it('pass actionlint (with shellcheck on the run: scripts)', () => {
    const shellcheck = spawnSync('sh', ['-c', 'command -v shellcheck']);
    assert.equal(shellcheck.status, 0, `shellcheck is not installed: ${INSTALL_HINT}`);
    const { code, output } = lint(WORKFLOWS);
    assert.equal(code, 0, `actionlint found problems:\n${output}`);
  });

  it('actionlint really checks: a wrong action input and a bad expression are reported', () => {
    const broken = [
      'on: push',
      'jobs:',
      '  x:',
      '    runs-on: ubuntu-24.04',
      '    steps:',
      '      - uses: actions/setup-node@v6',
      '        with: { node-versoin: 24 }',
      '      - run: echo ${{ github.nope }}',
    ].join('\n');
    const { code, output } = lint(['-'], broken);
    assert.equal(code, 1, output);
    assert.match(output, /node-versoin/);
    assert.match(output, /nope/);
  });

  it('ci.yml: npm test on a Node-only PATH on Node 24, then test:deploy with the tools it needs', () => {
    const ci = workflow('.github/workflows/ci.yml');
    assert.ok('push' in ci.on && 'pull_request' in ci.on && 'workflow_call' in ci.on);
    assert.deepEqual(ci.permissions, { contents: 'read' });
    const steps = ci.jobs.checks?.steps ?? [];
    assert.equal(steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version'], 24);
    const runs = steps.map((s) => s.run ?? '').join('\n');
    const order = ['npm install', 'bash scripts/ci/node-only.sh', 'bash scripts/ci/tools.sh', 'npm run test:deploy'];
    for (const command of order) assert.ok(runs.includes(command), `checks job runs ${command}`);
    assert.deepEqual([...order].sort((a, b) => runs.indexOf(a) - runs.indexOf(b)), order, 'in this order: npm test before any tool is installed');
    assert.ok(!/npm (run )?test(\n|$)/.test(runs), 'npm test only through node-only.sh');
    assert.ok(steps.some((s) => s.uses?.startsWith('actions/setup-go@')), 'Go for actionlint');
  });

  it('ci.yml: engine suites against Kafka 4 (KRaft), ClickHouse and MongoDB 7 service containers, the versions compose runs', () => {
    const job = workflow('.github/workflows/ci.yml').jobs.engines;
    const services = job?.services ?? {};
    assert.equal(services.kafka?.image, `apache/kafka:${composeDefault('KAFKA_VERSION')}`);
    assert.equal(services.clickhouse?.image, `clickhouse/clickhouse-server:${composeDefault('CLICKHOUSE_VERSION')}`);
    assert.equal(services.mongodb?.image, `mongo:${composeDefault('MONGO_VERSION')}`);
    assert.equal(services.kafka?.env?.KAFKA_PROCESS_ROLES, 'broker,controller');
    assert.equal(services.kafka?.env?.KAFKA_AUTO_CREATE_TOPICS_ENABLE, 'false');
    assert.deepEqual(job?.env, { KAFKA_BROKERS: '127.0.0.1:9092', CLICKHOUSE_URL: 'http://127.0.0.1:8123', MONGODB_URL: 'mongodb://127.0.0.1:27017' });
    for (const [name, svc] of Object.entries(services)) {
      const port = /^(\d+):/.exec(svc.ports?.[0] ?? '')?.[1];
      assert.ok(port && Object.values(job?.env ?? {}).some((v) => String(v).includes(`:${port}`)), `${name}'s port is the one the suites use`);
    }
    assert.ok(job?.steps?.some((s) => s.run === 'npm run test:engines'));
  });

  it('cd.yml: on v* tags, after CI, pushes ghcr.io/<repository> with login, metadata and build-push actions', () => {
    const cd = workflow('.github/workflows/cd.yml');
    assert.deepEqual(cd.on, { push: { tags: ['v*'] } });
    assert.equal(cd.jobs.ci?.uses, './.github/workflows/ci.yml');
    const image = cd.jobs.image;
    assert.equal(image?.needs, 'ci');
    assert.deepEqual(image?.permissions, { contents: 'read', packages: 'write' });
    const steps = image?.steps ?? [];
    const step = (action: string) => {
      const s = steps.find((x) => x.uses?.startsWith(`${action}@`));
      assert.ok(s, `uses ${action}`);
      return s;
    };
    assert.equal(step('docker/login-action').with?.registry, 'ghcr.io');
    assert.equal(step('docker/login-action').with?.password, '${{ secrets.GITHUB_TOKEN }}');
    assert.equal(step('docker/metadata-action').with?.images, 'ghcr.io/${{ github.repository }}');
    const build = step('docker/build-push-action').with ?? {};
    assert.equal(build.push, true);
    assert.equal(build.file, 'Dockerfile');
    assert.equal(build.tags, '${{ steps.meta.outputs.tags }}');
  });
});
