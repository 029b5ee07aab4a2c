import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { mintToken } from '../src/api/auth.ts';
import { type Bench, type BenchOptions, PROFILE_DIR } from './lib/bench.ts';
import { batchBody, eventInputs, seeded } from './lib/events.ts';
import { type LoadOptions, type LoadResult, load } from './lib/http-load.ts';
import { type Child, freePort, spawnNode, tempDir, waitForHttp } from './lib/processes.ts';
import { HostCpu, type Table, fmt, ownCpuSeconds, percent, percentiles, processCpuSeconds, round } from './lib/report.ts';

/**
 * HTTP ingestion end to end on the embedded default: the real service (`node src/main.ts serve`,
 * API + ETL in one process, SQLite log with synchronous=FULL, chDB) in a child process, loaded
 * over keep-alive connections. Ceilings from the same run and client: the service's cheapest
 * route (GET /healthz: HTTP + Fastify only) and a bare node:http process answering 202 to the
 * very same requests (what the runtime allows for these bytes). The same service started as
 * `api` (no ETL in its process) shows what the in-process ETL costs the API.
 */
const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const BARE = new URL('./lib/bare-server.ts', import.meta.url).pathname;

const CONNECTIONS = 32;
/** Per round; the first round of a case warms up longer (connections, JIT, caches). */
const FIRST_WARMUP_MS = 1000;
const WARMUP_MS = 500;
const DURATION_MS = 2500;
/** The servers alternate round by round, so load drifting on the host hits them alike. */
const ROUNDS = 3;
/** Distinct users, so the per-user rate limit (6000/min) stays in the path without refusing. */
const USERS = 256;
const BODIES = 64;

type Kind = 'node:http' | 'serve' | 'api';
const KINDS: readonly Kind[] = ['node:http', 'serve', 'api'];
const LABEL: Record<Kind, string> = { 'node:http': 'node:http', serve: 'serve (API+ETL)', api: 'api (no ETL)' };

interface Server {
  origin: string;
  child: Child;
  readyMs: number;
}

interface Round {
  result: LoadResult;
  serverCpu: number;
  clientCpu: number;
  hostBusy: number;
}

interface Case {
  label: string;
  events: number;
  /** Which servers the case runs on; `api` only where the ETL's share is the question. */
  kinds: readonly Kind[];
  options: Omit<LoadOptions, 'origin' | 'connections' | 'warmupMs' | 'durationMs'>;
}

async function startBare(): Promise<Server> {
  const started = Date.now();
  let onPort: (port: number) => void = () => undefined;
  const port = new Promise<number>((resolve) => (onPort = resolve));
  const child = spawnNode([BARE], {
    env: { PATH: process.env.PATH ?? '' },
    cwd: tmpdir(),
    onLine: (line) => {
      try {
        const { port: p } = JSON.parse(line) as { port?: unknown };
        if (typeof p === 'number') onPort(p);
      } catch {
        // not the port line
      }
    },
  });
  const failed = child.exited.then((code) => Promise.reject(new Error(`bare server exited with ${code}\n${child.output()}`)));
  const origin = `http://127.0.0.1:${await Promise.race([port, failed])}`;
  return { origin, child, readyMs: Date.now() - started };
}

async function startService(options: BenchOptions, command: 'serve' | 'api', secret: string): Promise<Server> {
  const dataDir = await tempDir(`ugc-bench-${command}-`);
  const port = await freePort();
  const started = Date.now();
  const child = spawnNode([...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), MAIN, command], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: options.logLevel,
      DATA_DIR: dataDir,
      AUTH_JWT_SECRET: secret,
    },
    // Not the repository: a developer's .env there must not change what is measured.
    cwd: dataDir,
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/readyz`, child, 60_000);
  return { origin, child, readyMs: Date.now() - started };
}

async function measure(server: Server, warmupMs: number, options: Case['options']): Promise<Round> {
  const host = new HostCpu();
  let client = 0;
  let serverCpu = 0;
  // CPU is sampled over the measured window only, not the warm-up.
  const begin = setTimeout(() => {
    host.start();
    client = ownCpuSeconds();
    serverCpu = processCpuSeconds(server.child.pid);
  }, warmupMs);
  let end: { client: number; server: number; host: number } | undefined;
  const finish = setTimeout(() => {
    end = { client: ownCpuSeconds() - client, server: processCpuSeconds(server.child.pid) - serverCpu, host: host.read() };
  }, warmupMs + DURATION_MS);
  try {
    const result = await load({ origin: server.origin, connections: CONNECTIONS, warmupMs, durationMs: DURATION_MS, ...options });
    const seconds = DURATION_MS / 1000;
    return {
      result,
      serverCpu: end ? round((end.server / seconds) * 100) : Number.NaN,
      clientCpu: end ? round((end.client / seconds) * 100) : Number.NaN,
      hostBusy: end?.host ?? Number.NaN,
    };
  } finally {
    clearTimeout(begin);
    clearTimeout(finish);
  }
}

/** The service's own counters: events acknowledged by the API and rows the ETL loaded. */
async function counters(origin: string): Promise<{ accepted: number; loaded: number }> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { accepted: value('ugc_events_accepted_total'), loaded: value('ugc_etl_rows_loaded_total') };
}

/** Waits until the ETL (same process) has loaded everything accepted; how long that took. */
async function drained(origin: string, timeoutMs = 120_000): Promise<{ ms: number; accepted: number; loaded: number }> {
  const started = Date.now();
  for (;;) {
    const c = await counters(origin);
    if (c.loaded >= c.accepted || Date.now() - started > timeoutMs) return { ms: Date.now() - started, ...c };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const median = (values: number[]) => percentiles(values, [50])[0] ?? Number.NaN;

/**
 * What most likely capped a case, from CPU shares (percent of one core; the host's of both):
 * a saturated load generator means the figure is the client's, not the server's.
 */
function limitedBy(server: number, client: number, host: number): string {
  if (client >= 75) return 'load generator';
  if (server >= 90) return 'server CPU';
  if (host >= 90) return 'host CPU (2 cores)';
  return '—';
}

const meanBytes = (bodies: Buffer[]) => round(bodies.reduce((n, b) => n + b.length, 0) / bodies.length);

export const ingest: Bench = {
  name: 'ingest',
  summary: 'POST /api/v1/events on the real service (child process) vs GET /healthz and a bare node:http server',
  async run(options) {
    const secret = randomBytes(32).toString('hex');
    const now = Date.now();
    const random = seeded(1);
    const batch100 = Array.from({ length: BODIES }, () => batchBody(eventInputs(100, random, now), now));
    const batch1 = Array.from({ length: BODIES * 4 }, () => batchBody(eventInputs(1, random, now), now));
    const tokens = await Promise.all(
      Array.from({ length: USERS }, (_, u) => mintToken({ secret, userId: `bench_user_${u}`, admin: false, ttlSeconds: 3600 })),
    );
    const headers = (i: number) => ({ authorization: `Bearer ${tokens[i % USERS] ?? ''}` });
    const post = (bodies: Buffer[]) => ({ method: 'POST' as const, path: '/api/v1/events', headers, body: (i: number) => bodies[i % bodies.length] ?? Buffer.alloc(0) });
    const all: Case[] = [
      { label: 'GET /healthz', events: 0, kinds: ['node:http', 'serve'], options: { method: 'GET', path: '/healthz' } },
      { label: 'POST 1 event', events: 1, kinds: ['node:http', 'serve'], options: post(batch1) },
      { label: 'POST 100 events', events: 100, kinds: KINDS, options: post(batch100) },
    ];
    const cases = all.filter((c) => options.only === undefined || c.label.includes(options.only));

    const rounds = new Map<string, Round[]>();
    const key = (kind: Kind, label: string) => `${kind} ${label}`;
    const servers = new Map<Kind, Server>();
    let drain = { ms: Number.NaN, accepted: Number.NaN, loaded: Number.NaN };
    try {
      servers.set('node:http', await startBare());
      servers.set('serve', await startService(options, 'serve', secret));
      if (cases.some((c) => c.kinds.includes('api'))) servers.set('api', await startService(options, 'api', secret));
      for (const c of cases) {
        for (let r = 0; r < ROUNDS; r++) {
          const order = r % 2 === 0 ? c.kinds : [...c.kinds].reverse();
          for (const kind of order) {
            const server = servers.get(kind);
            if (!server) continue;
            const measured = await measure(server, r === 0 ? FIRST_WARMUP_MS : WARMUP_MS, c.options);
            rounds.set(key(kind, c.label), [...(rounds.get(key(kind, c.label)) ?? []), measured]);
            // The ETL shares the service's process: let it load the backlog before the next round.
            if (kind === 'serve' && c.events > 0) drain = await drained(server.origin);
          }
        }
      }
    } finally {
      await Promise.all([...servers.values()].map((s) => s.child.stop()));
    }

    const rpsOf = (kind: Kind, label: string) => median((rounds.get(key(kind, label)) ?? []).map((r) => r.result.requestsPerSecond));
    const rows = cases.flatMap((c) => c.kinds.map((kind) => ({ ...c, kind, rounds: rounds.get(key(kind, c.label)) ?? [] })));
    const throughput: Table = {
      title: `ingest: ${CONNECTIONS} keep-alive connections; median of ${ROUNDS} alternating rounds of ${DURATION_MS / 1000} s`,
      columns: ['case', 'server', 'req/s', 'min–max req/s', 'events/s', 'p50 ms', 'p99 ms', 'vs node:http', 'vs /healthz'],
      rows: rows.map((c) => {
        const rps = rpsOf(c.kind, c.label);
        const all = c.rounds.map((r) => r.result.requestsPerSecond);
        const [p50 = Number.NaN, p99 = Number.NaN] = percentiles(c.rounds.flatMap((r) => r.result.latencies), [50, 99]);
        return {
          case: c.label,
          server: LABEL[c.kind],
          'req/s': rps,
          'min–max req/s': `${fmt(Math.min(...all))}–${fmt(Math.max(...all))}`,
          'events/s': c.events > 0 ? rps * c.events : '—',
          'p50 ms': p50,
          'p99 ms': p99,
          'vs node:http': c.kind === 'node:http' ? 'ceiling' : percent(rps / rpsOf('node:http', c.label)),
          'vs /healthz': c.kind !== 'node:http' && c.events > 0 ? percent(rps / rpsOf('serve', 'GET /healthz')) : '—',
        };
      }),
    };
    const resources: Table = {
      title: 'ingest: CPU over the measured windows (percent of one core, median of rounds)',
      columns: ['case', 'server', 'server CPU %', 'load generator CPU %', 'host busy % (2 cores = 100)', 'limited by', 'non-2xx', 'statuses'],
      rows: rows.map((c) => {
        const statuses: Record<string, number> = {};
        for (const r of c.rounds) for (const [status, n] of Object.entries(r.result.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
        const cpu = { server: median(c.rounds.map((r) => r.serverCpu)), client: median(c.rounds.map((r) => r.clientCpu)), host: median(c.rounds.map((r) => r.hostBusy)) };
        return {
          case: c.label,
          server: LABEL[c.kind],
          'server CPU %': cpu.server,
          'load generator CPU %': cpu.client,
          'host busy % (2 cores = 100)': cpu.host,
          'limited by': limitedBy(cpu.server, cpu.client, cpu.host),
          'non-2xx': c.rounds.reduce((n, r) => n + r.result.failures, 0),
          statuses: Object.entries(statuses).map(([status, n]) => `${status}×${n}`).join(' '),
        };
      }),
    };
    const latency = (kind: Kind) => percentiles((rounds.get(key(kind, 'POST 100 events')) ?? []).flatMap((r) => r.result.latencies), [50, 99]);
    const [p50 = Number.NaN, p99 = Number.NaN] = latency('serve');
    const figures = {
      connections: CONNECTIONS,
      bare_healthz_rps: round(rpsOf('node:http', 'GET /healthz')),
      bare_post1_rps: round(rpsOf('node:http', 'POST 1 event')),
      bare_post100_rps: round(rpsOf('node:http', 'POST 100 events')),
      serve_healthz_rps: round(rpsOf('serve', 'GET /healthz')),
      serve_post1_rps: round(rpsOf('serve', 'POST 1 event')),
      serve_post100_rps: round(rpsOf('serve', 'POST 100 events')),
      serve_post100_events_per_s: round(rpsOf('serve', 'POST 100 events') * 100),
      serve_post100_p50_ms: round(p50, 2),
      serve_post100_p99_ms: round(p99, 2),
      api_post100_events_per_s: round(rpsOf('api', 'POST 100 events') * 100),
      healthz_ratio_to_bare: round(rpsOf('serve', 'GET /healthz') / rpsOf('node:http', 'GET /healthz'), 3),
      post1_ratio_to_bare: round(rpsOf('serve', 'POST 1 event') / rpsOf('node:http', 'POST 1 event'), 3),
      post100_ratio_to_bare: round(rpsOf('serve', 'POST 100 events') / rpsOf('node:http', 'POST 100 events'), 3),
      api_post100_ratio_to_bare: round(rpsOf('api', 'POST 100 events') / rpsOf('node:http', 'POST 100 events'), 3),
      etl_drain_ms: drain.ms,
    };
    const failures = [...rounds.values()].flat().reduce((n, r) => n + r.result.failures, 0);
    const ready = [...servers.entries()].filter(([kind]) => kind !== 'node:http').map(([kind, s]) => `${kind} ${round(s.readyMs / 1000, 1)} s`);
    return {
      tables: [throughput, resources],
      figures,
      notes: [
        `service: node src/main.ts serve|api, LOG_LEVEL=${options.logLevel}, embedded backends, ready (/readyz) in ${ready.join(', ')}; node:http: bench/lib/bare-server.ts (reads the body, answers 202)`,
        `request bodies: ${meanBytes(batch100)} B per 100-event batch, ${meanBytes(batch1)} B per 1-event batch; ${USERS} users (tokens) round-robin`,
        ...(Number.isFinite(drain.ms)
          ? [`serve: the ETL loads in the same process during the load; after the last 100-event round it needed ${round(drain.ms / 1000, 1)} s more (${drain.loaded} of ${drain.accepted} accepted events loaded)`]
          : []),
        ...(failures > 0 ? [`WARNING: ${failures} requests failed (see statuses); the figures above are not clean`] : []),
      ],
    };
  },
};
