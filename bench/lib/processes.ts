import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Everything a benchmark starts outside itself, tracked here so that `cleanup()` in bench/run.ts
 * removes it on success, on error and on Ctrl-C alike.
 */
const children = new Set<ChildProcess>();
const dirs = new Set<string>();

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  dirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

export interface Child {
  process: ChildProcess;
  pid: number;
  /** Everything the child wrote to stderr (and stdout), for error messages. */
  output: () => string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop: (graceMs?: number) => Promise<void>;
}

/** `node <args>` with this same Node binary (24, whatever `node` is on the PATH). */
export function spawnNode(args: string[], options: { env: Record<string, string>; cwd: string; onLine?: (line: string) => void }): Child {
  const child = spawn(process.execPath, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start node ${args.join(' ')}`);
  children.add(child);
  let output = '';
  let partial = '';
  const keep = (chunk: Buffer) => {
    // Only the tail matters for an error message; a chatty child must not grow this forever.
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stderr.on('data', keep);
  child.stdout.on('data', (chunk: Buffer) => {
    keep(chunk);
    if (!options.onLine) return;
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) options.onLine(line);
  });
  const exited = once(child, 'exit').then(([code]) => {
    children.delete(child);
    return code as number | null;
  });
  const stop = async (graceMs = 20_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { process: child, pid: child.pid, output: () => output, exited, stop };
}

/** Kills what is still running and removes every temp dir; safe to call twice. */
export async function cleanup(): Promise<void> {
  await Promise.allSettled(
    [...children].map(async (child) => {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }),
  );
  await Promise.allSettled([...dirs].map((dir) => removeDir(dir)));
}

/** A port free right now (the OS picks it); the child binds it a moment later. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port assigned');
  return address.port;
}

/** Polls `url` until it answers 200, the child exits, or the deadline passes. */
export async function waitForHttp(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => (exitCode = code));
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    if (exitCode !== undefined) throw new Error(`${url}: the process exited with ${exitCode} before answering\n${child.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms\n${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
