import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { analytics } from './analytics.bench.ts';
import { etl } from './etl.bench.ts';
import { eventLog } from './event-log.bench.ts';
import { ingest } from './ingest.bench.ts';
import { kafkaIngest } from './kafka-ingest.bench.ts';
import type { Bench, BenchOptions, BenchOutput } from './lib/bench.ts';
import { cleanup } from './lib/processes.ts';
import { type BenchResult, type Environment, HostCpu, environment, formatTable, round } from './lib/report.ts';

/**
 * `node bench/run.ts [name...] [--profile] [--log-level LEVEL] [--case TEXT]`: runs every
 * benchmark (or the ones named) one after the other, prints a table per benchmark with its
 * ceiling, and merges the results into bench/results/latest.json.
 */
const BENCHES: readonly Bench[] = [ingest, eventLog, etl, analytics, kafkaIngest];
const RESULTS = new URL('./results/latest.json', import.meta.url).pathname;

interface ResultsFile {
  environment: Environment;
  results: Record<string, BenchResult>;
}

function usage(): string {
  return [
    'Usage: node bench/run.ts [name...] [--profile] [--log-level LEVEL] [--case TEXT]',
    ...BENCHES.map((b) => `  ${b.name.padEnd(12)} ${b.summary}`),
    '  --profile     `ingest`: the service children run with --cpu-prof (bench/results/profiles/)',
    '  --log-level   `ingest`: LOG_LEVEL of the service children (default warn)',
    '  --case TEXT   `ingest`: only the cases whose label contains TEXT, e.g. --case "POST 100"',
  ].join('\n');
}

async function previous(): Promise<Record<string, BenchResult>> {
  try {
    return (JSON.parse(await readFile(RESULTS, 'utf8')) as ResultsFile).results;
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { profile: { type: 'boolean', default: false }, 'log-level': { type: 'string', default: 'warn' }, case: { type: 'string' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    console.log(usage());
    return;
  }
  const unknown = positionals.filter((p) => !BENCHES.some((b) => b.name === p));
  if (unknown.length > 0) {
    console.error(`Unknown benchmark: ${unknown.join(', ')}\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  // Unnamed, a benchmark that needs an engine runs only when its environment names one.
  const selected = positionals.length === 0 ? BENCHES.filter((b) => b.requires === undefined || process.env[b.requires]) : BENCHES.filter((b) => positionals.includes(b.name));
  const options: BenchOptions = { profile: values.profile, logLevel: values['log-level'], only: values.case };
  const env = environment();
  console.log(`# UGC Service benchmarks, ${new Date().toISOString()}`);
  console.log(`node ${env.node} (V8 ${env.v8}), ${env.os}, ${env.cpu}, ${env.cores} cores, ${env.memoryGiB} GiB, loadavg ${env.loadavg.join(' ')}\n`);

  const results = await previous();
  const failed: string[] = [];
  for (const bench of selected) {
    const flags = [options.profile ? '--profile' : '', options.logLevel !== 'warn' ? `--log-level ${options.logLevel}` : '', options.only !== undefined ? `--case '${options.only}'` : ''];
    const command = ['node bench/run.ts', bench.name, ...flags].filter((f) => f !== '').join(' ');
    console.log(`## ${bench.name}: ${bench.summary}\n$ ${command}\n`);
    // Other processes share this host (Kafka, ClickHouse, test runs): say how busy it was before.
    const idle = new HostCpu();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const hostBusyBefore = idle.read();
    const startedAt = new Date().toISOString();
    const loadavgBefore = loadavg().map((l) => round(l, 2));
    const t0 = performance.now();
    let output: BenchOutput;
    try {
      output = await bench.run(options);
    } catch (err) {
      // One broken benchmark (e.g. the service failing to start) must not hide the others' figures.
      console.error(`${bench.name} FAILED:`, err, '\n');
      failed.push(bench.name);
      await cleanup();
      continue;
    }
    const result: BenchResult = {
      name: bench.name,
      command,
      startedAt,
      elapsedMs: Math.round(performance.now() - t0),
      loadavgBefore,
      loadavgAfter: loadavg().map((l) => round(l, 2)),
      hostBusyBefore,
      ...output,
    };
    // A variant (profiling, another log level, one case) must not replace the plain run's figures.
    results[flags.every((f) => f === '') ? bench.name : command] = result;
    for (const table of result.tables) console.log(`${formatTable(table)}\n`);
    for (const note of result.notes) console.log(`- ${note}`);
    console.log(
      `- took ${round(result.elapsedMs / 1000, 1)} s; host ${hostBusyBefore}% busy (2 cores = 100) in the second before it started; loadavg before ${result.loadavgBefore.join(' ')}, after ${result.loadavgAfter.join(' ')}\n`,
    );
  }
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  const file: ResultsFile = { environment: env, results };
  await writeFile(RESULTS, `${JSON.stringify(file, null, 2)}\n`);
  console.log(`results: ${RESULTS}`);
  if (failed.length > 0) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

// Ctrl-C must not leave a service child or a temp dir behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
