import type { Lifecycle } from './lifecycle.ts';

/**
 * The durable, partitioned event log (Kafka in production, SQLite embedded).
 * Streams are what Kafka calls topics; a record's partition is chosen from its key, so the
 * records of one key (a user id) stay in order.
 */
export interface LogRecordInput {
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface LogRecord {
  stream: string;
  partition: number;
  offset: number;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  /** Append time, ms since the epoch. */
  timestamp: number;
}

export interface StreamInfo {
  name: string;
  partitions: number;
  replicationFactor: number;
}

export interface CreateStreamOptions {
  partitions?: number;
  replicationFactor?: number;
  config?: Record<string, string>;
}

export interface EventLog extends Lifecycle {
  /** Backend name for logs, metrics and /readyz (`sqlite`, `kafka`). */
  readonly kind: string;
  /**
   * Appends all records or none. Resolves only once they are durable (embedded: committed and
   * synced; Kafka: acknowledged by all in-sync replicas).
   * @throws NotFoundError when the stream does not exist
   * @throws UnavailableError when the log is unreachable or its queue is full
   */
  append(stream: string, records: LogRecordInput[]): Promise<void>;
  /** @throws ConflictError when the stream exists; ValidationError for impossible options */
  createStream(name: string, options?: CreateStreamOptions): Promise<void>;
  /** Creates the stream unless it exists (start-up of the service's own streams). */
  ensureStream(name: string, options?: CreateStreamOptions): Promise<void>;
  /** @throws NotFoundError when the stream does not exist */
  deleteStream(name: string): Promise<void>;
  listStreams(): Promise<StreamInfo[]>;
  /** A member of consumer group `group` reading `stream`, positioned at the group's committed offsets. */
  consumer(options: ConsumerOptions): EventLogConsumer;
}

export interface ConsumerOptions {
  group: string;
  stream: string;
  /** Where a group without committed offsets starts. Default `earliest`. */
  from?: 'earliest' | 'latest';
}

export interface PollOptions {
  maxRecords: number;
  /** How long to wait for the first record when none is available. */
  maxWaitMs: number;
  signal?: AbortSignal;
}

export interface EventLogConsumer {
  /**
   * Returns the next records after the ones already returned (at most `maxRecords`), as soon as
   * any are available, or `[]` after `maxWaitMs` / when `signal` aborts. Records of one partition
   * come in offset order.
   */
  poll(options: PollOptions): Promise<LogRecord[]>;
  /**
   * Stores, for the group, the position after the last of `records` in each of their partitions.
   * Only call it once the records are safely processed.
   */
  commit(records: readonly LogRecord[]): Promise<void>;
  /** Records in the stream not yet committed by the group (all partitions this member reads). */
  lag(): Promise<number>;
  /**
   * Optional: whether this member is consuming — in its group, with a live stream, holding at
   * least one partition — and why not (`reason`) when it is not. Adapters without groups omit it.
   */
  health?(): { ready: boolean; reason?: string };
  /**
   * Optional: whether this member still holds `partition`, so that its records may be loaded. A
   * partition the group gave to another member is read again by that member from the last commit:
   * loading it here too would load it twice, at the same time. Adapters without groups omit it.
   */
  holds?(partition: number): boolean;
  /**
   * Optional: resolves once no rebalance of this member's group is under way, or after
   * `maxWaitMs` (ms). During a rebalance `holds` still answers for the assignment being replaced,
   * while the group may already be giving those partitions to another member; the ETL waits for
   * this before every insert attempt so that it never starts one on records it is losing.
   * Never rejects. Adapters without groups omit it.
   */
  settled?(maxWaitMs: number): Promise<void>;
  close(): Promise<void>;
}
