import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { mintToken } from '../../src/api/auth.ts';
import { unreachable } from '../helpers/engines.ts';
import { type RunningService, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

/**
 * Logs for ELK, with a real Elasticsearch-API engine: OpenSearch 2.19 from Maven Central
 * (`scripts/engines/opensearch.sh`, started by `scripts/engines/up.sh`, found through
 * OPENSEARCH_URL). The real service runs as a process; its own ECS log lines (stdout, parsed by
 * startService) are shipped the way deploy/filebeat/filebeat.yml and
 * deploy/logstash/pipeline/ugc.conf would ship them, into the index Logstash would write, under
 * the index template deploy/elasticsearch/index-template.json; then they are searched by request
 * id and by user id, and the hits must carry the request's status code, path and duration with
 * the template's types.
 *
 * Filebeat and Logstash themselves do not run here: Logstash (a JRuby distribution) is in none
 * of the package registries these machines reach, and Filebeat's configuration reads Docker's
 * json-file logs through Docker autodiscover, and there is no Docker. So `filebeat()` and
 * `logstash()` below do, field for field, what those two configurations say (each step cites
 * its line), and the `_bulk` request is what Logstash's elasticsearch output sends. What they
 * add that no query here reads is left out: Filebeat's agent/host/input/log.file metadata and
 * `container.*` from add_docker_metadata.
 *
 * Gaps between Elasticsearch and OpenSearch, asserted so they stay known:
 * - ILM: OpenSearch has no `_ilm` API (its equivalent is the Index State Management plugin,
 *   `_plugins/_ism`, not installed here), so deploy/elasticsearch/ilm-policy.json cannot be
 *   loaded, and the template's `index.lifecycle.name` setting is refused as unknown. The template
 *   is loaded without that one setting; everything else in it loads unchanged.
 * - Security (users and roles of setup.sh) is not exercised: the node runs without the
 *   security plugin.
 *
 * This suite never skips: when OpenSearch cannot be reached it fails.
 */
const OPENSEARCH_URL = (process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200').replace(/\/+$/, '');
const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const TEMPLATE_NAME = 'ugc-logs'; // setup.sh: es PUT /_index_template/ugc-logs

type Json = Record<string, unknown>;

async function os(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${OPENSEARCH_URL}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed };
}

async function ok(method: string, path: string, body?: unknown, contentType?: string): Promise<Json> {
  const res = await os(method, path, body, contentType);
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${path} -> ${res.status}: ${JSON.stringify(res.body).slice(0, 2000)}`);
  return res.body;
}

/**
 * Filebeat's `ndjson` parser as configured for `ugc.logs=app` (filebeat.yml):
 *   target: ""            -> the decoded keys go to the event's root
 *   overwrite_keys: true  -> and replace Filebeat's own (message, @timestamp)
 *   expand_keys: true     -> "http.request.id": x becomes { http: { request: { id: x } } }
 *   add_error_key: true   -> a line that is not JSON keeps its text in `message` and gets
 *                            error.message / error.type "json"
 *   tags: [ugc-app]
 */
function filebeat(line: string, readAt: Date): Json {
  let decoded: unknown;
  try {
    decoded = JSON.parse(line);
  } catch (err) {
    return {
      '@timestamp': readAt.toISOString(),
      message: line,
      error: { message: `Error decoding JSON: ${(err as Error).message}`, type: 'json' },
      tags: ['ugc-app'],
    };
  }
  assert.ok(decoded !== null && typeof decoded === 'object' && !Array.isArray(decoded), `not a JSON object: ${line}`);
  return { '@timestamp': readAt.toISOString(), ...expandKeys(decoded as Json), tags: ['ugc-app'] };
}

/** Filebeat's expand_keys: dotted keys become nested objects; a clash is an error there too. */
function expandKeys(flat: Json): Json {
  const out: Json = {};
  for (const [key, raw] of Object.entries(flat)) {
    const value = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? expandKeys(raw as Json) : raw;
    const parts = key.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (next === undefined) node[part] = {};
      else assert.ok(next !== null && typeof next === 'object' && !Array.isArray(next), `expand_keys clash at "${key}"`);
      node = node[part] as Json;
    }
    const last = parts[parts.length - 1] ?? key;
    const existing = node[last];
    if (existing !== null && typeof existing === 'object' && value !== null && typeof value === 'object') {
      Object.assign(existing, value);
    } else {
      assert.equal(existing, undefined, `expand_keys clash at "${key}"`);
      node[last] = value;
    }
  }
  return out;
}

/**
 * deploy/logstash/pipeline/ugc.conf, the `"ugc-app" in [tags]` branch and what follows it.
 * Returns the document and the index the elasticsearch output writes it to.
 */
function logstash(event: Json): { index: string; doc: Json } {
  const doc = structuredClone(event);
  const tags = doc.tags as string[];
  assert.ok(tags.includes('ugc-app'), 'only the app branch of the pipeline is replicated here');
  // mutate { add_field => { "[@metadata][index_prefix]" => "ugc-app" } }
  const indexPrefix = 'ugc-app';
  // if [reqId] and ![http][request][id] { mutate { copy => { "reqId" => "[http][request][id]" } } }
  const http = (doc.http ?? {}) as Json;
  const request = (http.request ?? {}) as Json;
  if (doc.reqId !== undefined && request.id === undefined) {
    doc.http = { ...http, request: { ...request, id: doc.reqId } };
  }
  // if [error][type] == "json" { mutate { add_field => { "[log][level]" => "error" } } }
  const error = doc.error as Json | undefined;
  if (error?.type === 'json') doc.log = { ...((doc.log ?? {}) as Json), level: 'error' };
  // mutate { remove_field => ["[event][original]", "[agent][ephemeral_id]"] }
  if (doc.event !== undefined) delete (doc.event as Json).original;
  if (doc.agent !== undefined) delete (doc.agent as Json).ephemeral_id;
  // Every Logstash event carries @version "1".
  doc['@version'] = '1';
  // index => "%{[@metadata][index_prefix]}-%{+yyyy.MM.dd}": the event's @timestamp, in UTC.
  const ts = new Date(doc['@timestamp'] as string);
  assert.ok(!Number.isNaN(ts.getTime()), `@timestamp is not a date: ${String(doc['@timestamp'])}`);
  const day = `${ts.getUTCFullYear()}.${String(ts.getUTCMonth() + 1).padStart(2, '0')}.${String(ts.getUTCDate()).padStart(2, '0')}`;
  return { index: `${indexPrefix}-${day}`, doc };
}

/** Reads a dotted path from a nested _source (what Elasticsearch stores after expand_keys). */
function field(source: Json, path: string): unknown {
  let node: unknown = source;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Json)[part];
  }
  return node;
}

interface Hit {
  _index: string;
  _id: string;
  _source: Json;
}

async function search(query: Json, size = 100): Promise<Hit[]> {
  const body = await ok('POST', '/ugc-app-*/_search', { query, size, sort: [{ '@timestamp': 'asc' }] });
  return (body.hits as { hits: Hit[] }).hits;
}

describe('app logs shipped to an Elasticsearch-API engine (OpenSearch) are searchable by request id', () => {
  const run = randomBytes(4).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const user = `logs-${run}`;
  const film = randomUUID();
  const missingFilm = randomUUID();
  const ids = {
    created: `ls-${run}-created`,
    read: `ls-${run}-read`,
    invalid: `ls-${run}-invalid`,
    notFound: `ls-${run}-notfound`,
    anonymous: `ls-${run}-anonymous`,
  };
  const crashMarker = `crash-${run}`;
  let tmp: TempDir;
  let svc: RunningService;
  /** The indices this run wrote to that did not exist before (removed afterwards). */
  const createdIndices = new Set<string>();
  /** Documents this run wrote into indices that existed before (deleted one by one). */
  const written: { index: string; id: string }[] = [];
  let appLines: Json[] = [];

  before(async () => {
    try {
      const root = await os('GET', '/');
      assert.equal(root.status, 200, JSON.stringify(root.body));
    } catch (err) {
      throw unreachable('OpenSearch', `${OPENSEARCH_URL} (OPENSEARCH_URL; \`bash scripts/engines/up.sh opensearch\` starts it)`, err);
    }
    tmp = await makeTempDir('ugc-log-shipping-');
    svc = await startService({ DATA_DIR: tmp.dir, AUTH_JWT_SECRET: secret });
  });

  after(async () => {
    await stopAll();
    await tmp?.cleanup();
    // Leave the engine as we found it: our indices go, our documents in older ones too.
    for (const index of createdIndices) await os('DELETE', `/${index}`);
    const leftover = written.filter((w) => !createdIndices.has(w.index));
    if (leftover.length > 0) {
      const ndjson = leftover.map((w) => JSON.stringify({ delete: { _index: w.index, _id: w.id } })).join('\n') + '\n';
      await os('POST', '/_bulk?refresh=true', ndjson, 'application/x-ndjson');
    }
  });

  it('the engine is OpenSearch 2.x with the Elasticsearch 7 API', async () => {
    const root = await ok('GET', '/');
    const version = root.version as Json;
    assert.equal(version.distribution, 'opensearch');
    assert.match(String(version.number), /^2\./);
  });

  it('loads the shipped index template (without the ILM setting) and documents the ILM gap', async () => {
    const template = JSON.parse(readFileSync(`${DEPLOY}elasticsearch/index-template.json`, 'utf8')) as Json;
    const settings = (template.template as Json).settings as Json;
    assert.equal(settings['index.lifecycle.name'], 'ugc-logs', 'the template names the ILM policy that setup.sh loads');

    // As shipped (what setup.sh PUTs), OpenSearch refuses it for that one setting only.
    const asShipped = await os('PUT', `/_index_template/${TEMPLATE_NAME}`, template);
    assert.equal(asShipped.status, 400);
    const reason = JSON.stringify(asShipped.body);
    assert.match(reason, /unknown setting \[index\.lifecycle\.name\]/);
    // "Validation Failed: 1: unknown setting [index.lifecycle.name] ...;2: expected [index.lifecycle.name] to be private ...;"
    const failures = [...reason.matchAll(/\d+: ([^;]*);/g)].map((m) => m[1] ?? '');
    assert.ok(failures.length > 0, reason);
    for (const failure of failures) assert.match(failure, /\[index\.lifecycle\.name\]/, `another part of the template is refused: ${failure}`);

    // ... and has no ILM API at all (ISM, its replacement, is a plugin not installed here).
    const ilm = await os('PUT', '/_ilm/policy/ugc-logs', JSON.parse(readFileSync(`${DEPLOY}elasticsearch/ilm-policy.json`, 'utf8')));
    assert.equal(ilm.status, 400);
    assert.match(JSON.stringify(ilm.body), /no handler found for uri \[\/_ilm\/policy\/ugc-logs\]/);

    // Everything else loads as shipped: mappings, dynamic template, shards, refresh interval.
    const forOpenSearch = structuredClone(template);
    delete ((forOpenSearch.template as Json).settings as Json)['index.lifecycle.name'];
    assert.deepEqual(await ok('PUT', `/_index_template/${TEMPLATE_NAME}`, forOpenSearch), { acknowledged: true });
    const stored = await ok('GET', `/_index_template/${TEMPLATE_NAME}`);
    const got = (stored.index_templates as { index_template: Json }[])[0]?.index_template;
    assert.deepEqual(got?.index_patterns, ['ugc-app-*', 'ugc-nginx-*']);
  });

  it('the app logs its requests as ECS lines carrying the request id, user, path, status and duration', async () => {
    const auth = { authorization: `Bearer ${await mintToken({ secret, userId: user, admin: false, ttlSeconds: 600 })}` };
    const call = async (id: string, method: string, path: string, body?: unknown, withAuth = true) => {
      const res = await fetch(`${svc.url}${path}`, {
        method,
        headers: { 'x-request-id': id, ...(withAuth ? auth : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-request-id'), id, 'the app returns the id it logs');
      return res.status;
    };
    assert.equal(await call(ids.created, 'PUT', `/api/v1/films/${film}/like`, { score: 8 }), 201);
    assert.equal(await call(ids.read, 'GET', `/api/v1/films/${film}/like`), 200);
    assert.equal(await call(ids.invalid, 'PUT', `/api/v1/films/${film}/like`, { score: 99 }), 400);
    assert.equal(await call(ids.notFound, 'GET', `/api/v1/films/${missingFilm}/like`), 404);
    assert.equal(await call(ids.anonymous, 'GET', `/api/v1/films/${film}/like`, undefined, false), 401);

    // The access-log line of each request is written in onResponse, after the reply: wait for it.
    const completed = (id: string) => svc.logs.find((l) => l['http.request.id'] === id && l.message === 'request completed');
    const deadline = Date.now() + 5000;
    while (Object.values(ids).some((id) => completed(id) === undefined)) {
      assert.ok(Date.now() < deadline, `no "request completed" line for some of ${Object.values(ids).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const [name, id] of Object.entries(ids)) {
      const line = completed(id) as Json;
      assert.equal(typeof line['@timestamp'], 'string', `${name}: @timestamp`);
      assert.equal(line['log.level'], 'info', `${name}: log.level`);
      assert.equal(typeof line['event.duration'], 'number', `${name}: event.duration (ns)`);
      assert.ok((line['event.duration'] as number) > 0, `${name}: event.duration > 0`);
      assert.equal(typeof line['http.response.status_code'], 'number', `${name}: http.response.status_code`);
      assert.match(String(line['url.path']), /^\/api\/v1\/films\/[0-9a-f-]{36}\/like$/, `${name}: url.path`);
      assert.equal(line['service.name'], 'ugc-service');
      if (name === 'anonymous') assert.equal(line['user.id'], undefined, 'no user without a token');
      else assert.equal(line['user.id'], user, `${name}: user.id`);
    }
    appLines = svc.logs.filter((l) => Object.values(ids).includes(l['http.request.id'] as string));
  });

  it('ships them through Filebeat\'s and Logstash\'s transformations into ugc-app-YYYY.MM.dd with _bulk', async () => {
    assert.ok(appLines.length >= Object.keys(ids).length, 'the previous test collected the app lines');
    const readAt = new Date();
    // Each collected line as the text the app wrote (one JSON object per line), plus one line
    // that is not JSON, as a crash before the logger exists would leave on stderr.
    const raw = [...appLines.map((l) => JSON.stringify(l)), `Error: ${crashMarker} before the logger started`];
    const shipped = raw.map((line) => logstash(filebeat(line, readAt)));
    for (const index of new Set(shipped.map((s) => s.index))) {
      const exists = await os('HEAD', `/${index}`);
      if (exists.status === 404) createdIndices.add(index);
    }
    // logstash-output-elasticsearch: one `index` action per event (data_stream => false).
    const ndjson = shipped.map(({ index, doc }) => `${JSON.stringify({ index: { _index: index } })}\n${JSON.stringify(doc)}\n`).join('');
    const bulk = await ok('POST', '/_bulk', ndjson, 'application/x-ndjson');
    const items = bulk.items as { index: { _index: string; _id: string; status: number; error?: unknown } }[];
    for (const item of items) written.push({ index: item.index._index, id: item.index._id });
    assert.equal(bulk.errors, false, JSON.stringify(items.filter((i) => i.index.error !== undefined)).slice(0, 2000));
    assert.equal(items.length, shipped.length);
    for (const [i, item] of items.entries()) assert.equal(item.index._index, shipped[i]?.index);
    // The template's refresh_interval is 5s; a search right after shipping needs a refresh.
    await ok('POST', '/ugc-app-*/_refresh');

    // The index got the template's mappings, not dynamic ones.
    const index = shipped[0]?.index ?? '';
    assert.match(index, /^ugc-app-\d{4}\.\d{2}\.\d{2}$/);
    const mapping = await ok('GET', `/${index}/_mapping/field/${['http.request.id', 'user.id', 'url.path', 'http.response.status_code', 'event.duration', '@timestamp', 'message', 'log.level', 'ugc.route'].join(',')}`);
    const mapped = (mapping[index] as { mappings: Record<string, { mapping: Record<string, { type: string }> }> }).mappings;
    const typeOf = (f: string) => Object.values(mapped[f]?.mapping ?? {})[0]?.type;
    assert.deepEqual(
      Object.fromEntries(Object.keys(mapped).sort().map((f) => [f, typeOf(f)])),
      {
        '@timestamp': 'date',
        'event.duration': 'long',
        'http.request.id': 'keyword',
        'http.response.status_code': 'short',
        'log.level': 'keyword',
        message: 'match_only_text',
        'ugc.route': 'keyword',
        'url.path': 'keyword',
        'user.id': 'keyword',
      },
    );
  });

  it('finds every line of a request by http.request.id, with status code, path and duration', async () => {
    const expected: Record<string, { status: number; path: string }> = {
      [ids.created]: { status: 201, path: `/api/v1/films/${film}/like` },
      [ids.read]: { status: 200, path: `/api/v1/films/${film}/like` },
      [ids.invalid]: { status: 400, path: `/api/v1/films/${film}/like` },
      [ids.notFound]: { status: 404, path: `/api/v1/films/${missingFilm}/like` },
      [ids.anonymous]: { status: 401, path: `/api/v1/films/${film}/like` },
    };
    for (const [id, want] of Object.entries(expected)) {
      const hits = await search({ term: { 'http.request.id': id } });
      const logged = appLines.filter((l) => l['http.request.id'] === id);
      assert.equal(hits.length, logged.length, `${id}: every app line of the request, and nothing else`);
      const access = hits.filter((h) => h._source.message === 'request completed');
      assert.equal(access.length, 1, `${id}: one access line`);
      const src = (access[0] as Hit)._source;
      const line = appLines.find((l) => l['http.request.id'] === id && l.message === 'request completed') as Json;
      assert.equal(field(src, 'http.response.status_code'), want.status, `${id}: status code`);
      assert.equal(field(src, 'url.path'), want.path, `${id}: path`);
      assert.equal(field(src, 'event.duration'), line['event.duration'], `${id}: duration as logged (ns)`);
      assert.equal(field(src, 'http.request.method'), line['http.request.method']);
      assert.equal(field(src, 'ugc.route'), '/api/v1/films/:film_id/like');
      assert.equal(field(src, '@timestamp'), line['@timestamp']);
      assert.deepEqual(src.tags, ['ugc-app']);
    }
  });

  it('finds a user\'s requests by user.id, and the typed fields answer range queries and aggregations', async () => {
    const mine = await search({ bool: { filter: [{ term: { 'user.id': user } }, { match_phrase: { message: 'request completed' } }] } });
    assert.deepEqual(
      mine.map((h) => field(h._source, 'http.request.id')).sort(),
      [ids.created, ids.invalid, ids.notFound, ids.read].sort(),
      'the anonymous request has no user.id',
    );

    // http.response.status_code is a number field: a range finds the user's failed requests.
    const failed = await search({ bool: { filter: [{ term: { 'user.id': user } }, { range: { 'http.response.status_code': { gte: 400 } } }] } });
    assert.deepEqual(new Set(failed.map((h) => field(h._source, 'http.request.id'))), new Set([ids.invalid, ids.notFound]));

    // event.duration is a long: a range on it works, and a sort by it orders numerically.
    const timed = await search({ bool: { filter: [{ prefix: { 'http.request.id': `ls-${run}-` } }, { range: { 'event.duration': { gt: 0 } } }] } });
    assert.equal(timed.length, Object.keys(ids).length);

    // Aggregations (the Kibana dashboard's panels) run on the keyword and numeric fields.
    const agg = await ok('POST', '/ugc-app-*/_search', {
      size: 0,
      query: { prefix: { 'http.request.id': `ls-${run}-` } },
      aggs: {
        status: { terms: { field: 'http.response.status_code', size: 10 } },
        paths: { terms: { field: 'url.path', size: 10 } },
        p95: { percentiles: { field: 'event.duration', percents: [95] } },
      },
    });
    const aggs = agg.aggregations as Record<string, { buckets?: { key: unknown; doc_count: number }[]; values?: Record<string, number> }>;
    assert.deepEqual(
      (aggs.status?.buckets ?? []).map((b) => b.key).sort((a, b) => Number(a) - Number(b)),
      [200, 201, 400, 401, 404],
    );
    assert.deepEqual(
      new Set((aggs.paths?.buckets ?? []).map((b) => b.key)),
      new Set([`/api/v1/films/${film}/like`, `/api/v1/films/${missingFilm}/like`]),
    );
    assert.ok((Object.values(aggs.p95?.values ?? {})[0] ?? 0) > 0, 'p95 of event.duration');
  });

  it('a line that is not JSON is indexed as an error with its text searchable (pipeline: error.type json)', async () => {
    const hits = await search({ match: { message: crashMarker } });
    assert.equal(hits.length, 1);
    const src = (hits[0] as Hit)._source;
    assert.equal(field(src, 'log.level'), 'error');
    assert.equal(field(src, 'error.type'), 'json');
    assert.equal(src.message, `Error: ${crashMarker} before the logger started`);
  });
});
