import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { createServer } from 'node:http';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseXml } from '../helpers/xml.ts';

/**
 * What can be checked here of the image and of the ELK configuration without Docker: the
 * Dockerfile's shape and its HEALTHCHECK run for real, the production dependency set, and every
 * ELK/ClickHouse config file parsed and cross-checked (fields the dashboard uses exist in the
 * index template, tags Filebeat sets are the ones Logstash routes, ...).
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
type Dict = Record<string, unknown>;

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function dockerfile(): { op: string; args: string }[] {
  const joined = read('Dockerfile')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const m = /^([A-Z]+)\s+(.*)$/.exec(l);
      assert.ok(m?.[1] && m[2] !== undefined, `not an instruction: ${l}`);
      return { op: m[1], args: m[2] };
    });
}

async function runHealthcheck(script: string, env: Record<string, string>): Promise<number | null> {
  const child = spawn(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

/** Field paths of an Elasticsearch mapping, dotted. */
function mappedFields(properties: Dict, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, def] of Object.entries(properties)) {
    const d = def as { type?: string; properties?: Dict };
    if (d.properties) for (const [k, v] of mappedFields(d.properties, `${prefix}${name}.`)) out.set(k, v);
    else out.set(`${prefix}${name}`, d.type ?? 'object');
  }
  return out;
}
const template = JSON.parse(read('deploy/elasticsearch/index-template.json')) as {
  index_patterns: string[];
  template: { settings: Dict; mappings: { properties: Dict } };
};
const fields = mappedFields(template.template.mappings.properties);

describe('Dockerfile and .dockerignore', () => {
  const steps = dockerfile();
  const stages = steps.filter((s) => s.op === 'FROM');
  const runtime = steps.slice(steps.lastIndexOf(stages[stages.length - 1] ?? { op: '', args: '' }));

  it('is multi-stage on node:24-slim: npm install --omit=dev in a deps stage, only src/, package files and the built tracker copied', () => {
    assert.ok(steps.some((s) => s.op === 'ARG' && s.args === 'NODE_IMAGE=node:24-slim'));
    assert.deepEqual(
      stages.map((s) => s.args),
      ['${NODE_IMAGE} AS deps', '${NODE_IMAGE} AS tracker', '${NODE_IMAGE} AS runtime'],
    );
    const install = steps.find((s) => s.op === 'RUN' && s.args.includes('npm install'));
    assert.match(install?.args ?? '', /npm install --omit=dev --ignore-scripts/);
    const copies = runtime.filter((s) => s.op === 'COPY').map((s) => s.args);
    assert.deepEqual(copies, [
      '--from=deps /app/node_modules ./node_modules',
      'package.json package-lock.json ./',
      'src ./src',
      '--from=tracker /app/packages/tracker/dist ./packages/tracker/dist',
    ]);
  });

  it('runs as the unprivileged node user with ENTRYPOINT node src/main.ts and CMD api', () => {
    const users = runtime.filter((s) => s.op === 'USER').map((s) => s.args);
    assert.deepEqual(users, ['node']);
    const last = (op: string) => runtime.filter((s) => s.op === op).at(-1)?.args;
    assert.deepEqual(JSON.parse(last('ENTRYPOINT') ?? 'null'), ['node', 'src/main.ts']);
    assert.deepEqual(JSON.parse(last('CMD') ?? 'null'), ['api']);
    assert.ok(runtime.findIndex((s) => s.op === 'USER') < runtime.findIndex((s) => s.op === 'ENTRYPOINT'));
  });

  it('listens on all interfaces in the container (HOST=0.0.0.0: the service itself defaults to loopback)', () => {
    const env = runtime.filter((s) => s.op === 'ENV').flatMap((s) => s.args.split(/\s+/));
    assert.ok(env.includes('HOST=0.0.0.0'), `runtime ENV: ${env.join(' ')}`);
  });

  it('logs ECS JSON in the container even with a terminal attached (LOG_FORMAT=json, not auto)', () => {
    const env = runtime.filter((s) => s.op === 'ENV').flatMap((s) => s.args.split(/\s+/));
    assert.ok(env.includes('LOG_FORMAT=json'), `runtime ENV: ${env.join(' ')}`);
  });

  it('has a HEALTHCHECK that passes on a 200 from /healthz on PORT and fails otherwise', async () => {
    const hc = steps.find((s) => s.op === 'HEALTHCHECK')?.args ?? '';
    const m = /CMD (\[.*\])$/.exec(hc);
    assert.ok(m?.[1], hc);
    const [node, flag, script] = JSON.parse(m[1]) as string[];
    assert.equal(node, 'node');
    assert.equal(flag, '-e');
    let status = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.statusCode = status;
      res.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = String((server.address() as AddressInfo).port);
    try {
      assert.equal(await runHealthcheck(script ?? '', { PORT: port }), 0);
      status = 503;
      assert.equal(await runHealthcheck(script ?? '', { PORT: port }), 1);
      assert.deepEqual(paths, ['/healthz', '/healthz']);
    } finally {
      server.close();
    }
    // Nothing listening: unhealthy, not a hang.
    const closed = createTcpServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const freePort = String((closed.address() as AddressInfo).port);
    closed.close();
    assert.equal(await runHealthcheck(script ?? '', { PORT: freePort }), 1);
  });

  it('.dockerignore lets in only package.json, package-lock.json, src/ and the tracker sources', () => {
    const allowed = read('.dockerignore')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1));
    assert.deepEqual(allowed, ['package.json', 'package-lock.json', 'src/', 'packages/tracker/']);
    assert.ok(read('.dockerignore').split('\n').includes('*'), 'everything else is excluded');
  });

  it('src/ imports only production dependencies and Node built-ins (the image has no devDependencies)', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Dict };
    const production = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const offenders: string[] = [];
    for (const f of files) {
      const source = readFileSync(join(ROOT, 'src', f), 'utf8');
      for (const m of source.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
        const spec = m[1] ?? m[2] ?? '';
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
        if (!production.has(name)) offenders.push(`${relative(ROOT, join(ROOT, 'src', f))}: ${spec}`);
      }
    }
    assert.deepEqual(offenders, [], 'imported but not in package.json "dependencies"');
  });
});

describe('deploy/ ELK, ClickHouse and helper configs', () => {
  it('ClickHouse and Keeper XML files are well-formed', () => {
    const files = ['deploy/clickhouse/config.d/cluster.xml', 'deploy/clickhouse/keeper/keeper_config.xml', ...readdirSync(join(ROOT, 'deploy/clickhouse/nodes')).map((f) => `deploy/clickhouse/nodes/${f}`)];
    assert.equal(files.length, 6);
    for (const f of files) parseXml(read(f), f);
    // The parser has teeth: what ClickHouse would refuse at start is refused here.
    assert.throws(() => parseXml('<clickhouse><macros><shard>1</macros></clickhouse>', 'broken.xml'), /broken\.xml is not well-formed XML: .*mismatch/);
  });

  it('Filebeat ships app and nginx containers with the tags the Logstash pipeline routes', () => {
    const fb = parse(read('deploy/filebeat/filebeat.yml')) as Dict;
    const provider = ((fb['filebeat.autodiscover'] as Dict).providers as Dict[])[0] as { templates: { condition: { equals: Dict }; config: Dict[] }[] };
    const byLabel = new Map(provider.templates.map((t) => [String(t.condition.equals['docker.container.labels.ugc_logs']), t.config]));
    assert.deepEqual([...byLabel.keys()].sort(), ['app', 'nginx'], 'the values of the ugc.logs label in the compose files');
    const tags = [...byLabel.values()].flat().flatMap((c) => c.tags as string[]);
    assert.deepEqual(tags.sort(), ['ugc-app', 'ugc-nginx', 'ugc-nginx-error']);
    for (const input of [...byLabel.values()].flat()) {
      const parsers = input.parsers as Dict[];
      assert.ok(parsers[0] && 'container' in parsers[0], 'Docker json-file envelope unwrapped first');
      if ((input.tags as string[])[0] !== 'ugc-nginx-error') assert.deepEqual((parsers[1] as { ndjson: Dict }).ndjson.expand_keys, true, 'dotted ECS keys become objects');
    }
    assert.deepEqual((fb['output.logstash'] as Dict).hosts, ['logstash:5044']);

    const pipeline = read('deploy/logstash/pipeline/ugc.conf');
    for (const tag of tags) assert.ok(pipeline.includes(`"${tag}" in [tags]`), `the pipeline routes ${tag}`);
  });

  it('the Logstash pipeline is balanced, writes daily ugc-app-*/ugc-nginx-* indices the template covers, as the setup user', () => {
    const pipeline = read('deploy/logstash/pipeline/ugc.conf');
    // Braces balance outside strings, regexes and comments.
    let depth = 0;
    for (const line of pipeline.split('\n')) {
      const code = line.replace(/#.*$/, '').replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\/\^[^/]*\//g, '');
      for (const ch of code) {
        if (ch === '{') depth++;
        if (ch === '}') depth--;
        assert.ok(depth >= 0, `unbalanced } in: ${line}`);
      }
    }
    assert.equal(depth, 0);
    assert.deepEqual([...pipeline.matchAll(/^(input|filter|output) \{/gm)].map((m) => m[1]), ['input', 'filter', 'output']);
    assert.ok(pipeline.includes('index => "%{[@metadata][index_prefix]}-%{+yyyy.MM.dd}"'));
    const prefixes = new Set([...pipeline.matchAll(/"\[@metadata\]\[index_prefix\]" => "([^"]+)"/g)].map((m) => m[1]));
    assert.deepEqual([...prefixes].sort(), ['ugc-app', 'ugc-nginx']);
    assert.deepEqual(template.index_patterns, ['ugc-app-*', 'ugc-nginx-*']);
    const setup = read('deploy/elasticsearch/setup.sh');
    const user = /user => "([^"]+)"/.exec(pipeline)?.[1];
    assert.ok(user && setup.includes(`/_security/user/${user}`), 'Logstash writes as the user setup.sh creates');
    assert.ok(pipeline.includes('${LOGSTASH_WRITER_PASSWORD}'));
    const ls = parse(read('deploy/logstash/config/logstash.yml')) as Dict;
    assert.equal(ls['pipeline.ecs_compatibility'], 'v8');
  });

  it('the index template applies the ILM retention policy that setup.sh loads, which deletes old indices', () => {
    const policy = JSON.parse(read('deploy/elasticsearch/ilm-policy.json')) as { policy: { phases: Record<string, { min_age: string; actions: Dict }> } };
    const name = template.template.settings['index.lifecycle.name'];
    const setup = read('deploy/elasticsearch/setup.sh');
    assert.ok(setup.includes(`es PUT /_ilm/policy/${String(name)} "$here/ilm-policy.json"`));
    assert.ok(setup.includes('es PUT /_index_template/ugc-logs "$here/index-template.json"'));
    assert.ok('delete' in (policy.policy.phases.delete?.actions ?? {}), 'a delete phase: retention');
    assert.match(policy.policy.phases.delete?.min_age ?? '', /^\d+d$/);
  });

  it("nginx's JSON access log fields are mapped with their types (numbers as numbers)", () => {
    const format = /log_format ugc_json escape=json([\s\S]*?);/.exec(read('deploy/nginx/nginx.conf'))?.[1] ?? '';
    const entries = [...format.matchAll(/"([a-z_@.]+)":("?)\$/g)].map((m) => ({ field: m[1] ?? '', quoted: m[2] === '"' }));
    assert.ok(entries.length > 10);
    for (const { field, quoted } of entries) {
      const type = fields.get(field);
      assert.ok(type, `${field} (nginx access log) is in the index template`);
      if (!quoted) assert.ok(['long', 'short', 'float', 'integer'].includes(type), `${field} is logged as a number, mapped as ${type}`);
    }
  });

  it('the Kibana saved objects import cleanly: references resolve, and every field used exists in the template', () => {
    const objects = read('deploy/kibana/dashboard.ndjson')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; id: string; attributes: Dict; references: { type: string; id: string; name: string }[] });
    const ids = new Set(objects.map((o) => `${o.type}:${o.id}`));
    for (const o of objects) for (const r of o.references) assert.ok(ids.has(`${r.type}:${r.id}`), `${o.id} references missing ${r.type}:${r.id}`);
    const patterns = objects.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title);
    assert.deepEqual(patterns.sort(), [...template.index_patterns].sort());

    const used = new Set<string>(['@timestamp']);
    for (const o of objects) {
      const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string } | undefined;
      const search = meta ? (JSON.parse(meta.searchSourceJSON) as { query: { query: string } }) : undefined;
      const queries = [search?.query.query ?? ''];
      if (o.type === 'visualization') {
        const vis = JSON.parse(o.attributes.visState as string) as { aggs: { params: { field?: string; filters?: { input: { query: string } }[] } }[] };
        for (const agg of vis.aggs) {
          if (agg.params.field) used.add(agg.params.field);
          for (const f of agg.params.filters ?? []) queries.push(f.input.query);
        }
      }
      for (const column of (o.attributes.columns as string[] | undefined) ?? []) used.add(column);
      for (const q of queries) for (const m of q.matchAll(/([a-z_]+(?:\.[a-z_]+)+)\s*(?::|>=|<=|<|>)/g)) used.add(m[1] ?? '');
    }
    const missing = [...used].filter((f) => !fields.has(f));
    assert.deepEqual(missing, [], 'fields used by the dashboard but not in the index template');
    const dashboard = objects.find((o) => o.type === 'dashboard');
    assert.equal(dashboard?.id, 'ugc-service');
    assert.equal((JSON.parse(dashboard?.attributes.panelsJSON as string) as unknown[]).length, dashboard?.references.length);
    assert.ok(read('deploy/kibana/import.sh').includes('/api/saved_objects/_import?overwrite=true'));
  });
});
