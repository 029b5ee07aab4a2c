import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { VARIABLES } from '../../src/config.ts';
import { parseXml } from '../helpers/xml.ts';

/**
 * The compose files, checked without a Docker engine: against the Compose Specification's JSON
 * schema (test/deploy/compose-spec.json: compose-spec's schema/compose-spec.json, Apache-2.0,
 * as bundled in the npm package dclint@3.1.0, see deploy/README.md), after the same variable
 * interpolation compose does, and for the properties a reviewer of this stack looks for.
 */
const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const FILES = ['docker-compose.yml', 'docker-compose.single.yml', 'docker-compose.logs.yml'];

type Dict = Record<string, unknown>;
interface Service extends Dict {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition?: string }>;
  restart?: string;
  labels?: Record<string, string>;
  deploy?: { replicas?: string | number };
  hostname?: string;
  profiles?: string[];
  networks?: Record<string, { aliases?: string[] }>;
}
interface Compose {
  name?: string;
  include?: string[];
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const raw = (file: string) => readFileSync(join(DEPLOY, file), 'utf8');
// Compose resolves YAML anchors and `<<` merge keys before anything else.
const load = (text: string) => parse(text, { merge: true, maxAliasCount: -1 }) as Compose;

/** KEY=VALUE lines of an env file; `commented` also returns `# KEY=VALUE` lines. */
function envFile(file: string, commented = false): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of raw(file).split('\n')) {
    const m = (commented ? /^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/ : /^([A-Z][A-Z0-9_]*)=(.*)$/).exec(line.trim());
    if (m?.[1] !== undefined) out.set(m[1], m[2] ?? '');
  }
  return out;
}

/** Compose's interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}. */
function interpolate(text: string, env: Map<string, string>, used: Set<string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (match, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (name === undefined) return match === '$$' ? '$' : match;
    used.add(name);
    const value = env.get(name);
    const unset = value === undefined || (op?.startsWith(':') === true && value === '');
    if (op?.endsWith('?') && unset) throw new Error(`${name} is required: ${arg ?? ''}`);
    if (op?.endsWith('-') && unset) return arg ?? '';
    return value ?? '';
  });
}

const sampleEnv = envFile('.env.sample');
/** The image an operator publishes and names in .env (the sample has none: there is no public one). */
const OPERATOR_IMAGE = 'registry.example.com/ugc-service';
// The sample leaves secrets and the image empty on purpose (compose refuses to start); fill them as an operator would.
const operatorEnv = new Map([...sampleEnv].map(([k, v]) => [k, k === 'UGC_IMAGE' ? OPERATOR_IMAGE : v === '' ? `secret-${k.toLowerCase()}` : v]));
const usedVariables = new Set<string>();
const composed = new Map(FILES.map((f) => [f, load(interpolate(raw(f), operatorEnv, usedVariables))]));
const main = composed.get('docker-compose.yml') as Compose;
const single = composed.get('docker-compose.single.yml') as Compose;
const logs = composed.get('docker-compose.logs.yml') as Compose;
/** A file's services plus those of the files it includes, as compose sees the project. */
const project = (c: Compose): Record<string, Service> =>
  Object.assign({}, ...(c.include ?? []).map((f) => (composed.get(f) as Compose).services), c.services) as Record<string, Service>;

function schemaValidator() {
  const schema = JSON.parse(readFileSync(new URL('compose-spec.json', import.meta.url), 'utf8')) as Dict;
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, validateFormats: false });
  return ajv.compile(schema);
}

const requiredEnvOf = (svc: Service, name: string) => {
  const value = svc.environment?.[name];
  assert.ok(value !== undefined, `${name} is set`);
  return value;
};

/** A deploy/ XML file as JSON (see test/helpers/xml.ts); fails the test when it is not well-formed. */
const xmlToJson = (file: string): Dict => parseXml(raw(file), file) as Dict;
/** mongodb://user:password@host1,host2/db?params (WHATWG URL refuses several hosts). */
function mongoUrl(url: string) {
  const m = /^mongodb:\/\/([^:@/]+):([^@/]+)@([^/]+)\/([^?]*)\?(.*)$/.exec(url);
  assert.ok(m, `not a mongodb:// URL with credentials: ${url}`);
  return { user: m[1], password: m[2], hosts: m[3], database: m[4], params: new URLSearchParams(m[5]) };
}
const list = (v: unknown): Dict[] => v as Dict[];
/** An element's text: xmlToJson gives a string, or {"@": attributes, "#": text} with attributes. */
function text(v: unknown): string {
  if (Array.isArray(v)) return text(v[0]);
  if (typeof v === 'string') return v;
  const inner = (v as Dict | undefined)?.['#'];
  return typeof inner === 'string' ? inner : '';
}

describe('deploy/docker-compose*.yml', () => {
  it('match the Compose Specification schema, as written and after interpolation', () => {
    const validate = schemaValidator();
    for (const file of FILES) {
      for (const [stage, doc] of [
        ['as written', load(raw(file))],
        ['interpolated with .env.sample', composed.get(file)],
      ] as const) {
        const ok = validate(doc);
        assert.ok(ok, `${file} (${stage}): ${JSON.stringify(validate.errors?.slice(0, 5), null, 1)}`);
      }
    }
    // The schema has teeth: a typo'd key is refused.
    assert.equal(validate({ services: { x: { image: 'a', helthcheck: {} } } }), false);
  });

  it('use only variables documented in deploy/.env.sample, and the sample has no unused ones', () => {
    const undocumented = [...usedVariables].filter((v) => !sampleEnv.has(v));
    assert.deepEqual(undocumented, [], 'variables used by the compose files but missing from deploy/.env.sample');
    const unused = [...sampleEnv.keys()].filter((v) => !usedVariables.has(v) && v !== 'COMPOSE_PROFILES');
    assert.deepEqual(unused, [], 'deploy/.env.sample entries no compose file uses');
    for (const file of FILES) {
      assert.throws(() => interpolate(raw(file), new Map(), new Set()), /is required/, `${file} refuses to start without the secrets`);
    }
  });

  it('give every long-running service a healthcheck; one-shots are awaited with service_completed_successfully', () => {
    for (const [file, c] of [['docker-compose.yml', main], ['docker-compose.single.yml', single]] as const) {
      const services = project(c);
      const awaitedAsOneShot = new Set(
        Object.values(services).flatMap((s) => Object.entries(s.depends_on ?? {}).filter(([, d]) => d.condition === 'service_completed_successfully').map(([n]) => n)),
      );
      for (const [name, svc] of Object.entries(services)) {
        const oneShot = svc.restart === 'no';
        if (oneShot) {
          assert.ok(awaitedAsOneShot.has(name) || name.endsWith('-setup'), `${file}: one-shot ${name} is awaited by the services that need it`);
        } else {
          assert.ok(svc.healthcheck?.test && !svc.healthcheck.disable, `${file}: ${name} has a healthcheck`);
          assert.equal(svc.restart, 'unless-stopped', `${file}: ${name} restarts`);
        }
        for (const [dep, { condition }] of Object.entries(svc.depends_on ?? {})) {
          const target = services[dep];
          assert.ok(target, `${file}: ${name} depends on unknown ${dep}`);
          if (condition === 'service_healthy') assert.ok(target.healthcheck?.test && !target.healthcheck.disable, `${file}: ${name} waits for ${dep} to be healthy, which has no healthcheck`);
          else assert.equal(condition, 'service_completed_successfully', `${file}: ${name} -> ${dep} waits for a condition`);
          if (condition === 'service_completed_successfully') assert.equal(target.restart, 'no', `${file}: ${dep} is a one-shot`);
        }
      }
      // No cycles in the start-up order.
      const state = new Map<string, 'visiting' | 'done'>();
      const visit = (n: string, path: string[]) => {
        assert.notEqual(state.get(n), 'visiting', `${file}: dependency cycle ${[...path, n].join(' -> ')}`);
        if (state.get(n) === 'done') return;
        state.set(n, 'visiting');
        for (const d of Object.keys(services[n]?.depends_on ?? {})) visit(d, [...path, n]);
        state.set(n, 'done');
      };
      for (const n of Object.keys(services)) visit(n, []);
    }
  });

  it('keep data in named volumes and mount configuration read-only from deploy/', () => {
    const hostPaths = new Set(['/var/lib/docker/containers', '/var/run/docker.sock']);
    for (const file of FILES) {
      const c = composed.get(file) as Compose;
      const declared = new Set(Object.keys(c.volumes ?? {}));
      const used = new Set<string>();
      for (const [name, svc] of Object.entries(c.services)) {
        for (const spec of svc.volumes ?? []) {
          const [source = '', target = '', mode] = spec.split(':');
          assert.ok(target.startsWith('/'), `${file}: ${name}: ${spec}`);
          if (source.startsWith('./')) {
            assert.ok(existsSync(join(DEPLOY, source)), `${file}: ${name} mounts missing ${source}`);
            assert.equal(mode, 'ro', `${file}: ${name} mounts ${source} read-only`);
          } else if (source.startsWith('/')) {
            assert.ok(hostPaths.has(source) && name === 'filebeat' && mode === 'ro', `${file}: only filebeat reads ${source}, read-only`);
          } else {
            assert.ok(declared.has(source), `${file}: ${name} uses undeclared volume ${source} (anonymous volumes lose data)`);
            used.add(source);
          }
        }
      }
      assert.deepEqual([...declared].filter((v) => !used.has(v)), [], `${file}: declared but unused volumes`);
    }
  });

  it('publish ports only for nginx and (on loopback by default) Kibana; use pinned official images', () => {
    const official = [/^nginx:/, /^apache\/kafka:4\./, /^clickhouse\/clickhouse-(server|keeper):/, /^mongo:7/, /^docker\.elastic\.co\/(elasticsearch|logstash|kibana|beats)\/[a-z]+:8\./];
    for (const file of FILES) {
      for (const [name, svc] of Object.entries((composed.get(file) as Compose).services)) {
        if (svc.ports) assert.ok(['nginx', 'kibana'].includes(name), `${file}: ${name} publishes ${svc.ports.join(', ')}`);
        if (name === 'kibana') assert.deepEqual(svc.ports, ['127.0.0.1:5601:5601']);
        const image = svc.image ?? '';
        if (image === `${OPERATOR_IMAGE}:${operatorEnv.get('UGC_TAG') ?? ''}`) continue;
        assert.ok(official.some((re) => re.test(image)), `${file}: ${name} uses ${image}`);
        assert.doesNotMatch(image, /:latest$|^[^:]+$/, `${file}: ${name} pins a version`);
      }
    }
    assert.deepEqual(main.services.nginx?.ports, ['80:80']);
  });

  it('run api and etl as two replicas each behind nginx, with migrations as a one-shot before them', () => {
    const s = main.services;
    assert.equal(Number(s.api?.deploy?.replicas), 2);
    assert.equal(Number(s.etl?.deploy?.replicas), 2);
    assert.deepEqual(s.api?.command, ['api']);
    assert.deepEqual(s.etl?.command, ['etl']);
    assert.deepEqual(s.migrate?.command, ['migrate']);
    for (const c of [main, single]) {
      for (const role of ['api', 'etl']) {
        const svc = c.services[role] as Service;
        assert.equal(svc.depends_on?.migrate?.condition, 'service_completed_successfully');
        assert.equal(requiredEnvOf(svc, 'WAREHOUSE_MIGRATE_ON_START'), 'false', 'replicas never race on DDL');
        assert.equal(requiredEnvOf(svc, 'TRUST_PROXY'), 'true');
      }
      assert.equal(c.services.nginx?.depends_on?.api?.condition, 'service_healthy');
      // The etl healthcheck probes its own ops port, the api's its HTTP port.
      assert.match(c.services.etl?.healthcheck?.test?.join(' ') ?? '', new RegExp(`:${requiredEnvOf(c.services.etl as Service, 'ETL_HTTP_PORT')}/healthz`));
      assert.match(c.services.api?.healthcheck?.test?.join(' ') ?? '', new RegExp(`:${requiredEnvOf(c.services.api as Service, 'PORT')}/healthz`));
    }
  });

  it('pass the app only variables it knows (src/config.ts), from compose and from app.env.sample', () => {
    const known = new Set(Object.keys(VARIABLES));
    const appEnv = envFile('app.env.sample', true);
    assert.deepEqual([...appEnv.keys()].filter((k) => !known.has(k)), [], 'unknown variables in deploy/app.env.sample');
    for (const c of [main, single]) {
      for (const role of ['api', 'etl', 'migrate']) {
        const svc = c.services[role] as Service;
        assert.deepEqual(svc.env_file, ['app.env']);
        assert.deepEqual(Object.keys(svc.environment ?? {}).filter((k) => !known.has(k)), [], `${role}: unknown variables`);
      }
    }
    // The shipped placeholder secret must stop the service, not run it with a guessable key.
    assert.ok((appEnv.get('AUTH_JWT_SECRET') ?? '').length < 32);
  });

  it('define a 3-broker KRaft Kafka cluster: combined nodes, replication 3, min ISR 2, no auto-created topics', () => {
    const brokers = Object.entries(main.services).filter(([n]) => /^kafka-\d$/.test(n));
    assert.equal(brokers.length, 3);
    const voters = brokers.map(([n, s]) => `${requiredEnvOf(s, 'KAFKA_NODE_ID')}@${n}:9093`).join(',');
    for (const [name, svc] of brokers) {
      const env = (k: string) => requiredEnvOf(svc, k);
      assert.equal(svc.hostname, name);
      assert.equal(env('KAFKA_PROCESS_ROLES'), 'broker,controller');
      assert.equal(env('KAFKA_CONTROLLER_QUORUM_VOTERS'), voters);
      assert.equal(env('KAFKA_ADVERTISED_LISTENERS'), `PLAINTEXT://${name}:9092`);
      assert.equal(env('KAFKA_DEFAULT_REPLICATION_FACTOR'), '3');
      assert.equal(env('KAFKA_MIN_INSYNC_REPLICAS'), '2');
      assert.equal(env('KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR'), '3');
      assert.equal(env('KAFKA_TRANSACTION_STATE_LOG_MIN_ISR'), '2');
      assert.equal(env('KAFKA_AUTO_CREATE_TOPICS_ENABLE'), 'false');
      assert.equal(env('CLUSTER_ID'), operatorEnv.get('KAFKA_CLUSTER_ID'));
      assert.ok(svc.volumes?.some((v) => v.endsWith(':/var/lib/kafka/data') && v.startsWith(`${name}-data`)));
    }
    for (const role of ['api', 'etl', 'migrate']) {
      const svc = main.services[role] as Service;
      assert.equal(requiredEnvOf(svc, 'KAFKA_BROKERS'), brokers.map(([n]) => `${n}:9092`).join(','));
      assert.equal(requiredEnvOf(svc, 'KAFKA_REPLICATION_FACTOR'), '3');
    }
  });

  it('define ClickHouse as 2 shards x 2 replicas with Keeper, macros and cluster matching the compose services', () => {
    const cluster = xmlToJson('clickhouse/config.d/cluster.xml');
    const remote = list(cluster.remote_servers)[0] as Dict;
    const clusterName = requiredEnvOf(main.services.api as Service, 'CLICKHOUSE_CLUSTER');
    assert.deepEqual(Object.keys(remote), [clusterName], 'remote_servers defines the CLICKHOUSE_CLUSTER the app uses');
    const def = list(remote[clusterName])[0] as Dict;
    assert.equal(text(def.secret).length, 0, 'the secret comes from the environment');
    assert.deepEqual((list(def.secret)[0] as { '@': Dict })['@'], { from_env: 'CLICKHOUSE_CLUSTER_SECRET' });
    const shards = list(def.shard).map((shard) => {
      assert.equal(text(shard.internal_replication), 'true');
      return list(shard.replica).map((r) => `${text(r.host)}:${text(r.port)}`);
    });
    assert.equal(shards.length, 2);
    assert.ok(shards.every((replicas) => replicas.length === 2));

    const servers = Object.entries(main.services).filter(([n]) => /^clickhouse-s\dr\d$/.test(n));
    assert.deepEqual(servers.map(([n]) => `${n}:9000`).sort(), shards.flat().sort(), 'every server is in the cluster, and only those');
    const keepers = Object.entries(main.services).filter(([n]) => /^clickhouse-keeper-\d$/.test(n));
    assert.equal(keepers.length, 3);
    assert.deepEqual(list(list(cluster.zookeeper)[0]?.node).map((n) => text(n.host)), keepers.map(([n]) => n));

    for (const [name, svc] of servers) {
      const nodeMount = svc.volumes?.find((v) => v.endsWith(':/etc/clickhouse-server/config.d/node.xml:ro'));
      assert.ok(nodeMount && svc.volumes?.includes('./clickhouse/config.d/cluster.xml:/etc/clickhouse-server/config.d/cluster.xml:ro'), name);
      const node = xmlToJson(nodeMount.split(':')[0]?.replace('./', '') ?? '');
      const macros = list(node.macros)[0] as Dict;
      const shardIndex = shards.findIndex((replicas) => replicas.includes(`${name}:9000`)) + 1;
      assert.equal(text(macros.shard), String(shardIndex), `${name}: {shard} macro`);
      assert.equal(text(macros.replica), name, `${name}: {replica} macro`);
      assert.equal(text(macros.cluster), clusterName);
      assert.equal(text(node.interserver_http_host), name);
      assert.equal(svc.hostname, name);
      assert.ok(svc.networks?.default?.aliases?.includes('clickhouse'), `${name} answers as clickhouse`);
      for (const k of ['CLICKHOUSE_CLUSTER_SECRET', 'CLICKHOUSE_INTERSERVER_PASSWORD', 'CLICKHOUSE_USER', 'CLICKHOUSE_PASSWORD']) requiredEnvOf(svc, k);
      assert.deepEqual(Object.keys(svc.depends_on ?? {}).sort(), keepers.map(([n]) => n).sort());
    }
    const replicas = servers.map(([n]) => n);
    assert.equal(new Set(replicas).size, 4);

    const keeper = xmlToJson('clickhouse/keeper/keeper_config.xml');
    const raft = list(list(list(keeper.keeper_server)[0]?.raft_configuration)[0]?.server);
    for (const [name, svc] of keepers) {
      const id = requiredEnvOf(svc, 'KEEPER_SERVER_ID');
      assert.ok(raft.some((s) => text(s.id) === id && text(s.hostname) === name), `${name} is raft server ${id}`);
    }
    assert.equal(requiredEnvOf(main.services.api as Service, 'CLICKHOUSE_URL'), 'http://clickhouse:8123');
    assert.equal(single.services.api?.environment?.CLICKHOUSE_CLUSTER, undefined, 'the single server has no cluster');
  });

  it('define MongoDB as a 3-member replica set initiated by a one-shot, and the app connects to all members', () => {
    const members = Object.entries(main.services).filter(([n]) => /^mongo-\d$/.test(n));
    assert.equal(members.length, 3);
    for (const [name, svc] of members) {
      assert.equal(svc.image, 'mongo:7.0');
      assert.deepEqual(svc.command?.slice(0, 3), ['mongod', '--replSet', 'rs0']);
      assert.equal(svc.hostname, name);
    }
    const init = main.services['mongo-init'] as Service;
    assert.equal(requiredEnvOf(init, 'MONGO_MEMBERS'), members.map(([n]) => `${n}:27017`).join(','));
    assert.equal(requiredEnvOf(init, 'MONGO_REPLICA_SET'), 'rs0');
    const url = mongoUrl(requiredEnvOf(main.services.api as Service, 'MONGODB_URL'));
    assert.equal(url.hosts, members.map(([n]) => `${n}:27017`).join(','));
    assert.equal(url.params.get('replicaSet'), 'rs0');
    assert.equal(url.params.get('authSource'), 'admin', 'the user is created in admin by mongo-init');
    assert.equal(url.user, requiredEnvOf(init, 'MONGO_APP_USER'));
    assert.equal(url.password, requiredEnvOf(init, 'MONGO_APP_PASSWORD'));
    assert.equal(url.database, requiredEnvOf(init, 'MONGODB_DATABASE'));
    execFileSync(process.execPath, ['--check', join(DEPLOY, 'mongo/init-replica-set.js')]);
  });

  it('label what Filebeat ships, run ELK under the `logs` profile, and share it with the single-node file', () => {
    assert.deepEqual(main.include, ['docker-compose.logs.yml']);
    assert.deepEqual(single.include, ['docker-compose.logs.yml']);
    assert.equal(sampleEnv.get('COMPOSE_PROFILES'), 'logs', 'production starts the ELK stack');
    for (const [name, svc] of Object.entries(logs.services)) assert.deepEqual(svc.profiles, ['logs'], name);
    for (const c of [main, single]) {
      for (const role of ['api', 'etl', 'migrate']) assert.equal(c.services[role]?.labels?.['ugc.logs'], 'app');
      assert.equal(c.services.nginx?.labels?.['ugc.logs'], 'nginx');
      // Both files run the very same nginx configuration.
      assert.deepEqual(c.services.nginx?.volumes, main.services.nginx?.volumes);
    }
  });

  it('size the single-node file for one machine: one node of each backend', () => {
    const s = single.services;
    assert.equal(single.name, 'ugc-single', 'its own project name, so its volumes never mix with production');
    assert.equal(s.api?.deploy, undefined);
    assert.equal(requiredEnvOf(s.api as Service, 'KAFKA_BROKERS'), 'kafka:9092');
    assert.equal(requiredEnvOf(s.api as Service, 'KAFKA_REPLICATION_FACTOR'), '1');
    assert.equal(requiredEnvOf(s.kafka as Service, 'KAFKA_CONTROLLER_QUORUM_VOTERS'), '1@kafka:9093');
    assert.equal(requiredEnvOf(s.kafka as Service, 'KAFKA_AUTO_CREATE_TOPICS_ENABLE'), 'false');
    assert.equal(mongoUrl(requiredEnvOf(s.api as Service, 'MONGODB_URL')).hosts, 'mongo:27017');
    assert.equal(requiredEnvOf(s['mongo-init'] as Service, 'MONGO_REPLICA_SET'), '');
  });

  it('run the service image from UGC_IMAGE, which has no placeholder default, and never build it implicitly', () => {
    assert.equal(sampleEnv.get('UGC_IMAGE'), '', 'the operator names the image they publish');
    for (const file of ['docker-compose.yml', 'docker-compose.single.yml']) {
      const env = new Map(operatorEnv);
      env.delete('UGC_IMAGE');
      assert.throws(() => interpolate(raw(file), env, new Set()), /UGC_IMAGE is required: set UGC_IMAGE in deploy\/\.env/, file);
      const services = (composed.get(file) as Compose).services;
      for (const role of ['api', 'etl', 'migrate']) assert.equal(services[role]?.image, `${OPERATOR_IMAGE}:${operatorEnv.get('UGC_TAG') ?? ''}`, `${file}: ${role}`);
      // A `build:` here would run whenever a pull fails, from `..`, which a server with only deploy/ lacks.
      for (const [name, svc] of Object.entries(services)) assert.equal(svc.build, undefined, `${file}: ${name} has no implicit build`);
    }
  });

  it('build the image only on request, with docker-compose.build.yml, from the repository root', () => {
    const overlay = load(raw('docker-compose.build.yml'));
    assert.ok(schemaValidator()(overlay), 'docker-compose.build.yml matches the Compose Specification');
    assert.deepEqual(Object.keys(overlay.services), ['migrate'], 'one service builds the image the others share');
    const build = overlay.services.migrate?.build as { context: string; dockerfile: string };
    const context = join(DEPLOY, build.context);
    assert.ok(existsSync(join(context, build.dockerfile)), `${build.dockerfile} in the build context ${context}`);
    assert.ok(existsSync(join(context, 'package.json')) && existsSync(join(context, 'src')), 'the context is the repository root');
    for (const c of [main, single]) assert.ok(c.services.migrate, 'the overlay applies to both compose files');
  });

  it('make every container that runs the service listen on all interfaces (HOST=0.0.0.0)', () => {
    for (const file of ['docker-compose.yml', 'docker-compose.single.yml']) {
      const services = Object.entries((composed.get(file) as Compose).services).filter(([, svc]) => svc.image?.startsWith(`${OPERATOR_IMAGE}:`));
      assert.deepEqual(services.map(([n]) => n).sort(), ['api', 'etl', 'migrate'], file);
      for (const [name, svc] of services) assert.equal(requiredEnvOf(svc, 'HOST'), '0.0.0.0', `${file}: ${name}`);
    }
  });

  it('give the single-node Kafka the heap and retention of .env, like the cluster brokers', () => {
    const env = new Map([...operatorEnv, ['KAFKA_HEAP_OPTS', '-Xmx768m -Xms768m'], ['KAFKA_RETENTION_HOURS', '72']]);
    for (const [file, broker] of [['docker-compose.yml', 'kafka-1'], ['docker-compose.single.yml', 'kafka']] as const) {
      const svc = load(interpolate(raw(file), env, new Set())).services[broker] as Service;
      assert.equal(requiredEnvOf(svc, 'KAFKA_HEAP_OPTS'), '-Xmx768m -Xms768m', `${file}: ${broker}`);
      assert.equal(String(requiredEnvOf(svc, 'KAFKA_LOG_RETENTION_HOURS')), '72', `${file}: ${broker}`);
    }
  });

  it('read in docker-compose.single.yml every .env setting docker-compose.yml reads, except what only a cluster has', () => {
    // Cluster-only: replica counts, the inter-server secrets of the ClickHouse cluster.
    const clusterOnly = new Set(['API_REPLICAS', 'ETL_REPLICAS', 'CLICKHOUSE_CLUSTER_SECRET', 'CLICKHOUSE_INTERSERVER_PASSWORD']);
    const usedBy = (file: string) => {
      const used = new Set<string>();
      interpolate(raw(file), operatorEnv, used);
      return used;
    };
    const inSingle = usedBy('docker-compose.single.yml');
    const missing = [...usedBy('docker-compose.yml')].filter((v) => !inSingle.has(v) && !clusterOnly.has(v));
    assert.deepEqual(missing, [], 'set in .env but ignored by docker-compose.single.yml');
  });
});
