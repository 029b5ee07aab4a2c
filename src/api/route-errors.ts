import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { TSchema } from 'typebox';
import { problems } from './common.schema.ts';
import { sendProblem } from './errors.ts';

/**
 * The errors any route can answer, documented on every route (OpenAPI tells the truth) and
 * answered alike: 503 while the server closes, 429 from the rate limiter, 400/413/415 from the
 * body parser; and 405 with `Allow` for a known path asked with a method it does not have.
 * Register before the routes: it sees each one through `onRoute`.
 */
interface KnownPath {
  pattern: RegExp;
  methods: Set<string>;
}

function patternOf(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

function documentErrors(route: RouteOptions): void {
  const schema = route.schema as { hide?: boolean; response?: Record<string, TSchema>; body?: unknown; querystring?: unknown; params?: unknown } | undefined;
  if (schema === undefined || schema.hide === true) return;
  const response = (schema.response ??= {});
  const add = (...statuses: number[]) => {
    for (const [status, documented] of Object.entries(problems(...statuses))) response[status] ??= documented;
  };
  if (schema.body !== undefined) add(400, 413, 415);
  if (schema.querystring !== undefined || schema.params !== undefined) add(400);
  const limited = (route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== false;
  if (limited) add(429);
  add(503);
}

export default fp(
  (app: FastifyInstance) => {
    const known: KnownPath[] = [];
    app.addHook('onRoute', (route) => {
      documentErrors(route);
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      let entry = known.find((k) => k.pattern.source === patternOf(route.url).source);
      if (entry === undefined) {
        entry = { pattern: patternOf(route.url), methods: new Set() };
        known.push(entry);
      }
      for (const m of methods) entry.methods.add(m);
    });
    const notFound = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
      const path = request.url.split('?')[0] ?? '';
      const allowed = [...new Set(known.filter((k) => k.pattern.test(path)).flatMap((k) => [...k.methods]))].sort();
      if (allowed.length > 0 && !allowed.includes(request.method)) {
        void reply.header('allow', allowed.join(', '));
        return sendProblem(reply, 405, `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}.`);
      }
      return sendProblem(reply, 404, `No route ${request.method} ${path}.`);
    };
    // Answered in onRequest, before Fastify reads a body: a QUERY or POST to an unknown route
    // would otherwise get the body parser's 400/415 instead of 404/405.
    app.addHook('onRequest', (request, reply, done) => {
      if (!request.is404) return done();
      notFound(request, reply);
    });
    app.setNotFoundHandler(notFound);
  },
  { name: 'route-errors' },
);
