import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController } from 'fastify';
import type { Config } from '../config.ts';
import type { EventLog } from '../ports/event-log.ts';
import type { Lifecycle } from '../ports/lifecycle.ts';
import type { UgcStore } from '../ports/ugc-store.ts';
import type { Warehouse } from '../ports/warehouse.ts';
import type { Logger } from '../observability/logger.ts';
import type { ErrorReporter } from '../observability/error-reporter.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { EtlHealth } from '../pipeline/etl-health.ts';
import { EventsService } from '../services/events.service.ts';
import { UgcService } from '../services/ugc.service.ts';
import accessLog from './access-log.ts';
import analyticsRoutes from './analytics.routes.ts';
import dashboardRoutes from './dashboard.routes.ts';
import insightsRoutes from './insights.routes.ts';
import auth, { BEARER_SCHEME, type JwtVerifier, documentBearer } from './auth.ts';
import beacon from './beacon.ts';
import body from './body.ts';
import { clientErrorHandler } from './client-errors.ts';
import bookmarksRoutes from './bookmarks.routes.ts';
import { Problem } from './common.schema.ts';
import cors from './cors.ts';
import problemDetails, { sendProblem } from './errors.ts';
import eventsRoutes from './events.routes.ts';
import { EventInput } from './events.schema.ts';
import likesRoutes from './likes.routes.ts';
import { API_DESCRIPTION, API_TAGS } from './openapi-info.ts';
import opsRoutes from './ops.routes.ts';
import reviewsRoutes from './reviews.routes.ts';
import routeErrors from './route-errors.ts';
import topicsRoutes from './topics.routes.ts';
import { validatorCompiler } from './validation.ts';
import webRoutes from './web.routes.ts';

export interface ApiDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  verifier: JwtVerifier;
  log: EventLog;
  warehouse: Warehouse;
  store: UgcStore;
  reporter: ErrorReporter;
  /** The health of the ETL running beside the API (`serve`), part of /readyz. */
  etlHealth?: () => Promise<EtlHealth>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export type App = Awaited<ReturnType<typeof buildServer>>;

export async function buildServer(deps: ApiDeps) {
  const { config, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    // One ECS access-log line per request (below) instead of Fastify's two plain ones.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'http.request.id' }),
    forceCloseConnections: 'idle',
    clientErrorHandler: clientErrorHandler(deps.logger),
    // A path parameter of 64 characters (a user id) is up to 768 once percent-encoded.
    routerOptions: { maxParamLength: 1024 },
    // Errors of the router (a malformed or too long URL) leave as Problem Details too.
    frameworkErrors: (err, request, reply) => {
      void reply.header('x-request-id', request.id);
      const detail = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long.' : 'The URL is malformed.';
      void sendProblem(reply, 400, detail);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler());
  app.addSchema(Problem);
  app.addSchema(EventInput);

  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  await app.register(accessLog, { metrics });

  await app.register(problemDetails, { reporter: deps.reporter });
  // Before route-errors: its 404/405 answers (in onRequest) carry the CORS headers too.
  await app.register(cors, { cors: config.cors });
  await app.register(routeErrors);
  // Before the body rules: they see a beacon's text/plain already as the JSON it is.
  await app.register(beacon, { verifier: deps.verifier });
  await app.register(body);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'UGC Service', version: '1.0.0', description: API_DESCRIPTION },
      tags: API_TAGS,
      components: { securitySchemes: { bearer: BEARER_SCHEME } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, () => app.swagger());

  if (config.rateLimit.max > 0) {
    await app.register(rateLimit, {
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowMs,
      // onRequest (per route, so after `authenticate`): requests later refused for their
      // credentials, media type or body count against the caller too, per IP when anonymous.
      hook: 'onRequest',
      keyGenerator: (request) => (request.principal ? `user:${request.principal.userId}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        message: `Too many requests; retry in ${Math.ceil(context.ttl / 1000)} s.`,
      }),
    });
  }

  const dependencies: Record<string, Lifecycle> = { event_log: deps.log, warehouse: deps.warehouse, store: deps.store };
  await app.register(opsRoutes, { dependencies, metrics, etl: deps.etlHealth });
  await app.register(webRoutes, { demoPage: config.web.demoPage, dataDir: config.dataDir });
  await app.register(dashboardRoutes);

  const ugc = new UgcService(deps.store);
  const events = new EventsService({ log: deps.log, metrics }, config.events.topic);
  await app.register(
    async (v1) => {
      await v1.register(auth, { verifier: deps.verifier });
      v1.addHook('onRoute', documentBearer);
      v1.addHook('onRequest', v1.authenticate);
      v1.addHook('preParsing', v1.requireAuthenticated);
      await v1.register(eventsRoutes, { events });
      await v1.register(likesRoutes, { ugc });
      await v1.register(bookmarksRoutes, { ugc });
      await v1.register(reviewsRoutes, { ugc });
      await v1.register(topicsRoutes, {
        log: deps.log,
        defaultPartitions: config.events.partitions,
        ownStreams: [config.events.topic, config.events.dlqTopic],
      });
      await v1.register(analyticsRoutes, { warehouse: deps.warehouse });
      await v1.register(insightsRoutes, { warehouse: deps.warehouse });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
