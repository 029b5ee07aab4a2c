import { setTimeout as sleep } from 'node:timers/promises';
import { BackendError } from '../../src/domain/errors.ts';
import type { ConsumerOptions, EventLog, EventLogConsumer, LogRecord, PollOptions } from '../../src/ports/event-log.ts';
import type { EventRow, Warehouse } from '../../src/ports/warehouse.ts';
import { DelegatingEventLog, DelegatingWarehouse } from './delegating.ts';

/**
 * Fault injection around the REAL adapters: every call reaches the real engine unless a fault
 * is planned for it, so a test sees the engine's own behaviour (dedup, atomic inserts, error
 * mapping) and only the failure it asked for.
 */

export class FlakyWarehouse extends DelegatingWarehouse {
  /** insertEvents calls so far, failed or not. */
  attempts = 0;
  /** insertEvents calls that reached the real warehouse. */
  delivered = 0;
  #failFirst: number;
  readonly #error: (attempt: number) => Error;

  constructor(real: Warehouse, options: { failFirst: number; error?: (attempt: number) => Error }) {
    super(real);
    this.#failFirst = options.failFirst;
    this.#error = options.error ?? ((attempt) => new BackendError(`injected: warehouse unavailable (attempt ${attempt})`, { retriable: true }));
  }

  override async insertEvents(rows: readonly EventRow[]): Promise<void> {
    this.attempts += 1;
    if (this.attempts <= this.#failFirst) throw this.#error(this.attempts);
    this.delivered += 1;
    await this.real.insertEvents(rows);
  }

  /** From now on every insert reaches the real warehouse. */
  recover(): void {
    this.#failFirst = this.attempts;
  }
}

/**
 * Rejects the first `failFirst` inserts (`Infinity`: every insert) with a retriable
 * BackendError, or with `error(attempt)`; later inserts reach the real warehouse.
 */
export function flakyWarehouse(real: Warehouse, options: { failFirst: number; error?: (attempt: number) => Error }): FlakyWarehouse {
  return new FlakyWarehouse(real, options);
}

export class CorruptingWarehouse extends DelegatingWarehouse {
  /** The size of every batch handed to insertEvents, in order. */
  readonly batches: number[] = [];
  readonly #isBad: (row: EventRow) => boolean;
  readonly #corrupt: (row: EventRow) => EventRow;

  constructor(real: Warehouse, isBad: (row: EventRow) => boolean, corrupt: (row: EventRow) => EventRow) {
    super(real);
    this.#isBad = isBad;
    this.#corrupt = corrupt;
  }

  override insertEvents(rows: readonly EventRow[]): Promise<void> {
    this.batches.push(rows.length);
    return this.real.insertEvents(rows.map((r) => (this.#isBad(r) ? this.#corrupt(r) : r)));
  }
}

/**
 * Rows matching `isBad` are rewritten by `corrupt` (default: an event_id the engine cannot
 * parse) on their way in, so the real warehouse itself refuses every statement containing one
 * (all or nothing) through its own error mapping: a stand-in for data that passes the transform
 * but that ClickHouse will never load.
 */
export function corruptingWarehouse(
  real: Warehouse,
  isBad: (row: EventRow) => boolean,
  corrupt: (row: EventRow) => EventRow = (row) => ({ ...row, event_id: 'not-a-uuid' }),
): CorruptingWarehouse {
  return new CorruptingWarehouse(real, isBad, corrupt);
}

export class RefusingWarehouse extends DelegatingWarehouse {
  /** The size of every batch handed to insertEvents, in order. */
  readonly batches: number[] = [];
  readonly #isBad: (row: EventRow) => boolean;
  readonly #error: () => Error;

  constructor(real: Warehouse, isBad: (row: EventRow) => boolean, error: () => Error) {
    super(real);
    this.#isBad = isBad;
    this.#error = error;
  }

  override async insertEvents(rows: readonly EventRow[]): Promise<void> {
    this.batches.push(rows.length);
    if (rows.some(this.#isBad)) throw this.#error();
    await this.real.insertEvents(rows);
  }
}

/**
 * Every statement holding a row that matches `isBad` fails with `error()` (an error the adapter
 * could not classify, say) while `ping` and other statements reach the real warehouse: a batch
 * that keeps failing while the warehouse answers.
 */
export function refusingWarehouse(real: Warehouse, isBad: (row: EventRow) => boolean, error: () => Error): RefusingWarehouse {
  return new RefusingWarehouse(real, isBad, error);
}

export interface LogTap {
  /** Records returned by the polls of every consumer made through the wrapper. */
  polled: number;
  /** Successful commits. */
  commits: number;
}

export interface TappedLogOptions {
  /** Thrown by every consumer's commit instead of committing (a crash between load and commit). */
  commitError?: Error;
  /**
   * While it returns true, polls read nothing: they wait out `maxWaitMs` (or the signal) and
   * return [] (a consumer stuck on a topic re-created under it, or holding no partitions).
   */
  deaf?: () => boolean;
}

/** Counts what the consumers made through it poll and commit; optionally breaks commit. */
export class TappedEventLog extends DelegatingEventLog {
  readonly tap: LogTap = { polled: 0, commits: 0 };
  readonly #options: TappedLogOptions;

  constructor(real: EventLog, options: TappedLogOptions = {}) {
    super(real);
    this.#options = options;
  }

  override consumer(options: ConsumerOptions): EventLogConsumer {
    const real = this.real.consumer(options);
    const { tap } = this;
    const { commitError, deaf } = this.#options;
    return {
      async poll(poll: PollOptions): Promise<LogRecord[]> {
        if (deaf?.()) {
          await sleep(poll.maxWaitMs, undefined, poll.signal ? { signal: poll.signal } : {}).catch(() => undefined);
          return [];
        }
        const records = await real.poll(poll);
        tap.polled += records.length;
        return records;
      },
      async commit(records: readonly LogRecord[]): Promise<void> {
        if (commitError) throw commitError;
        await real.commit(records);
        tap.commits += 1;
      },
      lag: () => real.lag(),
      ...(real.health ? { health: () => real.health?.() ?? { ready: true } } : {}),
      close: () => real.close(),
    };
  }
}

export function tappedLog(real: EventLog, options: TappedLogOptions = {}): TappedEventLog {
  return new TappedEventLog(real, options);
}

/**
 * An event log whose consumers hold only the partitions in `held` (a Kafka group's assignment,
 * changed by the test as a rebalance would): `holds(p)` answers from it, the rest is the real log.
 */
export class AssignedLog extends DelegatingEventLog {
  readonly held = new Set<number>([0, 1, 2, 3, 4, 5, 6, 7]);
  /** Calls to `settled` so far. */
  settleCalls = 0;
  #rebalance: { done: Promise<void>; end: () => void } | undefined;

  /** Starts a rebalance: `settled` waits until `endRebalance()`. */
  startRebalance(): void {
    let end = (): void => undefined;
    const done = new Promise<void>((resolve) => {
      end = resolve;
    });
    this.#rebalance = { done, end };
  }

  endRebalance(): void {
    this.#rebalance?.end();
    this.#rebalance = undefined;
  }

  override consumer(options: ConsumerOptions): EventLogConsumer {
    const real = this.real.consumer(options);
    return {
      poll: (o: PollOptions): Promise<LogRecord[]> => real.poll(o),
      commit: (records: readonly LogRecord[]): Promise<void> => real.commit(records),
      lag: (): Promise<number> => real.lag(),
      close: (): Promise<void> => real.close(),
      holds: (partition: number): boolean => this.held.has(partition),
      settled: async (): Promise<void> => {
        this.settleCalls += 1;
        await this.#rebalance?.done;
      },
    };
  }
}
