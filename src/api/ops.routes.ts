import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { answer } from './common.schema.ts';
import type { Lifecycle } from '../ports/lifecycle.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { EtlHealth } from '../pipeline/etl-health.ts';

const PING_TIMEOUT_MS = 1000;

const Dependency = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  error: Type.Optional(Type.String()),
  /** The ETL's entry only: how old its oldest unloaded record is, and when it last loaded. */
  oldest_unloaded_age_ms: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  last_load_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
});
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

type DependencyStatus = { status: 'up' | 'down'; error?: string; oldest_unloaded_age_ms?: number | null; last_load_at?: string | null };

/** The ETL (in this process or its thread) as a dependency: down, with the reason, while it is stalled. */
async function probeEtl(health: () => Promise<EtlHealth>): Promise<DependencyStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the ETL did not answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
  });
  try {
    const h = await Promise.race([health(), timeout]);
    const details = { oldest_unloaded_age_ms: h.oldestUnloadedAgeMs, last_load_at: h.lastLoadAt === null ? null : new Date(h.lastLoadAt).toISOString() };
    // The reason is the ETL's own sentence (stream names, durations), written for operators.
    return h.ready ? { status: 'up', ...details } : { status: 'down', error: h.reason ?? 'not ready', ...details };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : 'error' };
  } finally {
    clearTimeout(timer);
  }
}

export interface OpsOptions {
  dependencies: Record<string, Lifecycle>;
  metrics: Metrics;
  /** The ETL's health, where this process runs one (`etl`, and `serve` through its thread). */
  etl?: (() => Promise<EtlHealth>) | undefined;
}

/** Health, readiness and metrics: no authentication, no rate limit. */
const ops: FastifyPluginAsyncTypebox<OpsOptions> = (app, { dependencies, metrics, etl }) => {
  const tags = ['operations'];
  const config = { rateLimit: false };

  app.get('/healthz', { config, schema: { tags, summary: 'Liveness', response: { 200: answer('The process is alive', Type.Object({ status: Type.Literal('ok') })) } } }, () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    { config, schema: { tags, summary: 'Readiness: every backend answers', response: { 200: answer('Every dependency answers', Readiness), 503: answer('A dependency is down; its `error` says why', Readiness) } } },
    async (_request, reply) => {
      const names = [...Object.keys(dependencies), ...(etl ? ['etl'] : [])];
      const results: DependencyStatus[] = await Promise.all([...Object.values(dependencies).map(probe), ...(etl ? [probeEtl(etl)] : [])]);
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
