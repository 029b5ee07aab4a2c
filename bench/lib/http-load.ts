import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentiles } from './report.ts';

/**
 * A closed-loop HTTP/1.1 load generator: `connections` keep-alive sockets, each sending the
 * next request as soon as the previous answer arrived. Closed loop (not a fixed arrival rate)
 * because the question is the most the server sustains; latency is then a consequence of the
 * chosen concurrency, which every table states. No dependency: it is a few dozen lines, and
 * the ceilings are measured with this same client, so its own cost cancels out of the ratios.
 */
export interface LoadOptions {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  origin: string;
  method: 'GET' | 'POST';
  path: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Headers of request number `i` (e.g. a different user's token). */
  headers?: (i: number) => Record<string, string>;
  /** Body of request number `i`; pre-built, so the client does no serialization. */
  body?: (i: number) => Buffer;
}

export interface LoadResult {
  /** Responses completed inside the measured window. */
  requests: number;
  requestsPerSecond: number;
  /** Responses outside 2xx and socket errors, in the measured window. */
  failures: number;
  statuses: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Every latency sample (ms) of the window, to pool rounds. */
  latencies: number[];
  bytesSentPerSecond: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.origin);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
  const t0 = performance.now();
  const measureFrom = t0 + options.warmupMs;
  const measureTo = measureFrom + options.durationMs;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let failures = 0;
  let bytes = 0;
  let next = 0;

  const send = (i: number): Promise<number> =>
    new Promise((resolve) => {
      const body = options.body?.(i);
      const headers: Record<string, string> = { ...options.headers?.(i) };
      if (body) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(body.length);
      }
      const req = request({ agent, host: url.hostname, port: url.port, method: options.method, path: options.path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(-1));
      });
      req.on('error', () => resolve(-1));
      req.end(body);
    });

  const worker = async (): Promise<void> => {
    while (performance.now() < measureTo) {
      const i = next++;
      const start = performance.now();
      const status = await send(i);
      const end = performance.now();
      if (end < measureFrom || end > measureTo) continue;
      latencies.push(end - start);
      const key = status === -1 ? 'socket error' : String(status);
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (status < 200 || status > 299) failures++;
      bytes += options.body?.(i).length ?? 0;
    }
  };

  try {
    await Promise.all(Array.from({ length: options.connections }, worker));
  } finally {
    agent.destroy();
  }
  const [p50 = Number.NaN, p90 = Number.NaN, p99 = Number.NaN, max = Number.NaN] = percentiles(latencies, [50, 90, 99, 100]);
  const seconds = options.durationMs / 1000;
  return {
    requests: latencies.length,
    requestsPerSecond: latencies.length / seconds,
    failures,
    statuses,
    latencyMs: { p50, p90, p99, max },
    latencies,
    bytesSentPerSecond: bytes / seconds,
  };
}
