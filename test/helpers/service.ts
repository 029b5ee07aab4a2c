import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { startRaw } from './cli.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

export interface RunningService {
  url: string;
  child: ChildProcess;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<ChildProcess>();

/**
 * Starts `node src/main.ts <command>` as a real process (the way `npm start` does, through
 * `startRaw`) and waits for its "listening" log line. The caller kills it; a process still
 * running when the test ends is killed by `stopAll`.
 */
export async function startService(env: Record<string, string>, command = 'serve', timeoutMs = 30_000): Promise<RunningService> {
  // `etl` has no HTTP listener; it is up once its consumer loop started.
  const ready = command === 'etl' ? 'ETL started' : 'UGC Service listening';
  const raw = await startRaw({ HOST: '127.0.0.1', ...env }, command, new RegExp(`"message":"${ready}"`), timeoutMs);
  started.add(raw.child);
  void raw.exited.then(() => started.delete(raw.child));
  // Parsed as they are asked for, each line once: `raw.lines` keeps growing.
  const logs: Record<string, unknown>[] = [];
  let read = 0;
  const parsed = (): Record<string, unknown>[] => {
    for (; read < raw.lines.length; read++) {
      try {
        logs.push(JSON.parse(raw.lines[read] ?? '') as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
    return logs;
  };
  const listening = parsed().find((entry) => entry.message === ready);
  return {
    url: typeof listening?.listen_url === 'string' ? listening.listen_url : '',
    child: raw.child,
    get logs() {
      return parsed();
    },
    exited: raw.exited,
  };
}

export async function stopAll(): Promise<void> {
  await Promise.all(
    [...started].map(async (child) => {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }),
  );
}

/** Runs the CLI to completion and returns its output. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
