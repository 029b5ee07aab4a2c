/**
 * What the command line prints when a command cannot do its work: one line on stderr that says
 * what went wrong and what to do next, never a stack trace, and an exit code a script can test.
 *
 * Exit codes (also in `--help` and the README):
 * - 0: done (or, for a server, stopped by a signal);
 * - 1: a runtime failure: a port or the data directory in use, a backend unreachable, the ETL died;
 * - 2: a usage or configuration error: bad arguments, an unknown command, a bad variable.
 */
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** An expected failure whose message is already the one line to print. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT_RUNTIME, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad arguments or configuration: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/**
 * A listen failure as one line naming the address and the variable that moves it, or undefined
 * if `err` is not one (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL` are the errno codes of bind(2);
 * `ENOTFOUND`, `EAI_AGAIN` those of resolving HOST first). A HOST that is no address is a
 * configuration error (exit 2); the rest are run-time failures (exit 1).
 */
export function listenError(err: unknown, where: { host: string; port: number; variable: string; who: string }): CliError | undefined {
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  const { host, port, variable, who } = where;
  switch (code) {
    case 'EADDRINUSE':
      return new CliError(`Port ${port} on ${host} is already in use (is another ${who} running?). Stop it or set ${variable} to a free port.`, EXIT_RUNTIME, {
        cause: err,
      });
    case 'EACCES':
      return new CliError(`Not allowed to listen on port ${port} on ${host} (ports below 1024 need privileges). Set ${variable} to a port above 1023.`, EXIT_RUNTIME, {
        cause: err,
      });
    // getaddrinfo(3): HOST is not an IP address and no name server knows it (`256.1.1.1` is a name too).
    case 'ENOTFOUND':
      return new CliError(`HOST=${host} is neither an IP address nor a name that resolves. Set HOST to an address of this machine: 127.0.0.1, 0.0.0.0 or ::.`, EXIT_USAGE, {
        cause: err,
      });
    case 'EAI_AGAIN':
      return new CliError(`HOST=${host} cannot be resolved now (the name server did not answer). Try again, or set HOST to an IP address such as 127.0.0.1.`, EXIT_RUNTIME, {
        cause: err,
      });
    case 'EADDRNOTAVAIL':
      return new CliError(`HOST=${host} is not an address of this machine. Set HOST to one of its addresses, 127.0.0.1 or 0.0.0.0.`, EXIT_RUNTIME, { cause: err });
    default:
      return undefined;
  }
}

/** Network errno codes of a backend that cannot be reached at its configured address. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

/**
 * A failure of one backend, tagged with the variable that says where that backend is
 * (`KAFKA_BROKERS`, `CLICKHOUSE_URL`, `MONGODB_URL`), so the failure line can name that one.
 * Its message is its cause's.
 */
export class BackendError extends Error {
  /** The backend as people call it: Kafka, ClickHouse, MongoDB. */
  readonly backend: string;
  readonly variable: string;
  constructor(where: { backend: string; variable: string }, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'BackendError';
    this.backend = where.backend;
    this.variable = where.variable;
  }
}

/** Runs `work`, tagging whatever it throws with the backend it talks to and its variable (none: embedded, untagged). */
export async function atBackend<T>(where: { backend: string; variable: string } | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw where === undefined || err instanceof BackendError ? err : new BackendError(where, err);
  }
}

/**
 * The one line for a failure nobody foresaw: what failed, the error's own message and the first
 * cause that says something more (never a stack), as one sentence, and, when a backend could not
 * be reached, where to look: the variable of that backend when known, else all three.
 */
export function unexpectedFailureLine(command: string, err: unknown): string {
  const chain = causes(err);
  // First lines, without the sentence ends that would make "x. (y.)." of them.
  const tidy = (text: string): string => (text.split('\n')[0] ?? '').trim().replaceAll('.)', ')').replace(/[.\s]+$/, '');
  const said: string[] = [];
  for (const e of [err, ...chain.slice(1)]) {
    const text = e instanceof Error ? tidy(e.message) || e.name : tidy(String(e));
    if (text && !said.some((s) => s.includes(text))) said.push(text);
    if (said.length === 2) break;
  }
  const [message = 'unknown error', cause] = said;
  const unreachable = chain.some((e) => 'code' in e && UNREACHABLE.has(String(e.code)));
  const backend = chain.find((e): e is BackendError => e instanceof BackendError);
  const hint = backend
    ? unreachable
      ? ` Is ${backend.backend} running at the address in ${backend.variable}?`
      : ` Check ${backend.backend} and ${backend.variable}.`
    : unreachable
      ? ' Is the backend running at the configured address (KAFKA_BROKERS, CLICKHOUSE_URL, MONGODB_URL)?'
      : '';
  return `${command} failed: ${message}${cause === undefined ? '' : ` (${cause})`}.${hint}`;
}

/** `err` and its chain of causes (and an AggregateError's errors), at most 10. */
function causes(err: unknown): Error[] {
  const chain: Error[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && chain.length < 10) {
    const next = queue.shift();
    if (!(next instanceof Error)) continue;
    chain.push(next);
    queue.push(next.cause, ...(next instanceof AggregateError ? (next.errors as unknown[]) : []));
  }
  return chain;
}
