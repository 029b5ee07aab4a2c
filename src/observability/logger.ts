import { ecsFormat } from '@elastic/ecs-pino-format';
import { isMainThread } from 'node:worker_threads';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * ECS JSON lines (Elastic Common Schema) so Filebeat ships them as they are and Kibana knows
 * the fields; pretty only for a person at a terminal. Request headers are never logged, and the
 * redaction below is a second guard for tokens that might end up in a logged object.
 */
export function createLogger(options: { level: string; name?: string; destination?: pino.DestinationStream; pretty?: boolean }): Logger {
  // A worker thread's stdout is never a TTY; its creator says whether the process's is.
  const pretty = options.destination === undefined && (options.pretty ?? process.stdout.isTTY);
  const ecs = ecsFormat({ serviceName: 'ugc-service', eventDataset: `ugc.${options.name ?? 'app'}`, convertErr: true, apmIntegration: false });
  return pino(
    {
      ...ecs,
      level: options.level,
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization', '*.authorization', 'token', '*.token'],
        censor: '[redacted]',
      },
      ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', messageKey: 'message' } } } : {}),
    },
    // Asynchronous writes are flushed at exit only on the main thread: a worker writes synchronously.
    pretty ? undefined : (options.destination ?? pino.destination({ dest: 1, sync: !isMainThread })),
  );
}
