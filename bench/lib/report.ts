import { readFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';

/** What a figure was measured on: numbers from another machine or a loaded host are not comparable. */
export interface Environment {
  node: string;
  v8: string;
  os: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  loadavg: number[];
}

export function environment(): Environment {
  const cores = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    os: `${platform()} ${release()}`,
    cpu: cores[0]?.model.trim() ?? 'unknown',
    cores: cores.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadavg: loadavg().map((l) => round(l, 2)),
  };
}

export type Cell = string | number;

export interface Table {
  title: string;
  columns: string[];
  rows: Record<string, Cell>[];
}

export interface BenchResult {
  name: string;
  command: string;
  startedAt: string;
  elapsedMs: number;
  loadavgBefore: number[];
  loadavgAfter: number[];
  /** Percent of all cores busy in the second before the benchmark started: other processes. */
  hostBusyBefore: number;
  tables: Table[];
  /** Headline figures by stable key, for the JSON file and the README. */
  figures: Record<string, number>;
  notes: string[];
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Thousands separators, and fewer decimals the larger the number: a table is read, not parsed. */
export function fmt(value: Cell): string {
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function percent(ratio: number): string {
  return Number.isFinite(ratio) ? `${round(ratio * 100)}%` : '—';
}

/** A Markdown table, so a run's output can be pasted into bench/README.md as it is. */
export function formatTable(table: Table): string {
  const cells = table.rows.map((row) => table.columns.map((c) => fmt(row[c] ?? '')));
  const widths = table.columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]) => `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `-${'-'.repeat(w)}-` : `-${'-'.repeat(w)}:`)).join('|')}|`;
  return [`### ${table.title}`, '', line(table.columns), rule, ...cells.map(line)].join('\n');
}

/** Percentiles by nearest rank over a copy; fine for the ≤ 10^6 samples a bench collects. */
export function percentiles(samples: readonly number[], ps: readonly number[]): number[] {
  if (samples.length === 0) return ps.map(() => Number.NaN);
  const sorted = Float64Array.from(samples).sort();
  return ps.map((p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN);
}

/**
 * Busy share of the whole host between `start()` and `read()`, from the kernel's per-CPU
 * counters: it shows whether something else (Kafka, a test run) took CPU during a case.
 */
export class HostCpu {
  #before = snapshot();

  start(): void {
    this.#before = snapshot();
  }

  /** Percent of all cores busy (100 = every core fully busy). */
  read(): number {
    const after = snapshot();
    const total = after.total - this.#before.total;
    return total > 0 ? round(((after.busy - this.#before.busy) / total) * 100) : Number.NaN;
  }
}

function snapshot(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const sum = times.user + times.nice + times.sys + times.irq + times.idle;
    total += sum;
    busy += sum - times.idle;
  }
  return { busy, total };
}

/**
 * CPU seconds a process has used (user + system), from /proc on Linux; NaN elsewhere. For the
 * service child it says whether the server, not the load generator, was the bottleneck.
 */
export function processCpuSeconds(pid: number): number {
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // USER_HZ is 100 on every Linux ABI Node supports.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds this process has used so far. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
