import { ecsFormat } from '@elastic/ecs-pino-format';
import { isMainThread } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { consoleLine } from './console-line.ts';

export type { Logger };

/** `LOG_FORMAT`: `auto` is `pretty` when stdout is a terminal and `json` otherwise (a file, a pipe, a container's log). */
export type LogFormat = 'auto' | 'pretty' | 'json';

/** Whether a process whose stdout is (`isTTY`) or is not a terminal writes pretty lines under `format`. */
export function isPretty(format: LogFormat, isTTY: boolean | undefined): boolean {
  return format === 'pretty' || (format === 'auto' && isTTY === true);
}

const REDACT = {
  paths: ['req.headers.authorization', 'headers.authorization', 'authorization', '*.authorization', 'token', '*.token'],
  censor: '[redacted]',
};

/**
 * JSON: ECS lines (Elastic Common Schema) so Filebeat ships them as they are and Kibana knows the
 * fields. Pretty: one line per entry for a person at a terminal (`[12:00:01.234] INFO: message
 * key=value`, see `consoleLine`), colored when `colorize`. Request headers are never logged, and
 * the redaction is a second guard for tokens that might end up in a logged object.
 *
 * `destination` defaults to stdout (written synchronously on a worker thread, whose asynchronous
 * writes would not be flushed at exit); `pretty` defaults to false: the caller decides with
 * `isPretty`, because a worker thread's stdout is never a TTY.
 */
export function createLogger(options: { level: string; name?: string; destination?: pino.DestinationStream; pretty?: boolean; colorize?: boolean }): Logger {
  if (options.pretty) {
    const stream = pretty({
      destination: options.destination ?? 1,
      sync: !isMainThread,
      colorize: options.colorize ?? false,
      translateTime: 'SYS:HH:MM:ss.l',
      hideObject: true,
      ignore: 'pid,hostname',
      messageFormat: (entry, messageKey) => consoleLine(entry, messageKey),
    });
    return pino({ level: options.level, redact: REDACT }, stream);
  }
  const ecs = ecsFormat({ serviceName: 'ugc-service', eventDataset: `ugc.${options.name ?? 'app'}`, convertErr: true, apmIntegration: false });
  return pino({ ...ecs, level: options.level, redact: REDACT }, options.destination ?? pino.destination({ dest: 1, sync: !isMainThread }));
}
