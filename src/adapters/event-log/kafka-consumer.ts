import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import { NotFoundError, UnavailableError } from '../../domain/errors.ts';
import type { ConsumerOptions, EventLogConsumer, LogRecord, PollOptions } from '../../ports/event-log.ts';
import type { Logger } from '../../observability/logger.ts';
import { isRebalance, isUnknownTopic, toUnavailable, withDeadline } from './kafka-errors.ts';

/** Records fetched ahead of `poll`; the stream is paused above this so memory stays bounded. */
const HIGH_WATER = 20_000;
const EARLIEST = -2n;

export interface KafkaConsumerOptions extends ConsumerOptions {
  brokers: string[];
  clientId: string;
  timeoutMs: number;
  logger: Logger;
  onClose: () => void;
}

type Msg = Message<Buffer, Buffer, Buffer, Buffer>;

/**
 * A member of a Kafka consumer group behind the pull-style `poll`/`commit` port. Offsets are
 * committed only when the caller says so (never automatically). When a rebalance takes
 * partitions away, records of those partitions still buffered are dropped — their new owner reads
 * them from the last committed offset — and commits for them are skipped, so at-least-once holds
 * and the warehouse's deduplication absorbs the overlap.
 */
export class KafkaConsumer implements EventLogConsumer {
  #options: KafkaConsumerOptions;
  #consumer: Consumer;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  #starting: Promise<void> | undefined;
  #buffer: Msg[] = [];
  #wake: (() => void) | undefined;
  #epochs = new Map<number, number>();
  #closed = false;

  constructor(options: KafkaConsumerOptions) {
    this.#options = options;
    this.#consumer = new Consumer({
      clientId: options.clientId,
      groupId: options.group,
      bootstrapBrokers: options.brokers,
      timeout: Math.max(options.timeoutMs, 5000),
      retries: 5,
      retryDelay: 250,
      // A member that dies is noticed within the session timeout and its partitions move on.
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1000,
      autocommit: false,
      maxWaitTime: 500,
    });
    this.#consumer.on('consumer:group:join', ({ assignments }) => {
      const owned = new Set((assignments ?? []).filter((a) => a.topic === options.stream).flatMap((a) => a.partitions));
      const before = this.#buffer.length;
      this.#buffer = this.#buffer.filter((m) => owned.has(m.partition));
      options.logger.info({ group: options.group, partitions: [...owned], dropped: before - this.#buffer.length }, 'consumer group assignment');
    });
  }

  #start(): Promise<void> {
    this.#starting ??= (async () => {
      try {
        this.#stream = await this.#consumer.consume({
          topics: [this.#options.stream],
          mode: 'committed',
          fallbackMode: this.#options.from === 'latest' ? 'latest' : 'earliest',
        });
      } catch (err) {
        this.#starting = undefined;
        if (isUnknownTopic(err)) throw new NotFoundError(`Topic "${this.#options.stream}" does not exist.`, { cause: err });
        throw toUnavailable(err, 'Kafka consumer could not join its group');
      }
      this.#stream.on('data', (message: Msg) => {
        this.#buffer.push(message);
        this.#epochs.set(message.partition, message.leaderEpoch);
        if (this.#buffer.length >= HIGH_WATER) this.#stream?.pause();
        this.#wake?.();
      });
      this.#stream.on('error', (err: unknown) => {
        this.#options.logger.error({ err }, 'Kafka consumer stream failed');
        this.#wake?.();
      });
    })();
    return this.#starting;
  }

  async poll({ maxRecords, maxWaitMs, signal }: PollOptions): Promise<LogRecord[]> {
    if (this.#closed) throw new UnavailableError('consumer closed');
    await this.#start();
    if (this.#buffer.length === 0 && maxWaitMs > 0 && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.#wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, maxWaitMs);
        signal?.addEventListener('abort', done, { once: true });
        this.#wake = done;
      });
    }
    const taken = this.#buffer.splice(0, maxRecords);
    if (this.#stream?.isPaused() && this.#buffer.length < HIGH_WATER / 2) this.#stream.resume();
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
    const owned = new Set((this.#consumer.assignments ?? []).filter((a) => a.topic === this.#options.stream).flatMap((a) => a.partitions));
    const offsets = [...next]
      .filter(([partition]) => owned.has(partition))
      .map(([partition, offset]) => ({ topic: this.#options.stream, partition, offset: BigInt(offset), leaderEpoch: this.#epochs.get(partition) ?? -1 }));
    if (offsets.length < next.size) this.#options.logger.warn({ skipped: next.size - offsets.length }, 'not committing partitions lost in a rebalance');
    if (offsets.length === 0) return;
    try {
      await withDeadline(this.#consumer.commit({ offsets }), Math.max(this.#options.timeoutMs, 5000), 'committing offsets');
    } catch (err) {
      if (isRebalance(err)) {
        this.#options.logger.warn({ err }, 'offset commit lost to a rebalance; the new owner re-reads from the last commit');
        return;
      }
      throw toUnavailable(err, 'Kafka offset commit failed');
    }
  }

  async lag(): Promise<number> {
    await this.#start();
    const topic = this.#options.stream;
    try {
      const [latest, earliest] = await Promise.all([
        this.#consumer.listOffsets({ topics: [topic] }),
        this.#consumer.listOffsets({ topics: [topic], timestamp: EARLIEST }),
      ]);
      const ends = latest.get(topic) ?? [];
      const committed = await this.#consumer.listCommittedOffsets({ topics: [{ topic, partitions: ends.map((_, i) => i) }] });
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.#options.onClose();
    await Promise.allSettled([this.#starting]);
    await Promise.allSettled([withDeadline(this.#stream?.close() ?? Promise.resolve(), 5000, 'closing the consumer stream')]);
    await Promise.allSettled([withDeadline(this.#consumer.close(), 10_000, 'leaving the consumer group')]);
  }
}
