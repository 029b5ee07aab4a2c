/**
 * The service under test as real processes (`node src/main.ts api|etl`), each restarted as a
 * supervisor would when it exits; the suite kills only these children, by their pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';

const MAIN = new URL('../../../src/main.ts', import.meta.url).pathname;

export interface ServiceLine {
  at: number;
  entry: Record<string, unknown>;
}

/** One supervised process: started again (after `restartDelayMs`) whenever it exits, until `stop()`. */
export class Supervised {
  readonly name: string;
  readonly #command: string;
  readonly #env: Record<string, string>;
  readonly #onLine: (name: string, line: ServiceLine) => void;
  readonly #onExit: (name: string, code: number | null, signal: NodeJS.Signals | null, expected: boolean) => void;
  #child: ChildProcess | undefined;
  #exited: Promise<unknown> = Promise.resolve();
  #stopping = false;
  /** Signals the suite sent on purpose (the exit that follows is expected). */
  #killedOnPurpose = false;
  starts = 0;
  restartDelayMs = 500;
  /** When set, every output line of the process is appended to `${logDir}/${name}.log`. */
  logDir: string | undefined = process.env.CHAOS_LOG_DIR;

  constructor(
    name: string,
    command: string,
    env: Record<string, string>,
    hooks: { onLine: (name: string, line: ServiceLine) => void; onExit: (name: string, code: number | null, signal: NodeJS.Signals | null, expected: boolean) => void },
  ) {
    this.name = name;
    this.#command = command;
    this.#env = env;
    this.#onLine = hooks.onLine;
    this.#onExit = hooks.onExit;
  }

  start(): void {
    this.starts += 1;
    const child = spawn(process.execPath, [MAIN, this.#command], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.#env },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: tmpdir(),
    });
    this.#child = child;
    const lines = (stream: NodeJS.ReadableStream | null) =>
      stream &&
      createInterface({ input: stream }).on('line', (line) => {
        if (this.logDir) appendFileSync(`${this.logDir}/${this.name}.log`, line + '\n');
        try {
          this.#onLine(this.name, { at: Date.now(), entry: JSON.parse(line) as Record<string, unknown> });
        } catch {
          this.#onLine(this.name, { at: Date.now(), entry: { message: line } });
        }
      });
    lines(child.stdout);
    lines(child.stderr);
    this.#exited = once(child, 'exit').then(([code, signal]) => {
      const expected = this.#killedOnPurpose || this.#stopping;
      this.#killedOnPurpose = false;
      if (!this.#stopping) this.#onExit(this.name, code as number | null, signal as NodeJS.Signals | null, expected);
      if (!this.#stopping) setTimeout(() => this.#stopping || this.start(), this.restartDelayMs);
    });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Sends `signal` to this child (only ours, by pid). */
  kill(signal: NodeJS.Signals): void {
    this.#killedOnPurpose = true;
    this.#child?.kill(signal);
  }

  /** SIGTERM (then SIGKILL after 20 s) and no restart. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** GETs `url` and returns the Prometheus sample `metric` (summed over its label sets), or undefined. */
export async function scrape(url: string, metric: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
    let sum: number | undefined;
    for (const line of text.split('\n')) {
      if (line.startsWith(metric + ' ') || line.startsWith(metric + '{')) sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  } catch {
    return undefined;
  }
}
