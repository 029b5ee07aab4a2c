import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { mintToken } from '../src/api/auth.ts';
import { normalizeEvents } from '../src/domain/events.ts';
import type { Bench } from './lib/bench.ts';
import { batchBody, eventInputs, seeded } from './lib/events.ts';
import { load } from './lib/http-load.ts';
import { type Child, freePort, spawnNode, tempDir, waitForHttp } from './lib/processes.ts';
import { type Table, fmt, percent, percentiles, round } from './lib/report.ts';

/**
 * HTTP ingestion in Kafka mode beside Kafka's own producer. The real `api` (`node src/main.ts
 * api`, EVENT_LOG=kafka: idempotent producer, acks=all, zstd) on the broker of KAFKA_BROKERS,
 * loaded over 32 keep-alive connections; the ceiling is `org.apache.kafka.tools.ProducerPerformance`
 * from the installed jars (scripts/engines/kafka.sh run-class) on the same broker with the same
 * acks, compression and record size (the mean size of a record our api writes). Sides alternate
 * round by round. Two cases: 100-event POSTs against the tool's default batching, and 1-event
 * POSTs against the tool with one record per request and one request in flight
 * (batch.size=0, max.in.flight=1): one record per round trip.
 */
const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const KAFKA_SH = new URL('../scripts/engines/kafka.sh', import.meta.url).pathname;
const run = promisify(execFile);

const CONNECTIONS = 32;
const ROUNDS = 3;
const WARMUP_MS = 1000;
const DURATION_MS = 3000;
const USERS = 256;

interface Case {
  label: string;
  events: number;
  /** ProducerPerformance producer properties beyond acks/compression. */
  toolProps: string[];
  /** Records the tool sends per round (about DURATION_MS of work on this host). */
  toolRecords: number;
}

const CASES: Case[] = [
  { label: 'POST 100 events', events: 100, toolProps: ['linger.ms=5'], toolRecords: 600_000 },
  { label: 'POST 1 event', events: 1, toolProps: ['batch.size=0', 'linger.ms=0', 'max.in.flight.requests.per.connection=1'], toolRecords: 8_000 },
];

/** Records/s the tool reports on its summary line ("N records sent, X records/sec (...)"). */
async function producerPerformance(brokers: string, topic: string, records: number, size: number, props: string[]): Promise<number> {
  const { stdout } = await run(
    'bash',
    [KAFKA_SH, 'run-class', 'org.apache.kafka.tools.ProducerPerformance', '--topic', topic, '--num-records', String(records), '--record-size', String(size), '--throughput', '-1', '--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'enable.idempotence=true', 'compression.type=zstd', ...props],
    { maxBuffer: 10_000_000, timeout: 300_000 },
  );
  const summary = stdout.trim().split('\n').at(-1) ?? '';
  const match = /records sent, ([\d.]+) records\/sec/.exec(summary);
  if (!match?.[1]) throw new Error(`ProducerPerformance printed no summary:\n${stdout.slice(-2000)}`);
  return Number(match[1]);
}

async function startApi(brokers: string, topic: string, secret: string, logLevel: string): Promise<{ origin: string; child: Child }> {
  const dataDir = await tempDir('ugc-bench-kafka-');
  const port = await freePort();
  const child = spawnNode([MAIN, 'api'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: logLevel,
      DATA_DIR: dataDir,
      AUTH_JWT_SECRET: secret,
      EVENT_LOG: 'kafka',
      KAFKA_BROKERS: brokers,
      EVENTS_TOPIC: topic,
      EVENTS_DLQ_TOPIC: `${topic}.dlq`,
      RATE_LIMIT_MAX: '0',
    },
    cwd: dataDir,
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/readyz`, child, 60_000);
  return { origin, child };
}

const median = (values: number[]) => percentiles(values, [50])[0] ?? Number.NaN;

export const kafkaIngest: Bench = {
  name: 'kafka-ingest',
  summary: 'POST /api/v1/events on `api` with EVENT_LOG=kafka vs Kafka’s ProducerPerformance on the same broker (needs KAFKA_BROKERS)',
  requires: 'KAFKA_BROKERS',
  async run(options) {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('kafka-ingest needs KAFKA_BROKERS (npm run engines:up; set -a; . ~/.cache/ugc-engines/run/engines.env)');
    const secret = randomBytes(32).toString('hex');
    const now = Date.now();
    const random = seeded(1);
    const tokens = await Promise.all(Array.from({ length: USERS }, (_, u) => mintToken({ secret, userId: `bench_user_${u}`, admin: false, ttlSeconds: 3600 })));
    const bodies = new Map(CASES.map((c) => [c.label, Array.from({ length: 64 }, () => batchBody(eventInputs(c.events, random, now), now))]));
    // The tool's record size: the mean size of the records our api writes for these events.
    const sample = normalizeEvents(eventInputs(1000, seeded(2), now), { userId: 'bench_user_0', receivedAt: new Date(now), pathOf: (i) => `/events/${i}` });
    if (!sample.ok) throw new Error('fixture events are invalid');
    const recordSize = Math.round(sample.messages.reduce((n, m) => n + Buffer.byteLength(JSON.stringify(m)), 0) / sample.messages.length);

    const topic = `bench.${randomBytes(4).toString('hex')}`;
    const toolTopic = `${topic}.tool`;
    const api = await startApi(brokers, topic, secret, options.logLevel);
    const rows: Table['rows'] = [];
    const figures: Record<string, number> = { record_size_bytes: recordSize };
    try {
      // Same partitions and replication as the service's topic (the api created it at start).
      await run('bash', [KAFKA_SH, 'topics', '--create', '--topic', toolTopic, '--partitions', '4', '--replication-factor', '1'], { timeout: 120_000 });
      for (const c of CASES) {
        if (options.only !== undefined && !c.label.includes(options.only)) continue;
        const ours: number[] = [];
        const tool: number[] = [];
        const list = bodies.get(c.label) ?? [];
        for (let r = 0; r < ROUNDS; r++) {
          const sides = r % 2 === 0 ? ['api', 'tool'] : ['tool', 'api'];
          for (const side of sides) {
            if (side === 'tool') {
              tool.push(await producerPerformance(brokers, toolTopic, c.toolRecords, recordSize, c.toolProps));
              continue;
            }
            const result = await load({
              origin: api.origin,
              method: 'POST',
              path: '/api/v1/events',
              connections: CONNECTIONS,
              warmupMs: WARMUP_MS,
              durationMs: DURATION_MS,
              headers: (i) => ({ authorization: `Bearer ${tokens[i % USERS] ?? ''}` }),
              body: (i) => list[i % list.length] ?? Buffer.alloc(0),
            });
            if (result.failures > 0) console.warn(`kafka-ingest ${c.label}: ${result.failures} failed requests (${JSON.stringify(result.statuses)})`);
            ours.push((result.requestsPerSecond - result.failures / (DURATION_MS / 1000)) * c.events);
          }
        }
        const events = median(ours);
        const records = median(tool);
        rows.push({
          case: c.label,
          'api events/s': round(events),
          'min–max': `${fmt(round(Math.min(...ours)))}–${fmt(round(Math.max(...ours)))}`,
          'ProducerPerformance records/s': round(records),
          'tool min–max': `${fmt(round(Math.min(...tool)))}–${fmt(round(Math.max(...tool)))}`,
          'api / tool': percent(events / records),
        });
        const key = c.events === 1 ? 'post1' : 'post100';
        figures[`${key}_events_per_s`] = round(events);
        figures[`${key}_tool_records_per_s`] = round(records);
        figures[`${key}_ratio_to_tool`] = round(events / records, 3);
      }
    } finally {
      await api.child.stop();
      await run('bash', [KAFKA_SH, 'topics', '--delete', '--topic', toolTopic], { timeout: 120_000 }).catch(() => undefined);
      await run('bash', [KAFKA_SH, 'topics', '--delete', '--topic', `${topic}|${topic}.dlq`], { timeout: 120_000 }).catch(() => undefined);
    }
    return {
      tables: [{ title: `kafka-ingest: ${CONNECTIONS} connections; median of ${ROUNDS} alternating rounds (api ${DURATION_MS / 1000} s each)`, columns: ['case', 'api events/s', 'min–max', 'ProducerPerformance records/s', 'tool min–max', 'api / tool'], rows }],
      figures,
      notes: [
        `broker ${brokers}; acks=all, idempotent, zstd on both sides; tool records of ${recordSize} B (the mean record our api writes); api events/s counts 202s only`,
        'POST 1 event vs the tool with batch.size=0, linger.ms=0, max.in.flight=1: one record per round trip',
      ],
    };
  },
};
