import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { STORABLE_MAX_MS } from '../../src/domain/time.ts';
import { normalizeEvents, type EventInput } from '../../src/domain/events.ts';
import { API_DOCS, API_DOCS_GENERATOR } from '../../scripts/api-docs.ts';
import { type OpenApiDocument, renderApiMarkdown } from '../../scripts/openapi-markdown.ts';
import { type TestApp, buildTestApp } from '../helpers/app.ts';

interface Media {
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; example?: string; schema: { format?: string; examples?: string[] } }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description?: string }>;
}
interface SecurityScheme {
  type: string;
  scheme?: string;
  description?: string;
}
interface OpenApi {
  info: { description?: string };
  security?: unknown;
  components: { securitySchemes: Record<string, SecurityScheme> };
  paths: Record<string, Record<string, Operation>>;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);

/**
 * What the docs page (`/docs`, Swagger UI) does with the OpenAPI document: after "Authorize",
 * "Try it out" sends the credential of each scheme the operation requires — for an HTTP bearer
 * scheme, `Authorization: Bearer <token>` — and nothing for an operation that requires none.
 */
function headersOf(doc: OpenApi, op: Operation, token: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const requirement of op.security ?? (doc.security as Operation['security']) ?? []) {
    for (const name of Object.keys(requirement)) {
      const scheme = doc.components.securitySchemes[name];
      if (scheme?.type === 'http' && scheme.scheme?.toLowerCase() === 'bearer') headers.authorization = `Bearer ${token}`;
    }
  }
  return headers;
}

/** The URL "Try it out" builds for `path`: each path parameter filled with its example, else a value of its format. */
function urlOf(path: string, op: Operation): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const param = op.parameters?.find((p) => p.in === 'path' && p.name === name);
    return encodeURIComponent(param?.schema.examples?.[0] ?? (param?.schema.format === 'uuid' ? randomUUID() : 'user_123'));
  });
}

/** The body "Try it out" pre-fills: the JSON media type's `example`, else the first of its `examples`. */
function prefilledBody(op: Operation): unknown {
  const media = op.requestBody?.content['application/json'];
  return media?.example ?? Object.values(media?.examples ?? {})[0]?.value;
}

const isAdminOnly = (op: Operation) => /\*\*Admin only\*\*/.test(op.description ?? '');

describe('the OpenAPI document behind /docs', () => {
  let t: TestApp;
  let doc: OpenApi;
  let ops: { method: string; path: string; op: Operation }[];
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_MAX: '0' });
    doc = (await t.app.inject('/openapi.json')).json<OpenApi>();
    ops = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod)
        .filter(([method]) => METHODS.has(method))
        .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );
  });
  after(() => t.close());

  it('requires the bearer scheme on every /api/v1 operation and on nothing else', () => {
    assert.deepEqual(doc.components.securitySchemes.bearer, { ...doc.components.securitySchemes.bearer, type: 'http', scheme: 'bearer' });
    assert.equal(doc.security, undefined, 'no global requirement: the operations routes need no token');
    const api = ops.filter((o) => o.path.startsWith('/api/v1/'));
    assert.ok(api.length >= 27, `${api.length} /api/v1 operations`);
    for (const { method, path, op } of api) assert.deepEqual(op.security, [{ bearer: [] }], `${method} ${path} requires the bearer token`);
    const open = ops.filter((o) => !o.path.startsWith('/api/v1/')).map((o) => `${o.method} ${o.path}`);
    assert.deepEqual(open.sort(), ['GET /healthz', 'GET /metrics', 'GET /readyz']);
    for (const { path, op } of ops.filter((o) => !o.path.startsWith('/api/v1/'))) assert.equal(op.security, undefined, `${path} needs no token`);
  });

  it('tells how to get a token, on the page and in the Authorize dialog', () => {
    for (const text of [doc.info.description, doc.components.securitySchemes.bearer?.description]) {
      assert.match(text ?? '', /`npm run token -- --user user_123`/);
      assert.match(text ?? '', /--admin/);
    }
  });

  it('names every response of every operation (no "Default Response")', () => {
    for (const { method, path, op } of ops) {
      for (const [status, response] of Object.entries(op.responses)) {
        assert.ok(response.description && response.description !== 'Default Response', `${method} ${path} ${status} has a name: ${response.description}`);
      }
      assert.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path} documents its success`);
    }
  });

  it('marks exactly the operations that refuse a non-admin token as admin only', async () => {
    const user = await t.auth('docs-user');
    for (const { method, path, op } of ops.filter((o) => o.path.startsWith('/api/v1/'))) {
      const res = await t.app.inject({ method: method as 'GET', url: urlOf(path, op), headers: user });
      const refused = res.statusCode === 403 && /administrators/.test(res.body);
      assert.equal(/\*\*Admin only\*\*/.test(op.description ?? ''), refused, `${method} ${path}: answered ${res.statusCode}, description "${op.description}"`);
      if (refused) assert.equal(op.responses['403']?.description, 'The token lacks the `admin` role');
    }
  });

  it('lets a call with the token sent as the docs page sends it through, and answers 401 without it', async () => {
    const user = (await t.auth('docs-user')).authorization.slice('Bearer '.length);
    const admin = (await t.auth('docs-admin', { admin: true })).authorization.slice('Bearer '.length);
    const reads = ops.filter((o) => o.path.startsWith('/api/v1/') && o.method === 'GET');
    assert.ok(reads.length >= 14);
    for (const { path, op } of reads) {
      const url = urlOf(path, op);
      const token = /\*\*Admin only\*\*/.test(op.description ?? '') ? admin : user;
      const res = await t.app.inject({ method: 'GET', url, headers: headersOf(doc, op, token) });
      // A film nobody rated, a review that does not exist: the token was accepted, the thing is absent.
      const expected = /\{(film_id|id)\}\/?(like|$)/.test(path) && path !== '/api/v1/films/{film_id}/likes/summary' ? 404 : 200;
      assert.equal(res.statusCode, expected, `GET ${url} with the token: ${res.body}`);
      assert.equal((await t.app.inject({ method: 'GET', url })).statusCode, 401, `GET ${url} without it`);
    }
  });

  it('pre-fills every request body with an example the service accepts', async () => {
    const tokens = {
      user: await t.auth('docs-author'),
      // Nobody votes on their own review: the vote is another user's.
      voter: await t.auth('docs-voter'),
      admin: await t.auth('docs-admin', { admin: true }),
    };
    // A collection before its members (POST /topics before /topics/{name}/messages); an `{id}`
    // is one the service answered on a POST to the collection it names, as a user would copy it.
    const withBody = ops.filter((o) => o.op.requestBody).sort((a, b) => Number(a.path.includes('{id}')) - Number(b.path.includes('{id}')) || a.path.length - b.path.length);
    assert.ok(withBody.length >= 8, `${withBody.length} operations with a body`);
    const created: Record<string, string> = {};
    for (const { method, path, op } of withBody) {
      const body = prefilledBody(op);
      assert.ok(body !== undefined, `${method} ${path} has an example body`);
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => {
        if (name === 'id') {
          const collection = /\/api\/v1\/(\w+)\/\{id\}/.exec(path)?.[1] ?? '';
          assert.ok(created[collection], `${method} ${path}: something was created in ${collection} first`);
          return created[collection];
        }
        const example = op.parameters?.find((p) => p.in === 'path' && p.name === name)?.example;
        assert.ok(example, `${method} ${path}: the parameter ${name} has an example`);
        return encodeURIComponent(example);
      });
      const token = isAdminOnly(op) ? tokens.admin : path.endsWith('/vote') ? tokens.voter : tokens.user;
      const res = await t.app.inject({ method: method as 'POST', url, headers: token, payload: body as object });
      assert.ok(res.statusCode >= 200 && res.statusCode < 300, `${method} ${url} with ${JSON.stringify(body)}: ${res.statusCode} ${res.body}`);
      const id = res.body ? (res.json<{ id?: unknown }>().id) : undefined;
      if (method === 'POST' && typeof id === 'string') created[path.split('/').at(-1) ?? ''] = id;
    }
  });

  it('pre-fills events that are accepted whenever they are sent, and stored as of just before they arrive', () => {
    const op = ops.find((o) => o.method === 'POST' && o.path === '/api/v1/events')?.op;
    const body = op && (prefilledBody(op) as { sent_at?: string; events?: EventInput[] });
    assert.ok(body?.sent_at && body.events && body.events.length >= 2, 'a batch with sent_at');
    assert.deepEqual(new Set(body.events.map((e) => e.type)), new Set(['click', 'view']));
    const events = body.events;
    const sentAt = body.sent_at;
    fc.assert(
      fc.property(fc.integer({ min: Date.now(), max: STORABLE_MAX_MS }), (received) => {
        const result = normalizeEvents(events, { userId: 'u', receivedAt: new Date(received), sentAt, pathOf: (i) => `/events/${i}` });
        assert.ok(result.ok, JSON.stringify(result));
        for (const message of result.messages) {
          for (const time of [message.occurred_at, message.started_at, message.ended_at]) {
            if (time === null) continue;
            const ms = Date.parse(time);
            assert.ok(ms <= received && ms >= received - 10 * 60_000, `${time} is within 10 min before ${new Date(received).toISOString()}`);
          }
        }
      }),
    );
  });

  it('sends GET and HEAD / to the docs page', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await t.app.inject({ method, url: '/' });
      assert.equal(res.statusCode, 302, method);
      assert.equal(res.headers.location, '/docs');
    }
    const page = await t.app.inject('/docs');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger-ui/i);
  });

  it('is what docs/api.md, the contract in the repository, says', () => {
    const fresh = renderApiMarkdown(doc as unknown as OpenApiDocument, API_DOCS_GENERATOR);
    const committed = readFileSync(API_DOCS, 'utf8');
    // Compared line by line first: the message names the first line that differs.
    const [a, b] = [committed.split('\n'), fresh.split('\n')];
    const line = a.findIndex((l, i) => l !== b[i]);
    assert.ok(
      committed === fresh,
      `docs/api.md differs from /openapi.json (line ${line + 1}: ${JSON.stringify(a[line])} ≠ ${JSON.stringify(b[line])}); run \`npm run docs:api\` and commit it`,
    );
    for (const { method, path } of ops) assert.ok(committed.includes(`### \`${method} ${path}\``), `docs/api.md has ${method} ${path}`);
    for (const { method, path, op } of ops.filter((o) => o.op.requestBody)) {
      assert.ok(committed.includes(`\`\`\`json\n${JSON.stringify(prefilledBody(op), null, 2)}\n\`\`\``), `docs/api.md shows the example body of ${method} ${path}`);
    }
  });
});
