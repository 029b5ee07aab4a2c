import { resolve } from 'node:path';
import type { LogFormat } from './observability/logger.ts';

/**
 * The only module that reads the environment. Every variable is declared once below with its
 * parser, default and description; `.env.sample` and the README table are checked against this
 * list by a test. Parsing collects every bad variable before failing.
 */
export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

export interface Config {
  server: { host: string; port: number; bodyLimitBytes: number; trustProxy: boolean; shutdownTimeoutMs: number };
  log: { level: string; format: LogFormat };
  dataDir: string;
  eventLog: {
    backend: 'sqlite' | 'kafka';
    /** Embedded log file. */
    path: string;
    maxPendingRecords: number;
    retentionMs: number;
    kafka: {
      brokers: string[];
      clientId: string;
      replicationFactor: number;
      /** min.insync.replicas of created topics with replication factor >= 3. */
      minInsyncReplicas: number;
      timeoutMs: number;
      /** Static consumer-group membership id of this process (unset: dynamic membership). */
      groupInstanceId?: string;
    };
  };
  warehouse: {
    backend: 'chdb' | 'clickhouse';
    /** chDB session directory. */
    path: string;
    database: string;
    migrateOnStart: boolean;
    /** How long an event's (user_id, event_id) is remembered for load-time deduplication, ms. */
    dedupWindowMs: number;
    clickhouse: { url: string; username: string; password: string; cluster: string | undefined };
  };
  store: { backend: 'sqlite' | 'mongodb'; path: string; mongodb: { url: string; database: string } };
  events: { topic: string; dlqTopic: string; partitions: number };
  etl: {
    group: string;
    batchSize: number;
    batchMaxWaitMs: number;
    retryMinMs: number;
    retryMaxMs: number;
    stallAfterMs: number;
    suspectAfterAttempts: number;
    httpPort: number;
  };
  auth: {
    algorithm: JwtAlgorithm;
    /** Unset with HS256: a development secret is generated under the data directory. */
    secret: string | undefined;
    publicKey: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
  };
  rateLimit: { max: number; windowMs: number };
  /** Cross-origin browser calls: `origins` empty means none allowed (no CORS headers at all). */
  cors: { origins: string[] | '*'; credentials: boolean; maxAgeSeconds: number };
  /** The demo page at /demo/ (film grid + video wired with the tracker); off in production. */
  web: { demoPage: boolean };
  sentry: { dsn: string | undefined; environment: string };
}

type Env = Record<string, string | undefined>;

interface VarSpec {
  description: string;
  default?: string;
  parse: (raw: string) => unknown;
  /** A password, a key or a URL that may carry credentials: a bad value is named, never printed. */
  secret?: boolean;
}

class BadValue extends Error {}

const int = (min: number, max: number) => (raw: string) => {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) throw new BadValue(`an integer in ${min}..${max}`);
  return n;
};
const oneOf = (...values: string[]) => (raw: string) => {
  if (!values.includes(raw)) throw new BadValue(`one of ${values.join(', ')}`);
  return raw;
};
const str = (pattern?: RegExp, what = 'a non-empty string') => (raw: string) => {
  if (raw.length === 0 || (pattern && !pattern.test(raw))) throw new BadValue(what);
  return raw;
};
const bool = (raw: string) => {
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new BadValue('true or false');
};
const url = (raw: string) => {
  try {
    return new URL(raw).toString();
  } catch {
    throw new BadValue('an absolute URL');
  }
};
/** `*`, or comma-separated origins exactly as a browser sends them (`https://cinema.example:8443`). */
const origins = (raw: string): string[] | '*' => {
  if (raw.trim() === '*') return '*';
  const list = raw.split(',').map((o) => o.trim()).filter((o) => o.length > 0);
  for (const origin of list) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    // A `*` inside a host (`http://*.example.com`) parses as a host name but never equals a browser's Origin.
    if (parsed === undefined || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin || parsed.hostname.includes('*')) {
      throw new BadValue(`* or comma-separated origins like https://cinema.example (scheme, host and port only, lower case, no path); "${origin}" is not one`);
    }
  }
  if (list.length === 0) throw new BadValue('* or comma-separated origins');
  return list;
};
const topicName = str(/^[a-zA-Z0-9._-]{1,249}$/, 'a topic name matching ^[a-zA-Z0-9._-]{1,249}$');

export const VARIABLES = {
  HOST: {
    description: 'Address the HTTP server listens on: this machine only by default; 0.0.0.0 for every interface (the Docker image sets it).',
    default: '127.0.0.1',
    parse: str(),
  },
  PORT: { description: 'Port the HTTP server listens on (0 picks a free one).', default: '8000', parse: int(0, 65535) },
  LOG_LEVEL: {
    description: 'pino log level.',
    default: 'info',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  },
  LOG_FORMAT: {
    description: 'Log lines: json (ECS, for files and log shippers), pretty (one short line per entry, for a person), or auto: pretty when stdout is a terminal, json otherwise.',
    default: 'auto',
    parse: oneOf('auto', 'pretty', 'json'),
  },
  DATA_DIR: { description: 'Directory of every embedded backend (event log, warehouse, store).', default: './data', parse: str() },
  EVENT_LOG: { description: 'Event log backend: sqlite (embedded) or kafka.', default: 'sqlite', parse: oneOf('sqlite', 'kafka') },
  KAFKA_BROKERS: {
    description: 'Kafka bootstrap brokers, comma-separated host:port.',
    default: '127.0.0.1:9092',
    parse: (raw: string) => {
      const brokers = raw.split(',').map((b) => b.trim()).filter((b) => b.length > 0);
      if (brokers.length === 0 || !brokers.every((b) => /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(b))) {
        throw new BadValue('comma-separated host:port pairs');
      }
      return brokers;
    },
  },
  KAFKA_CLIENT_ID: { description: 'Kafka client id (shows in broker logs and quotas).', default: 'ugc-service', parse: str() },
  KAFKA_REPLICATION_FACTOR: { description: 'Replication factor of the topics the service creates (3 in production).', default: '1', parse: int(1, 32) },
  KAFKA_MIN_INSYNC_REPLICAS: {
    description: 'min.insync.replicas of the topics the service creates with replication factor 3 or more: acks=all then means this many copies.',
    default: '2',
    parse: int(1, 32),
  },
  KAFKA_GROUP_INSTANCE_ID: {
    description: 'Static consumer-group membership (group.instance.id), unique per etl process: a restart within 10 s keeps its partitions without a rebalance.',
    parse: str(/^[A-Za-z0-9._-]{1,200}$/, 'letters, digits, ".", "_" or "-"'),
  },
  KAFKA_TIMEOUT_MS: {
    description: 'Longest wait for a Kafka acknowledgement or connection before the API answers 503.',
    default: '1000',
    parse: int(100, 120_000),
  },
  EVENT_LOG_MAX_PENDING: {
    description: 'Records waiting for the log before new events get 503 + Retry-After.',
    default: '100000',
    parse: int(1, 10_000_000),
  },
  EVENT_LOG_RETENTION_HOURS: { description: 'Embedded log: records older than this are deleted.', default: '168', parse: int(1, 87_600) },
  WAREHOUSE: { description: 'Analytics warehouse backend: chdb (embedded) or clickhouse.', default: 'chdb', parse: oneOf('chdb', 'clickhouse') },
  CLICKHOUSE_URL: { description: 'ClickHouse server HTTP endpoint.', default: 'http://127.0.0.1:8123', parse: url, secret: true },
  CLICKHOUSE_USER: { description: 'ClickHouse user.', default: 'default', parse: str() },
  CLICKHOUSE_PASSWORD: { description: 'ClickHouse password (empty for none).', parse: (raw: string) => raw, secret: true },
  CLICKHOUSE_CLUSTER: {
    description: 'ClickHouse cluster name (remote_servers); set it and migrations create replicated tables behind a Distributed table.',
    parse: str(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/, 'an identifier'),
  },
  WAREHOUSE_MIGRATE_ON_START: { description: 'Apply pending warehouse migrations when a process starts.', default: 'true', parse: bool },
  WAREHOUSE_DEDUP_WINDOW_HOURS: {
    description: 'An event re-sent or replayed this long after it was loaded is still recognised (same user_id and event_id) and not loaded again.',
    default: '48',
    parse: int(24, 24 * 365),
  },
  CLICKHOUSE_DATABASE: { description: 'Warehouse database name.', default: 'ugc', parse: str(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/, 'an identifier') },
  STORE: { description: 'Likes, bookmarks and reviews backend: sqlite (embedded) or mongodb.', default: 'sqlite', parse: oneOf('sqlite', 'mongodb') },
  MONGODB_URL: { description: 'MongoDB connection string.', default: 'mongodb://127.0.0.1:27017', parse: str(/^mongodb(\+srv)?:\/\//, 'a mongodb:// URL'), secret: true },
  MONGODB_DATABASE: { description: 'MongoDB database name.', default: 'ugc', parse: str(/^[^/\\. "$]{1,63}$/, 'a database name') },
  EVENTS_TOPIC: { description: 'Stream (topic) that accepted events are written to.', default: 'ugc.events', parse: topicName },
  EVENTS_DLQ_TOPIC: { description: 'Stream (topic) for records the ETL can never load.', default: 'ugc.events.dlq', parse: topicName },
  EVENTS_TOPIC_PARTITIONS: { description: 'Partitions of the events stream when the service creates it.', default: '4', parse: int(1, 1000) },
  ETL_GROUP: { description: 'Consumer group of the ETL.', default: 'ugc-etl', parse: str() },
  ETL_BATCH_SIZE: { description: 'Records per warehouse insert (the batch is flushed at this size).', default: '5000', parse: int(1, 1_000_000) },
  ETL_BATCH_MAX_WAIT_MS: { description: 'A partial batch is flushed after this long.', default: '1000', parse: int(1, 600_000) },
  ETL_RETRY_MIN_MS: { description: 'First back-off after a failed warehouse insert.', default: '200', parse: int(1, 600_000) },
  ETL_RETRY_MAX_MS: { description: 'Longest back-off between warehouse insert attempts.', default: '30000', parse: int(1, 3_600_000) },
  ETL_STALL_AFTER_MS: {
    description: 'Records waiting this long with nothing loaded meanwhile make the ETL unready (/readyz 503, ugc_etl_stalled 1).',
    default: '60000',
    parse: int(1000, 86_400_000),
  },
  ETL_SUSPECT_AFTER_ATTEMPTS: {
    description: 'Failed inserts of a batch with an unclassified warehouse error, the warehouse answering pings, before the ETL bisects it and dead-letters the rows that still fail.',
    default: '5',
    parse: int(1, 1000),
  },
  ETL_HTTP_PORT: { description: 'Port of the `etl` process’s /healthz, /readyz and /metrics (0 picks a free one).', default: '9464', parse: int(0, 65535) },
  AUTH_JWT_ALGORITHM: { description: 'JWT algorithm accepted: HS256 (secret) or RS256/ES256 (public key or JWKS).', default: 'HS256', parse: oneOf('HS256', 'RS256', 'ES256') },
  AUTH_JWT_SECRET: {
    description: 'HS256 shared secret (at least 32 characters). Unset: a development secret is generated in DATA_DIR.',
    parse: str(/^.{32,}$/s, 'at least 32 characters'),
    secret: true,
  },
  AUTH_JWT_PUBLIC_KEY: { description: 'RS256/ES256 public key, PEM (\\n escapes allowed).', parse: str(/-----BEGIN PUBLIC KEY-----/, 'a PEM public key') },
  AUTH_JWKS_URL: { description: 'RS256/ES256 JWKS URL (instead of AUTH_JWT_PUBLIC_KEY).', parse: url, secret: true },
  AUTH_JWT_ISSUER: { description: 'Required `iss` claim, if set.', parse: str() },
  AUTH_JWT_AUDIENCE: { description: 'Required `aud` claim, if set.', parse: str() },
  BODY_LIMIT_BYTES: { description: 'Largest request body, after gzip decompression.', default: '1048576', parse: int(1024, 100 * 1024 * 1024) },
  RATE_LIMIT_MAX: { description: 'Requests per window per user (or IP when anonymous); 0 disables.', default: '6000', parse: int(0, 10_000_000) },
  RATE_LIMIT_WINDOW_MS: { description: 'Rate limit window.', default: '60000', parse: int(1000, 86_400_000) },
  TRUST_PROXY: { description: 'Trust X-Forwarded-* from the proxy in front (nginx).', default: 'false', parse: bool },
  CORS_ORIGINS: {
    description: 'Origins whose web pages may call the API from a browser (CORS), comma-separated, or * for any. Unset: none.',
    parse: origins,
  },
  CORS_CREDENTIALS: {
    description: 'Send Access-Control-Allow-Credentials (cookies); refused with CORS_ORIGINS=*. The tracker does not need it.',
    default: 'false',
    parse: bool,
  },
  CORS_MAX_AGE_SECONDS: { description: 'How long a browser may cache a CORS preflight answer (Access-Control-Max-Age).', default: '600', parse: int(0, 86_400) },
  DEMO_PAGE: { description: 'Serve the demo page at /demo/ (a film grid and a video wired with the tracker).', default: 'false', parse: bool },
  SENTRY_DSN: { description: 'Sentry DSN; unexpected 5xx and ETL crashes are reported when set.', parse: url, secret: true },
  SENTRY_ENVIRONMENT: { description: 'Sentry environment tag.', default: 'production', parse: str() },
  SHUTDOWN_TIMEOUT_MS: { description: 'Longest graceful shutdown before the process exits anyway.', default: '15000', parse: int(100, 600_000) },
} satisfies Record<string, VarSpec>;

export type VariableName = keyof typeof VARIABLES;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration (fix these in the environment or .env; .env.sample lists every variable):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const values = new Map<string, unknown>();
  for (const [name, spec] of Object.entries(VARIABLES) as [VariableName, VarSpec][]) {
    const raw = env[name] === '' ? undefined : env[name];
    const text = raw ?? spec.default;
    if (text === undefined) continue;
    try {
      values.set(name, spec.parse(text));
    } catch (err) {
      if (!(err instanceof BadValue)) throw err;
      // A secret's value stays out of the message: it ends up in terminals, CI logs and log shippers.
      problems.push(`${name}=${spec.secret ? '(value hidden)' : JSON.stringify(raw)}: expected ${err.message}`);
    }
  }
  const get = <T>(name: VariableName): T => values.get(name) as T;
  const opt = <T>(name: VariableName): T | undefined => values.get(name) as T | undefined;

  const algorithm = get<JwtAlgorithm>('AUTH_JWT_ALGORITHM');
  const publicKey = opt<string>('AUTH_JWT_PUBLIC_KEY')?.replaceAll('\\n', '\n');
  const jwksUrl = opt<string>('AUTH_JWKS_URL');
  if (algorithm !== 'HS256' && algorithm !== undefined && !publicKey === !jwksUrl) {
    problems.push(`AUTH_JWT_PUBLIC_KEY / AUTH_JWKS_URL: ${algorithm} needs exactly one of them`);
  }
  if (get<number>('ETL_RETRY_MIN_MS') > get<number>('ETL_RETRY_MAX_MS')) {
    problems.push('ETL_RETRY_MIN_MS: must not exceed ETL_RETRY_MAX_MS');
  }
  if (get<string>('EVENTS_TOPIC') === get<string>('EVENTS_DLQ_TOPIC')) {
    problems.push('EVENTS_DLQ_TOPIC: must differ from EVENTS_TOPIC');
  }
  if (opt('CORS_ORIGINS') === '*' && get<boolean>('CORS_CREDENTIALS')) {
    problems.push('CORS_CREDENTIALS: must not be true with CORS_ORIGINS=* (browsers refuse credentials for any origin); list the origins');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = resolve(get<string>('DATA_DIR'));
  return {
    server: {
      host: get('HOST'),
      port: get('PORT'),
      bodyLimitBytes: get('BODY_LIMIT_BYTES'),
      trustProxy: get('TRUST_PROXY'),
      shutdownTimeoutMs: get('SHUTDOWN_TIMEOUT_MS'),
    },
    log: { level: get('LOG_LEVEL'), format: get('LOG_FORMAT') },
    dataDir,
    eventLog: {
      backend: get('EVENT_LOG'),
      path: resolve(dataDir, 'event-log.sqlite'),
      maxPendingRecords: get('EVENT_LOG_MAX_PENDING'),
      retentionMs: get<number>('EVENT_LOG_RETENTION_HOURS') * 3_600_000,
      kafka: {
        brokers: get('KAFKA_BROKERS'),
        clientId: get('KAFKA_CLIENT_ID'),
        replicationFactor: get('KAFKA_REPLICATION_FACTOR'),
        minInsyncReplicas: get('KAFKA_MIN_INSYNC_REPLICAS'),
        timeoutMs: get('KAFKA_TIMEOUT_MS'),
        ...(opt('KAFKA_GROUP_INSTANCE_ID') === undefined ? {} : { groupInstanceId: opt<string>('KAFKA_GROUP_INSTANCE_ID') }),
      },
    },
    warehouse: {
      backend: get('WAREHOUSE'),
      path: resolve(dataDir, 'warehouse'),
      database: get('CLICKHOUSE_DATABASE'),
      migrateOnStart: get('WAREHOUSE_MIGRATE_ON_START'),
      dedupWindowMs: get<number>('WAREHOUSE_DEDUP_WINDOW_HOURS') * 3_600_000,
      clickhouse: {
        url: get('CLICKHOUSE_URL'),
        username: get('CLICKHOUSE_USER'),
        password: opt<string>('CLICKHOUSE_PASSWORD') ?? '',
        cluster: opt('CLICKHOUSE_CLUSTER'),
      },
    },
    store: {
      backend: get('STORE'),
      path: resolve(dataDir, 'ugc.sqlite'),
      mongodb: { url: get('MONGODB_URL'), database: get('MONGODB_DATABASE') },
    },
    events: { topic: get('EVENTS_TOPIC'), dlqTopic: get('EVENTS_DLQ_TOPIC'), partitions: get('EVENTS_TOPIC_PARTITIONS') },
    etl: {
      group: get('ETL_GROUP'),
      batchSize: get('ETL_BATCH_SIZE'),
      batchMaxWaitMs: get('ETL_BATCH_MAX_WAIT_MS'),
      retryMinMs: get('ETL_RETRY_MIN_MS'),
      retryMaxMs: get('ETL_RETRY_MAX_MS'),
      stallAfterMs: get('ETL_STALL_AFTER_MS'),
      suspectAfterAttempts: get('ETL_SUSPECT_AFTER_ATTEMPTS'),
      httpPort: get('ETL_HTTP_PORT'),
    },
    auth: {
      algorithm,
      secret: opt('AUTH_JWT_SECRET'),
      publicKey,
      jwksUrl,
      issuer: opt('AUTH_JWT_ISSUER'),
      audience: opt('AUTH_JWT_AUDIENCE'),
    },
    rateLimit: { max: get('RATE_LIMIT_MAX'), windowMs: get('RATE_LIMIT_WINDOW_MS') },
    cors: { origins: opt<string[] | '*'>('CORS_ORIGINS') ?? [], credentials: get('CORS_CREDENTIALS'), maxAgeSeconds: get('CORS_MAX_AGE_SECONDS') },
    web: { demoPage: get('DEMO_PAGE') },
    sentry: { dsn: opt('SENTRY_DSN'), environment: get('SENTRY_ENVIRONMENT') },
  };
}
