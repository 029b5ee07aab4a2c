import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

export interface RawProcess {
  child: ChildProcess;
  /** stdout so far, line by line, as written (whatever the log format). */
  lines: string[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node src/main.ts <command>` with stdout and stderr piped, and resolves once a stdout
 * line matches `ready` (rejects if the process ends first or `timeoutMs` passes). It assumes
 * nothing about the log format (`startService` adds the JSON lines). The caller kills the process
 * once it is ready; one that never gets ready is killed here.
 */
export function startRaw(env: Record<string, string>, command: string, ready: RegExp, timeoutMs = 30_000): Promise<RawProcess> {
  return startUntil([MAIN, command], tmpdir(), env, ready, timeoutMs);
}

/**
 * `npm run <script>` as a user types it, in `cwd`, with the npm that runs this test (its
 * `npm_execpath`, or the `npm` on PATH) under this Node; otherwise as `startRaw`.
 */
export function startNpm(script: string, cwd: string, env: Record<string, string>, ready: RegExp, timeoutMs = 30_000): Promise<RawProcess> {
  return startUntil([npmCli(), 'run', '--silent', script], cwd, { npm_config_update_notifier: 'false', ...env }, ready, timeoutMs);
}

/** npm's own launcher (bin/npm-cli.js): the one running this test, or the one `npm` on PATH links to. */
export function npmCli(): string {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm && /npm-cli\.js$/.test(fromNpm)) return fromNpm;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'npm');
    if (existsSync(candidate)) return realpathSync(candidate);
  }
  throw new Error('npm is not on PATH');
}

async function startUntil(argv: string[], cwd: string, env: Record<string, string>, ready: RegExp, timeoutMs: number): Promise<RawProcess> {
  const child = spawn(process.execPath, argv, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: string[] = [];
  const becameReady = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${ready} within ${timeoutMs} ms\n${lines.join('\n')}\n${stderr}`)), timeoutMs);
    void exited.then(({ code }) => reject(new Error(`exited with ${code} before ${ready}\n${lines.join('\n')}\n${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (ready.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  try {
    await becameReady;
  } catch (err) {
    // Not left running: its open pipes would keep the test process alive.
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return { child, lines, stderr: () => stderr, exited };
}

/** A TCP listener on 127.0.0.1 holding a port, as another program would. */
export async function occupyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { port: address.port, server };
}

/** A port on 127.0.0.1 that nothing listens on (taken and given back). */
export async function closedPort(): Promise<number> {
  const { port, server } = await occupyPort();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Lines that look like a JavaScript stack frame (`    at f (file.ts:1:2)`). */
export const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|<anonymous>\)?)$/m;
