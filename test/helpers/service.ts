import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

export interface RunningService {
  url: string;
  child: ChildProcess;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node src/main.ts <command>` as a real process (the way `npm start` does) and waits
 * for its "listening" log line. The caller kills it; a process still running when the test
 * ends is killed by `stopAll`.
 */
const started = new Set<ChildProcess>();

export async function startService(env: Record<string, string>, command = 'serve', timeoutMs = 30_000): Promise<RunningService> {
  // `etl` has no HTTP listener; it is up once its consumer loop started.
  const ready = command === 'etl' ? 'ETL started' : 'UGC Service listening';
  const child = spawn(process.execPath, [MAIN, command], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Not the repository: a developer's .env there must not leak into the test.
    cwd: tmpdir(),
  });
  started.add(child);
  const exited = once(child, 'exit').then(([code, signal]) => {
    started.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    void exited.then(({ code }) => reject(new Error(`service exited with ${code} before listening\n${stderr}`)));
    createInterface({ input: child.stdout ?? process.stdin }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.message === ready) {
          clearTimeout(timer);
          resolve(typeof entry.listen_url === 'string' ? entry.listen_url : '');
        }
      } catch {
        // not a log line
      }
    });
  });
  return { url, child, logs, exited };
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
