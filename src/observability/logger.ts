import { ecsFormat } from '@elastic/ecs-pino-format';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * ECS JSON lines (Elastic Common Schema) so Filebeat ships them as they are and Kibana knows
 * the fields; pretty only for a person at a terminal. Request headers are never logged, and the
 * redaction below is a second guard for tokens that might end up in a logged object.
 */
export function createLogger(options: { level: string; name?: string; destination?: pino.DestinationStream }): Logger {
  const pretty = options.destination === undefined && process.stdout.isTTY;
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
    pretty ? undefined : (options.destination ?? pino.destination(1)),
  );
}
