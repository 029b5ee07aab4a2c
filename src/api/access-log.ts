import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../observability/metrics.ts';

const EVENTS_ROUTE = '/api/v1/events';

/**
 * Probes and scrapes: a load balancer, an orchestrator and Prometheus call them every few
 * seconds, and at `info` their lines would bury every real request. They are logged at `debug`.
 */
export const QUIET_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * After each response: the HTTP metrics, and one ECS access-log line (instead of Fastify's two
 * plain ones) with method, path, status, duration in nanoseconds (`event.duration`), route and
 * client; at `debug` for the `QUIET_ROUTES`, at `info` for the rest.
 */
export default fp(
  (app: FastifyInstance, opts: { metrics: Metrics }) => {
    const { metrics } = opts;
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
      if (route === EVENTS_ROUTE && reply.statusCode >= 400) metrics.eventRequestsRejected.inc({ status: String(reply.statusCode) });
      const fields = {
        'event.kind': 'event',
        'event.category': 'web',
        'event.duration': Math.round(reply.elapsedTime * 1e6),
        'http.request.method': request.method,
        'http.response.status_code': reply.statusCode,
        'url.path': request.url.split('?')[0],
        'ugc.route': route,
        'client.ip': request.ip,
        'user_agent.original': request.headers['user-agent'],
      };
      if (QUIET_ROUTES.has(route)) request.log.debug(fields, 'request completed');
      else request.log.info(fields, 'request completed');
      done();
    });
  },
  { name: 'access-log' },
);
