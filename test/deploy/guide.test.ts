import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

/**
 * deploy/README.md's shell steps, read as an operator would type them: every variable they expand
 * must have a value where it is expanded (the host shell, or the container of a
 * `docker compose exec SERVICE sh -c '…'`), no user name is hard-coded, and what they name (the
 * compose files, the images, the empty .env entries to fill) exists. No Docker here: the compose
 * files are read statically, with the variables of deploy/.env.sample.
 */
const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const read = (file: string) => readFileSync(join(DEPLOY, file), 'utf8');

/** The commands of the ```sh blocks, continuation lines joined, in order. */
function commands(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/^([ \t]*)```sh\n([\s\S]*?)^[ \t]*```$/gm)) {
    const indent = (m[1] ?? '').length;
    const body = (m[2] ?? '')
      .split('\n')
      .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
      .join('\n')
      .replace(/\\\n\s*/g, ' ');
    for (const line of body.split('\n')) if (line.trim() !== '' && !line.trimStart().startsWith('#')) out.push(line.trim());
  }
  return out;
}

interface Expansion {
  name: string;
  /** Inside single quotes: expanded by whatever program gets the text, not by the host shell. */
  quoted: boolean;
}

/** `$NAME` and `${NAME…}` in a command, with the quoting they appear in; a trailing comment ends it. */
function expansions(command: string): { code: string; found: Expansion[] } {
  const found: Expansion[] = [];
  let single = false;
  let double = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (c === '\\' && !single) {
      i++;
      continue;
    }
    if (c === "'" && !double) single = !single;
    else if (c === '"' && !single) double = !double;
    else if (c === '#' && !single && !double && (i === 0 || /\s/.test(command[i - 1] ?? ''))) return { code: command.slice(0, i).trim(), found };
    else if (c === '$') {
      const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/.exec(command.slice(i));
      const name = m?.[1] ?? m?.[2];
      if (name) found.push({ name, quoted: single });
    }
  }
  assert.ok(!single && !double, `unbalanced quotes in: ${command}`);
  return { code: command, found };
}

type Env = Record<string, unknown>;
interface Service {
  image?: string;
  environment?: Env;
  env_file?: string | string[];
}

const sample = new Map(
  read('.env.sample')
    .split('\n')
    .map((l) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => [m[1] ?? '', m[2] ?? ''] as const),
);
/** A compose file and the files it includes, interpolated with the sample's values (defaults where empty). */
function services(file: string): Record<string, Service> {
  const text = (f: string) =>
    read(f).replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?]([^}]*))?\}/g, (_match, name: string | undefined, fallback: string | undefined) => {
      if (name === undefined) return '$';
      const value = sample.get(name) ?? '';
      return value !== '' ? value : name === 'UGC_IMAGE' ? 'registry.example.com/ugc-service' : (fallback ?? 'x');
    });
  const doc = parse(text(file), { merge: true, maxAliasCount: -1 }) as { include?: string[]; services: Record<string, Service> };
  return Object.assign({}, ...(doc.include ?? []).map((f) => services(f)), doc.services) as Record<string, Service>;
}

const steps = commands(read('README.md'));

describe('deploy/README.md shell steps', () => {
  it('are found: the setup, fill-in, start, health, backup and one-machine commands', () => {
    for (const start of [
      'cp .env.sample .env',
      'for v in ',
      'docker compose up -d',
      'docker compose exec clickhouse-s1r1 ',
      'TOKEN=$(docker compose exec -T api ',
      'docker compose exec -T mongo-1 ',
      'docker compose -f docker-compose.single.yml up -d',
    ]) {
      assert.ok(steps.some((c) => c.startsWith(start)), `a step starts with "${start}"`);
    }
  });

  it('expand on the host only variables an earlier step sets', () => {
    const defined = new Set<string>();
    const undefinedUses: string[] = [];
    for (const command of steps) {
      const { code, found } = expansions(command);
      for (const m of code.matchAll(/(?:^|[;&|]\s*)(?:for\s+([A-Za-z_]\w*)\s+in\b|(?:export\s+)?([A-Za-z_]\w*)=)/g)) defined.add(m[1] ?? m[2] ?? '');
      for (const e of found) if (!e.quoted && !defined.has(e.name)) undefinedUses.push(`$${e.name} in: ${code}`);
    }
    assert.deepEqual(undefinedUses, [], 'the host shell has no value for these (.env is read by compose, not by the shell)');
  });

  it('expand inside a container only variables that service has in its environment', () => {
    let checked = 0;
    for (const command of steps) {
      const { code, found } = expansions(command);
      const exec = /^docker compose(?: -f (\S+))? exec(?: -T)? ([a-z0-9-]+) sh -c '/.exec(code);
      const inner = found.filter((e) => e.quoted);
      if (!exec) continue;
      const svc = services(exec[1] ?? 'docker-compose.yml')[exec[2] ?? ''];
      assert.ok(svc, `${exec[2]} is a service of ${exec[1] ?? 'docker-compose.yml'}`);
      for (const e of inner) {
        assert.ok(e.name in (svc.environment ?? {}), `${exec[2]} has no ${e.name} in its environment: ${code}`);
        checked++;
      }
    }
    assert.ok(checked >= 4, 'the ClickHouse and MongoDB credentials are read in their containers');
  });

  it('hard-code no user name: each --user / -u takes a variable', () => {
    for (const command of steps) {
      // A token's --user is the id the token is for, not a credential of a backend.
      const code = expansions(command).code.replace(/ src\/main\.ts token [^)]*/g, '');
      for (const m of code.matchAll(/(?:^|\s)(?:--user|-u|--username)[ =]("?)([^\s"]+)/g)) {
        assert.match(m[2] ?? '', /^\$/, `a literal user in: ${command}`);
      }
    }
  });

  it('fill in every entry .env.sample leaves empty (the compose files refuse to start without them)', () => {
    const filled = new Set<string>();
    for (const command of steps) {
      const forList = /^for v in ([A-Z0-9_ ]+); do/.exec(command);
      for (const name of forList?.[1]?.trim().split(/\s+/) ?? []) filled.add(name);
      for (const m of command.matchAll(/sed -i ["']s\|\^([A-Z0-9_]+)=\\?\$\|/g)) filled.add(m[1] ?? '');
    }
    const empty = [...sample].filter(([, v]) => v === '').map(([k]) => k);
    assert.ok(empty.includes('UGC_IMAGE') && empty.includes('CLICKHOUSE_PASSWORD'));
    assert.deepEqual(empty.filter((k) => !filled.has(k)), [], 'empty in .env.sample and not filled by step 3');
  });

  it('name compose files that exist and images the compose files run', () => {
    const images = new Set([...Object.values(services('docker-compose.yml')), ...Object.values(services('docker-compose.single.yml'))].map((s) => s.image));
    for (const command of steps) {
      for (const m of command.matchAll(/ -f (\S+)/g)) assert.ok(existsSync(join(DEPLOY, m[1] ?? '')), `${m[1]} exists`);
      const run = /docker run --rm (\S+)/.exec(command);
      if (run) assert.ok(images.has(run[1]), `${run[1]} is the image the compose files run (${[...images].filter((i) => i?.startsWith(run[1]?.split(':')[0] ?? '')).join(', ')})`);
    }
  });

  it("mint the stack's tokens with the stack's secret: in a service that runs the image with app.env", () => {
    const mints = steps.filter((c) => / token --user /.test(c));
    assert.ok(mints.length >= 2, 'a user and an admin token');
    const image = services('docker-compose.yml').api?.image;
    for (const command of mints) {
      assert.doesNotMatch(command, /npm run token/, `the checkout's own ./data secret is not the stack's: ${command}`);
      const m = /^[A-Z]+=\$\(docker compose exec -T ([a-z0-9-]+) node src\/main\.ts token --user \S+( --admin)?\)$/.exec(command);
      assert.ok(m, `a token minted in a container, its output captured: ${command}`);
      for (const file of ['docker-compose.yml', 'docker-compose.single.yml']) {
        const svc: Service | undefined = services(file)[m[1] ?? ''];
        assert.ok(svc, `${m[1]} is a service of ${file}`);
        assert.equal(svc.image, image, `${file}'s ${m[1]} runs the service image`);
        assert.ok([svc.env_file ?? []].flat().includes('app.env'), `${file}'s ${m[1]} reads app.env`);
      }
    }
    assert.match(read('app.env.sample'), /^AUTH_JWT_SECRET=/m, 'app.env sets the secret the token command signs with');
    // The image runs `node src/main.ts` from /app, where `exec` starts too.
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    assert.match(dockerfile, /^WORKDIR \/app$/m);
    assert.match(dockerfile, /^COPY src \.\/src$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["node", "src\/main\.ts"\]$/m);
    // Then the README's walkthrough, with $UGC pointed at the stack.
    assert.ok(steps.some((c) => /^UGC=http:\/\/\S+/.test(c)), 'the step sets UGC, the walkthrough\'s address');
    assert.match(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'), /^UGC=http:\/\/localhost:8000 /m, "the README's walkthrough reads UGC");
  });

  it('start the one-machine file without ELK only after turning the logs profile off', () => {
    assert.equal(sample.get('COMPOSE_PROFILES'), 'logs', 'the sample starts ELK');
    const up = steps.findIndex((c) => c.startsWith('docker compose -f docker-compose.single.yml up -d'));
    const off = steps.findIndex((c) => /sed -i 's\/\^COMPOSE_PROFILES=logs\$\/# &\/' \.env/.test(c));
    assert.ok(off >= 0 && off < up, 'COMPOSE_PROFILES=logs is commented out before `up` claims to start no ELK');
  });
});
