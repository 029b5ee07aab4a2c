import * as Sentry from '@sentry/node';

/**
 * Where unexpected failures go: Sentry when `SENTRY_DSN` is set, nowhere otherwise (they are
 * logged either way). Only the unexpected is reported — 5xx the service did not mean to give,
 * ETL crashes — never 4xx or a backend's planned 503.
 */
export interface ErrorContext {
  requestId?: string | undefined;
  userId?: string | undefined;
  route?: string | undefined;
  component?: string | undefined;
}

export interface ErrorReporter {
  capture(err: unknown, context: ErrorContext): void;
  /** Sends what is queued; call before the process exits. */
  flush(timeoutMs: number): Promise<void>;
}

export const noReporter: ErrorReporter = {
  capture: () => undefined,
  flush: () => Promise.resolve(),
};

export function createErrorReporter(options: { dsn: string | undefined; environment: string; release: string }): ErrorReporter {
  if (options.dsn === undefined) return noReporter;
  // Errors only: no performance tracing, and none of the auto-instrumentation that would have
  // to be loaded before every other module.
  Sentry.initWithoutDefaultIntegrations({
    dsn: options.dsn,
    environment: options.environment,
    release: options.release,
    tracesSampleRate: 0,
    integrations: [Sentry.linkedErrorsIntegration(), Sentry.dedupeIntegration()],
  });
  return {
    capture(err, context) {
      Sentry.withScope((scope) => {
        if (context.requestId !== undefined) scope.setTag('request_id', context.requestId);
        if (context.route !== undefined) scope.setTag('route', context.route);
        if (context.component !== undefined) scope.setTag('component', context.component);
        if (context.userId !== undefined) scope.setUser({ id: context.userId });
        Sentry.captureException(err);
      });
    },
    async flush(timeoutMs) {
      await Sentry.flush(timeoutMs);
    },
  };
}
