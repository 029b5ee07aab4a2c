import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Lifecycle } from '../ports/lifecycle.ts';
import type { Metrics } from '../observability/metrics.ts';

const PING_TIMEOUT_MS = 1000;

const Dependency = Type.Object({ status: Type.Union([Type.Literal('up'), Type.Literal('down')]), error: Type.Optional(Type.String()) });
const Readiness = Type.Object({ status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]), dependencies: Type.Record(Type.String(), Dependency) });

async function probe(backend: Lifecycle): Promise<{ status: 'up' | 'down'; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
  });
  try {
    await Promise.race([backend.ping(), timeout]);
    return { status: 'up' };
  } catch (err) {
    // The class and our own message only: backend messages may carry hosts or credentials.
    return { status: 'down', error: err instanceof Error ? `${err.name}` : 'error' };
  } finally {
    clearTimeout(timer);
  }
}

/** Health, readiness and metrics: no authentication, no rate limit. */
const ops: FastifyPluginAsyncTypebox<{ dependencies: Record<string, Lifecycle>; metrics: Metrics }> = (app, { dependencies, metrics }) => {
  const tags = ['operations'];
  const config = { rateLimit: false };

  app.get('/healthz', { config, schema: { tags, summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    { config, schema: { tags, summary: 'Readiness: every backend answers', response: { 200: Readiness, 503: Readiness } } },
    async (_request, reply) => {
      const names = Object.keys(dependencies);
      const results = await Promise.all(Object.values(dependencies).map(probe));
      const deps = Object.fromEntries(names.map((n, i) => [n, results[i] ?? { status: 'down' as const }]));
      const ready = results.every((r) => r.status === 'up');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', dependencies: deps });
    },
  );

  const exposition = { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } };
  app.get('/metrics', { config, schema: { tags, summary: 'Prometheus metrics', response: { 200: exposition } } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.exposition()),
  );
  return Promise.resolve();
};

export default ops;
