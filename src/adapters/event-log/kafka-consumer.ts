import { NotFoundError, UnavailableError } from '../../domain/errors.ts';
import type { ConsumerOptions, EventLogConsumer, LogRecord, PollOptions } from '../../ports/event-log.ts';
import type { Logger } from '../../observability/logger.ts';
import { errorCauses, isRebalance, toUnavailable, withDeadline } from './kafka-errors.ts';
import { KafkaMember, type Msg } from './kafka-member.ts';

/** Records fetched ahead of `poll`; the stream is paused above this so memory stays bounded. */
const HIGH_WATER = 20_000;
const EARLIEST = -2n;
/** Back-off between member replacements: first, and longest (ms). */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
/** A member holding partitions whose stream has not fetched for this long is replaced (ms). */
const STALL_MS = 30_000;

export interface KafkaConsumerOptions extends ConsumerOptions {
  brokers: string[];
  clientId: string;
  timeoutMs: number;
  /** Static group membership id (`group.instance.id`); unset: dynamic membership. */
  instanceId?: string;
  logger: Logger;
  onClose: () => void;
}

/**
 * A member of a Kafka consumer group behind the pull-style `poll`/`commit` port. Offsets are
 * committed only when the caller says so (never automatically). When a rebalance takes
 * partitions away, records of those partitions still buffered are dropped — their new owner reads
 * them from the last committed offset — and commits for them are skipped, so at-least-once holds
 * and the warehouse's deduplication absorbs the overlap.
 *
 * It never stops silently: when the member fails (its stream destroyed by a fetch error, its
 * group session lost, or no fetch for `STALL_MS` while it holds partitions) it leaves the group
 * and a fresh member joins, with capped back-off; buffered records are dropped and re-read from
 * the committed offsets. `health()` says whether it is consuming.
 */
export class KafkaConsumer implements EventLogConsumer {
  #options: KafkaConsumerOptions;
  #member: KafkaMember | undefined;
  #starting: Promise<KafkaMember> | undefined;
  #buffer: Msg[] = [];
  #wake: (() => void) | undefined;
  #epochs = new Map<number, number>();
  #failures = 0;
  #retryAt = 0;
  #lastError: string | undefined;
  #watchdog: NodeJS.Timeout;
  #closed = false;

  constructor(options: KafkaConsumerOptions) {
    this.#options = options;
    this.#watchdog = setInterval(() => this.#checkStall(), 5000).unref();
  }

  #newMember(): KafkaMember {
    const { logger, group, stream } = this.#options;
    const member: KafkaMember = new KafkaMember({
      brokers: this.#options.brokers,
      clientId: this.#options.clientId,
      group,
      stream,
      from: this.#options.from === 'latest' ? 'latest' : 'earliest',
      requestTimeoutMs: Math.max(this.#options.timeoutMs, 5000),
      ...(this.#options.instanceId ? { instanceId: this.#options.instanceId } : {}),
      onMessage: (message) => {
        if (member !== this.#member) return;
        this.#buffer.push(message);
        this.#epochs.set(message.partition, message.leaderEpoch);
        this.#failures = 0;
        if (this.#buffer.length >= HIGH_WATER) member.stream?.pause();
        this.#wake?.();
      },
      onAssignment: (owned) => {
        if (member !== this.#member) return;
        const before = this.#buffer.length;
        this.#buffer = this.#buffer.filter((m) => owned.has(m.partition));
        logger.info({ group, partitions: [...owned], dropped: before - this.#buffer.length }, 'consumer group assignment');
      },
      onFailure: (err) => this.#replace(member, err),
    });
    return member;
  }

  /** Drops a failed member: it leaves the group in the background and the next poll starts another. */
  #replace(member: KafkaMember, err: unknown): void {
    if (member !== this.#member || this.#closed) return;
    this.#member = undefined;
    this.#starting = undefined;
    this.#buffer = [];
    this.#epochs.clear();
    this.#failures += 1;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.#failures - 1));
    this.#retryAt = Date.now() + delay;
    this.#lastError = err instanceof Error ? err.message : String(err);
    this.#options.logger.error({ err, causes: errorCauses(err), retryInMs: delay, failures: this.#failures }, 'Kafka consumer failed; leaving the group and joining again');
    void member.close();
    this.#wake?.();
  }

  #checkStall(): void {
    const member = this.#member;
    if (!member?.stream || !member.owned || member.owned.size === 0 || member.stream.isPaused()) return;
    const idle = Date.now() - member.lastFetchAt;
    if (idle > STALL_MS) this.#replace(member, new Error(`no fetch for ${idle} ms while holding partitions`));
  }

  /**
   * The live member, starting one if none runs and the back-off has passed; undefined while
   * backing off or when Kafka cannot be reached (the next call tries again).
   * @throws NotFoundError when the topic does not exist
   */
  async #ensureMember(): Promise<KafkaMember | undefined> {
    if (this.#member?.stream) return this.#member;
    if (!this.#starting) {
      if (Date.now() < this.#retryAt) return undefined;
      const member = this.#newMember();
      this.#member = member;
      this.#starting = member.start().then(() => member);
    }
    const starting = this.#starting;
    try {
      return await starting;
    } catch (err) {
      if (this.#member !== undefined && this.#starting === starting) {
        const member = this.#member;
        this.#replace(member, err);
      }
      if (err instanceof NotFoundError) {
        this.#retryAt = 0;
        throw err;
      }
      return undefined;
    }
  }

  async poll({ maxRecords, maxWaitMs, signal }: PollOptions): Promise<LogRecord[]> {
    if (this.#closed) throw new UnavailableError('consumer closed');
    const member = await this.#ensureMember();
    if (this.#buffer.length === 0 && maxWaitMs > 0 && !signal?.aborted) {
      // Without a member, wait only until the next attempt is due.
      const wait = member ? maxWaitMs : Math.min(maxWaitMs, Math.max(0, this.#retryAt - Date.now()));
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.#wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, wait);
        signal?.addEventListener('abort', done, { once: true });
        this.#wake = done;
      });
    }
    const taken = this.#buffer.splice(0, maxRecords);
    const stream = this.#member?.stream;
    if (stream?.isPaused() && this.#buffer.length < HIGH_WATER / 2) stream.resume();
    return taken.map((m) => ({
      stream: m.topic,
      partition: m.partition,
      offset: Number(m.offset),
      key: m.key?.toString('utf8') ?? '',
      value: m.value,
      headers: Object.fromEntries(m.headerEntries.map(([k, v]) => [k.toString('utf8'), v.toString('utf8')])),
      timestamp: Number(m.timestamp),
    }));
  }

  async commit(records: readonly LogRecord[]): Promise<void> {
    const next = new Map<number, number>();
    for (const r of records) next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
    await this.#member?.settled(Math.max(this.#options.timeoutMs, 5000));
    const member = this.#member?.stream ? this.#member : undefined;
    const owned = member?.owned ?? new Set<number>();
    const offsets = [...next]
      .filter(([partition]) => owned.has(partition))
      .map(([partition, offset]) => ({ topic: this.#options.stream, partition, offset: BigInt(offset), leaderEpoch: this.#epochs.get(partition) ?? -1 }));
    if (offsets.length < next.size) this.#options.logger.warn({ skipped: next.size - offsets.length }, 'not committing partitions this member no longer holds');
    if (!member || offsets.length === 0) return;
    try {
      await withDeadline(member.consumer.commit({ offsets }), Math.max(this.#options.timeoutMs, 5000), 'committing offsets');
    } catch (err) {
      if (isRebalance(err)) {
        this.#options.logger.warn({ err }, 'offset commit lost to a rebalance; the new owner re-reads from the last commit');
        return;
      }
      throw toUnavailable(err, 'Kafka offset commit failed');
    }
  }

  async lag(): Promise<number> {
    const member = await this.#ensureMember();
    if (!member) throw new UnavailableError(`Kafka consumer is not in its group: ${this.#lastError ?? 'joining'}`, { retryAfterSeconds: 1 });
    const topic = this.#options.stream;
    const consumer = member.consumer;
    try {
      const [latest, earliest] = await Promise.all([
        consumer.listOffsets({ topics: [topic] }),
        consumer.listOffsets({ topics: [topic], timestamp: EARLIEST }),
      ]);
      const ends = latest.get(topic) ?? [];
      const committed = await consumer.listCommittedOffsets({ topics: [{ topic, partitions: ends.map((_, i) => i) }] });
      const done = committed.get(topic) ?? [];
      const starts = earliest.get(topic) ?? [];
      return ends.reduce((sum, end, i) => {
        const from = (done[i] ?? -1n) >= 0n ? (done[i] ?? 0n) : (starts[i] ?? 0n);
        return sum + Number(end - from);
      }, 0);
    } catch (err) {
      throw toUnavailable(err, 'Kafka offsets unavailable');
    }
  }

  /**
   * Ready while this member is in its group with a live stream and holds at least one
   * partition; otherwise why not (joining, failed and re-joining, or holding nothing).
   */
  health(): { ready: boolean; reason?: string } {
    if (this.#closed) return { ready: false, reason: 'consumer closed' };
    const member = this.#member;
    if (!member?.stream) {
      return { ready: false, reason: this.#lastError ? `re-joining the group after: ${this.#lastError}` : 'joining the group' };
    }
    if (!member.owned) return { ready: false, reason: 'waiting for a partition assignment' };
    if (member.owned.size === 0) return { ready: false, reason: 'holds no partitions' };
    return { ready: true };
  }

  /** Resolves when the live member's group is not rebalancing (at once without a member), or after `maxWaitMs`. */
  async settled(maxWaitMs: number): Promise<void> {
    await this.#member?.settled(maxWaitMs);
  }

  /** Whether the live member holds `partition` now (false while re-joining or after a revocation). */
  holds(partition: number): boolean {
    return !this.#closed && (this.#member?.owned?.has(partition) ?? false);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    this.#wake?.();
    this.#options.onClose();
    await Promise.allSettled([this.#starting]);
    await this.#member?.close();
  }
}
