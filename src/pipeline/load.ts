import { AppError, BackendError, type BackendFault } from '../domain/errors.ts';
import type { LogRecord } from '../ports/event-log.ts';
import type { EventRow } from '../ports/warehouse.ts';

export interface LoadItem {
  record: LogRecord;
  row: EventRow;
}

/** A record the warehouse will not take, with why (the `dlq.reason` header). */
export interface Rejected {
  record: LogRecord;
  reason: string;
}

export interface LoadDeps {
  /** One INSERT statement of `rows`, all or nothing. */
  insert: (rows: EventRow[]) => Promise<void>;
  /** Whether the warehouse answers right now (a ping); never rejects. */
  answers: () => Promise<boolean>;
  /**
   * Waits before attempt `attempt + 1` of a statement that failed with `err`; rejects when the
   * batch is given up (the ETL stopping), which ends the load with that rejection.
   */
  backoff: (attempt: number, err: unknown) => Promise<void>;
}

export interface LoadOptions {
  /**
   * Failed attempts of one statement with an unclassified error, while the warehouse answers a
   * ping, after which its rows are suspected and the statement is split (≥ 1).
   */
  suspectAfter: number;
}

/** How the load treats a failed insert: by the adapter's classification, `unknown` when it has none. */
export function faultOf(err: unknown): BackendFault {
  if (err instanceof BackendError) return err.fault;
  if (err instanceof AppError) return err.retriable ? 'infrastructure' : 'unknown';
  return 'unknown';
}

/** The DLQ reason: the service's message and the first line of the engine's own (it says which field). */
function reasonOf(err: unknown, prefix: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message.split('\n')[0]?.trim() : undefined;
  const text = cause && !message.includes(cause) ? `${message}: ${cause}` : message;
  return `${prefix}: ${text}`.slice(0, 500);
}

/**
 * Loads every row the warehouse takes and returns the records it refuses, so that one bad
 * record never stops the others:
 * - a `data` failure (the engine refused the content) splits the statement in halves until the
 *   refused rows are alone; they are returned for the dead-letter stream, every other row loads;
 * - an `infrastructure` failure (down, slow, full) retries the same statement with back-off for
 *   as long as it takes: those rows are never dead-lettered;
 * - an `unknown` failure is retried like one, but after `suspectAfter` attempts, if the warehouse
 *   answers a ping meanwhile, the rows are suspected: the statement is split at once, and a row
 *   that still fails alone `suspectAfter` times (the warehouse answering) is dead-lettered. An
 *   error code nobody classified therefore never stalls the pipeline for good.
 * Rows loaded before a rejection (the ETL stopping) stay loaded; the warehouse deduplicates the replay.
 */
export async function loadIsolatingBadRows(items: readonly LoadItem[], deps: LoadDeps, options: LoadOptions): Promise<Rejected[]> {
  const suspectAfter = Math.max(1, options.suspectAfter);

  async function load(part: readonly LoadItem[], suspect: boolean): Promise<Rejected[]> {
    if (part.length === 0) return [];
    for (let attempt = 1; ; attempt++) {
      try {
        await deps.insert(part.map((i) => i.row));
        return [];
      } catch (err) {
        const fault = faultOf(err);
        const [only] = part;
        if (fault === 'data') {
          if (part.length === 1 && only) return [{ record: only.record, reason: reasonOf(err, 'warehouse rejected the row') }];
          return split(part, false);
        }
        if (fault === 'unknown') {
          const due = part.length === 1 ? attempt >= suspectAfter : suspect || attempt >= suspectAfter;
          if (due && (await deps.answers())) {
            if (part.length === 1 && only) {
              return [{ record: only.record, reason: reasonOf(err, `warehouse kept failing on the row (${attempt} attempts) while answering pings`) }];
            }
            return split(part, true);
          }
        }
        await deps.backoff(attempt, err);
      }
    }
  }

  async function split(part: readonly LoadItem[], suspect: boolean): Promise<Rejected[]> {
    const middle = Math.ceil(part.length / 2);
    const left = await load(part.slice(0, middle), suspect);
    const right = await load(part.slice(middle), suspect);
    return [...left, ...right];
  }

  return load(items, false);
}
