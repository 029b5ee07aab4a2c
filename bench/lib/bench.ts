import type { BenchResult } from './report.ts';

export interface BenchOptions {
  /** `--profile`: the service children run with `--cpu-prof` into bench/results/profiles. */
  profile: boolean;
  /** `--log-level`: LOG_LEVEL of the service children (default `warn`: no access log per request). */
  logLevel: string;
  /** `--case TEXT`: only the cases whose label contains TEXT (e.g. to profile one of them). */
  only: string | undefined;
}

export type BenchOutput = Pick<BenchResult, 'tables' | 'figures' | 'notes'>;

export interface Bench {
  name: string;
  /** One line for `node bench/run.ts --help`. */
  summary: string;
  /** An environment variable it needs (e.g. KAFKA_BROKERS): without it, a run of all benchmarks skips it. */
  requires?: string;
  run(options: BenchOptions): Promise<BenchOutput>;
}

export const PROFILE_DIR = new URL('../results/profiles/', import.meta.url).pathname;
