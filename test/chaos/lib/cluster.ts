/**
 * The chaos suite's engines: `scripts/engines/chaos.sh` (3 Kafka nodes + one ClickHouse server
 * on their own ports and run dir). Faults are signals to the engines' own pids, read from the pid
 * files those scripts write — never a process found by name.
 */
import { Admin } from '@platformatic/kafka';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = new URL('../../../scripts/engines/chaos.sh', import.meta.url).pathname;

export interface ChaosEnv {
  KAFKA_BROKERS: string;
  CLICKHOUSE_URL: string;
  CHAOS_ENGINES_RUN: string;
}

/** `chaos.sh ARGS`; rejects with its output when it fails. */
export async function chaos(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('bash', [SCRIPT, ...args], { maxBuffer: 10_000_000, timeout: 600_000 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`chaos.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`, { cause: err });
  }
}

/** Starts (or finds running) the suite's engines and returns their env lines. */
export async function enginesUp(): Promise<ChaosEnv> {
  const out = await chaos('up');
  const env = Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  for (const key of ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'CHAOS_ENGINES_RUN']) {
    if (!env[key]) throw new Error(`chaos.sh up printed no ${key}:\n${out}`);
  }
  return env as unknown as ChaosEnv;
}

/** Pid of Kafka node `node` (1-based) or of the ClickHouse server, from its pid file. */
export async function enginePid(env: ChaosEnv, which: { kafka: number } | 'clickhouse'): Promise<number> {
  const file = which === 'clickhouse' ? join(env.CHAOS_ENGINES_RUN, 'clickhouse', 'clickhouse.pid') : join(env.CHAOS_ENGINES_RUN, 'kafka', `node${which.kafka}`, 'kafka.pid');
  const pid = Number((await readFile(file, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no pid in ${file}`);
  return pid;
}

export interface PartitionState {
  leader: number;
  isr: number[];
}

/** Partition leaders and in-sync replicas of one topic, polled every 250 ms; changes go to `onChange`. */
export class IsrWatcher {
  readonly #admin: Admin;
  readonly #topic: string;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  state: PartitionState[] = [];
  /** Time (ms) of the last poll that answered. */
  seenAt = 0;

  constructor(brokers: string[], topic: string, onChange: (state: PartitionState[], at: number) => void) {
    this.#admin = new Admin({ clientId: 'chaos-isr-watcher', bootstrapBrokers: brokers, timeout: 1000, retries: 1, retryDelay: 100, requestTimeout: 1000, connectTimeout: 1000 });
    this.#topic = topic;
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      this.#admin
        .metadata({ topics: [topic], forceUpdate: true })
        .then((metadata) => {
          const partitions = metadata.topics.get(topic)?.partitions ?? [];
          const next = partitions.map((p) => ({ leader: p.leader, isr: [...p.isr].sort() }));
          const at = Date.now();
          this.seenAt = at;
          if (JSON.stringify(next) !== JSON.stringify(this.state)) {
            this.state = next;
            onChange(next, at);
          }
        })
        .catch(() => undefined)
        .finally(() => {
          this.#busy = false;
        });
    }, 250);
  }

  /** True when every partition has `replicas` in-sync replicas. */
  full(replicas: number): boolean {
    return this.state.length > 0 && this.state.every((p) => p.isr.length >= replicas && p.leader >= 0);
  }

  /** True when node `id` leads nothing and is in no partition's ISR. */
  excludes(id: number): boolean {
    return this.state.length > 0 && this.state.every((p) => p.leader !== id && !p.isr.includes(id));
  }

  get topic(): string {
    return this.#topic;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#admin.close().catch(() => undefined);
  }
}

/** Polls `probe` every 250 ms until it holds; rejects after `ms`. */
export async function until(what: string, ms: number, probe: () => boolean | Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await Promise.resolve(probe()).catch(() => false)) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** One SQL statement against the suite's ClickHouse; the answer as text. */
export async function clickhouse(url: string, sql: string): Promise<string> {
  const res = await fetch(url, { method: 'POST', body: sql, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${text.slice(0, 500)}`);
  return text;
}
