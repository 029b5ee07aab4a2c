import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines for machines (Filebeat ships them as they are); pretty only for a person at a
 * terminal. Authorization headers and tokens never reach a log line.
 */
export function createLogger(options: { level: string; name?: string; destination?: pino.DestinationStream }): Logger {
  const pretty = options.destination === undefined && process.stdout.isTTY;
  return pino(
    {
      level: options.level,
      name: options.name ?? 'ugc',
      base: { service: 'ugc-service' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', 'token'], censor: '[redacted]' },
      ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
    },
    options.destination,
  );
}
