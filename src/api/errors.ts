import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  AppError,
  ConflictError,
  ForbiddenError,
  type FieldError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from '../domain/errors.ts';
import type { ErrorReporter } from '../observability/error-reporter.ts';

/**
 * Every error leaves as RFC 9457 Problem Details. 4xx say what was wrong; 5xx say only that
 * something failed and which request it was (the log has the rest).
 */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  request_id?: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The Problem Details body of `status`. */
export function problemBody(status: number, requestId: string, detail?: string, errors?: FieldError[]): ProblemBody {
  const title = TITLES[status] ?? 'Error';
  return {
    type: `https://ugc.example/problems/${title.toLowerCase().replaceAll(' ', '-')}`,
    title,
    status,
    request_id: requestId,
    ...(detail === undefined ? {} : { detail }),
    ...(errors === undefined ? {} : { errors }),
  };
}

export function sendProblem(reply: FastifyReply, status: number, detail?: string, errors?: FieldError[]): FastifyReply {
  return reply.code(status).type('application/problem+json').send(problemBody(status, reply.request.id, detail, errors));
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Ajv errors → `{path, message}` JSON Pointers into the part that was invalid. */
export function fieldErrors(validation: readonly AjvError[], context: string | undefined): FieldError[] {
  const prefix = context === undefined || context === 'body' ? '' : `/${context === 'querystring' ? 'query' : context}`;
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of validation) {
    // `if` only says "the then/else branch failed"; that branch's own errors follow.
    if (e.keyword === 'if') continue;
    let path = prefix + e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      path += `/${String(e.params.missingProperty)}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      path += `/${String(e.params.additionalProperty)}`;
      message = 'is not an allowed field';
    }
    const key = `${path}\0${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path: path || '/', message });
    }
  }
  return out;
}

function appErrorStatus(err: AppError): number {
  if (err instanceof ValidationError) return 400;
  if (err instanceof UnauthorizedError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof UnavailableError) return 503;
  return 500;
}

function unexpected(reporter: ErrorReporter, err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  request.log.error({ err }, 'request failed');
  reporter.capture(err, { requestId: request.id, userId: request.principal?.userId, route: request.routeOptions.url });
  return sendProblem(reply, 500, 'The request failed; quote the request id when reporting it.');
}

function handleError(reporter: ErrorReporter, err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err.validation) {
    return sendProblem(reply, 400, `Invalid ${err.validationContext ?? 'request'}.`, fieldErrors(err.validation, err.validationContext));
  }
  if (err instanceof AppError) {
    const status = appErrorStatus(err);
    if (err instanceof UnavailableError) {
      request.log.warn({ err }, 'backend unavailable');
      void reply.header('retry-after', String(err.retryAfterSeconds));
      return sendProblem(reply, 503, 'A backend is unavailable; retry later.');
    }
    if (status === 500) return unexpected(reporter, err, request, reply);
    if (status === 401) void reply.header('www-authenticate', 'Bearer');
    return sendProblem(reply, status, err.message, err instanceof ValidationError ? err.errors : undefined);
  }
  // Fastify's own errors: bad JSON, body too large, wrong media type, rate limit.
  if (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR') return sendProblem(reply, 400, 'The gzip body is corrupt.');
  const status = err.statusCode ?? 500;
  if (status >= 500) return unexpected(reporter, err, request, reply);
  return sendProblem(reply, status, err.message);
}

export default fp(
  (app: FastifyInstance, opts: { reporter: ErrorReporter }) => {
    app.setErrorHandler((err: FastifyError, request, reply) => handleError(opts.reporter, err, request, reply));
  },
  { name: 'problem-details' },
);
