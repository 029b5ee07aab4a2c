import { Admin, ProduceAcks, Producer } from '@platformatic/kafka';
import { ConflictError, NotFoundError, UnavailableError } from '../../domain/errors.ts';
import type { ConsumerOptions, CreateStreamOptions, EventLog, EventLogConsumer, LogRecordInput, StreamInfo } from '../../ports/event-log.ts';
import type { Logger } from '../../observability/logger.ts';
import { KafkaConsumer } from './kafka-consumer.ts';
import { isUnknownTopic, toAdminError, toUnavailable, withDeadline } from './kafka-errors.ts';
import { partitionForKey } from './partitioner.ts';

export interface KafkaEventLogOptions {
  brokers: string[];
  clientId: string;
  /** Replication factor of topics created without one. */
  replicationFactor: number;
  /** Longest wait for an acknowledgement or an admin answer before reporting the log unavailable. */
  timeoutMs: number;
  defaultPartitions: number;
  /** Records waiting for acknowledgement beyond which appends are refused at once. */
  maxPendingRecords: number;
  logger: Logger;
}

interface Pending {
  records: LogRecordInput[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

const PARTITION_CACHE_MS = 30_000;

/**
 * The event log on Apache Kafka. The producer is idempotent and waits for all in-sync replicas
 * (acks=all), so an acknowledged record survives the loss of a broker and a retried send is never
 * written twice. We choose partitions ourselves with Kafka's own murmur2 partitioner (the same
 * placement as the embedded log), and coalesce the appends of one event-loop turn per partition
 * into one produce request: under load many HTTP requests share one round trip, and each request
 * still lands in one record batch, atomically.
 */
export class KafkaEventLog implements EventLog {
  readonly kind = 'kafka';
  #options: KafkaEventLogOptions;
  #admin: Admin;
  #producer: Producer;
  #partitions = new Map<string, { count: number; at: number }>();
  #queues = new Map<string, Pending[]>();
  #flushScheduled = false;
  #pendingRecords = 0;
  #inFlight = new Set<Promise<void>>();
  #consumers = new Set<KafkaConsumer>();
  #closed = false;

  constructor(options: KafkaEventLogOptions) {
    this.#options = options;
    const base = { clientId: options.clientId, bootstrapBrokers: options.brokers, timeout: options.timeoutMs, retries: 3, retryDelay: 100 };
    this.#admin = new Admin(base);
    this.#producer = new Producer({
      ...base,
      idempotent: true,
      acks: ProduceAcks.ALL,
      // zstd: the best ratio per CPU for JSON events, built into Node's zlib.
      compression: 'zstd',
      autocreateTopics: false,
    });
  }

  async start(): Promise<void> {
    // Connect and fetch cluster metadata now, so the first request does not pay for it.
    try {
      await withDeadline(this.#admin.metadata({ topics: [] }), Math.max(this.#options.timeoutMs, 10_000), 'connecting to Kafka');
    } catch (err) {
      throw toUnavailable(err, 'Kafka is unreachable');
    }
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new UnavailableError('event log closed');
    try {
      await withDeadline(this.#admin.metadata({ topics: [], forceUpdate: true }), this.#options.timeoutMs, 'Kafka metadata');
    } catch (err) {
      throw toUnavailable(err, 'Kafka is unreachable');
    }
  }

  async #partitionCount(stream: string): Promise<number> {
    const cached = this.#partitions.get(stream);
    if (cached && Date.now() - cached.at < PARTITION_CACHE_MS) return cached.count;
    try {
      const metadata = await withDeadline(this.#producer.metadata({ topics: [stream], autocreateTopics: false }), this.#options.timeoutMs, 'Kafka metadata');
      const count = metadata.topics.get(stream)?.partitionsCount ?? 0;
      if (count === 0) throw new NotFoundError(`Topic "${stream}" does not exist.`);
      this.#partitions.set(stream, { count, at: Date.now() });
      return count;
    } catch (err) {
      if (isUnknownTopic(err)) throw new NotFoundError(`Topic "${stream}" does not exist.`, { cause: err });
      throw toUnavailable(err, 'Kafka metadata unavailable');
    }
  }

  async append(stream: string, records: LogRecordInput[]): Promise<void> {
    if (this.#closed) throw new UnavailableError('event log closed');
    if (records.length === 0) return;
    if (this.#pendingRecords + records.length > this.#options.maxPendingRecords) {
      throw new UnavailableError('event log queue is full', { retryAfterSeconds: 1 });
    }
    this.#pendingRecords += records.length;
    try {
      const partitions = await this.#partitionCount(stream);
      // A request's records share one key (the user), hence one partition; group anyway so a
      // request with several keys stays correct.
      const byPartition = Map.groupBy(records, (r) => partitionForKey(r.key, partitions));
      await Promise.all([...byPartition].map(([partition, group]) => this.#enqueue(`${stream}\u0000${partition}`, group)));
    } finally {
      this.#pendingRecords -= records.length;
    }
  }

  #enqueue(queueKey: string, records: LogRecordInput[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const queue = this.#queues.get(queueKey) ?? [];
      queue.push({ records, resolve, reject });
      this.#queues.set(queueKey, queue);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const [queueKey, pending] of this.#queues) {
      this.#queues.delete(queueKey);
      const [stream = '', partition = '0'] = queueKey.split('\u0000');
      const sent = this.#send(stream, Number(partition), pending);
      this.#inFlight.add(sent);
      void sent.finally(() => this.#inFlight.delete(sent));
    }
  }

  async #send(stream: string, partition: number, pending: Pending[]): Promise<void> {
    const messages = pending.flatMap((p) =>
      p.records.map((r) => ({
        topic: stream,
        partition,
        key: Buffer.from(r.key),
        value: r.value,
        headers: new Map(Object.entries(r.headers ?? {}).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
      })),
    );
    try {
      await withDeadline(this.#producer.send({ messages }), this.#options.timeoutMs, 'producing to Kafka');
      for (const p of pending) p.resolve();
    } catch (err) {
      if (isUnknownTopic(err)) this.#partitions.delete(stream);
      const mapped = isUnknownTopic(err) ? new NotFoundError(`Topic "${stream}" does not exist.`, { cause: err }) : toUnavailable(err, 'Kafka did not acknowledge the records');
      this.#options.logger.warn({ err, stream, partition, records: messages.length }, 'produce failed');
      for (const p of pending) p.reject(mapped);
    }
  }

  async createStream(name: string, options: CreateStreamOptions = {}): Promise<void> {
    try {
      await withDeadline(
        this.#admin.createTopics({
          topics: [name],
          partitions: options.partitions ?? this.#options.defaultPartitions,
          replicas: options.replicationFactor ?? this.#options.replicationFactor,
          configs: Object.entries(options.config ?? {}).map(([configName, value]) => ({ name: configName, value })),
        }),
        Math.max(this.#options.timeoutMs, 10_000),
        'creating a topic',
      );
    } catch (err) {
      throw toAdminError(err, name);
    }
    // The controller has created it; wait until brokers serve its metadata, so that what we
    // created is listed and writable as soon as we return.
    await this.#until(async () => {
      const metadata = await this.#admin.metadata({ topics: [name], forceUpdate: true }).catch(() => undefined);
      return (metadata?.topics.get(name)?.partitionsCount ?? 0) > 0;
    });
  }

  /** Polls `done` with back-off until it holds or the admin deadline passes (then returns anyway). */
  async #until(done: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + Math.max(this.#options.timeoutMs, 10_000);
    for (let delay = 10; Date.now() < deadline; delay = Math.min(delay * 2, 200)) {
      if (await done().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  async ensureStream(name: string, options: CreateStreamOptions = {}): Promise<void> {
    if ((await this.#topicNames()).includes(name)) return;
    try {
      await this.createStream(name, options);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }

  async #topicNames(): Promise<string[]> {
    try {
      return await withDeadline(this.#admin.listTopics(), this.#options.timeoutMs * 2, 'listing topics');
    } catch (err) {
      throw toUnavailable(err, 'Kafka admin request failed');
    }
  }

  async deleteStream(name: string): Promise<void> {
    // Kafka retries a delete of an unknown topic for a while; answer 404 at once instead.
    if (!(await this.#topicNames()).includes(name)) throw new NotFoundError(`Topic "${name}" does not exist.`);
    try {
      await withDeadline(this.#admin.deleteTopics({ topics: [name] }), Math.max(this.#options.timeoutMs, 10_000), 'deleting a topic');
    } catch (err) {
      throw toAdminError(err, name);
    } finally {
      this.#partitions.delete(name);
    }
    // As for creation: the controller has deleted it; wait until the broker no longer lists it.
    await this.#until(async () => !(await this.#topicNames()).includes(name));
  }

  async listStreams(): Promise<StreamInfo[]> {
    const names = (await this.#topicNames()).filter((n) => !n.startsWith('__')).sort();
    if (names.length === 0) return [];
    try {
      return await this.#describe(names);
    } catch (err) {
      if (!isUnknownTopic(err)) throw toUnavailable(err, 'Kafka admin request failed');
    }
    // A topic was deleted between listing and describing, which fails the whole request:
    // describe each on its own and leave out the ones that are gone.
    const each = await Promise.allSettled(names.map((name) => this.#describe([name])));
    return each.flatMap((result) => {
      if (result.status === 'fulfilled') return result.value;
      if (isUnknownTopic(result.reason)) return [];
      throw toUnavailable(result.reason, 'Kafka admin request failed');
    });
  }

  async #describe(names: string[]): Promise<StreamInfo[]> {
    const metadata = await withDeadline(this.#admin.metadata({ topics: [...names], forceUpdate: true }), this.#options.timeoutMs * 2, 'Kafka metadata');
    return names.flatMap((name) => {
      const topic = metadata.topics.get(name);
      return topic ? [{ name, partitions: topic.partitionsCount, replicationFactor: topic.partitions[0]?.replicas.length ?? 0 }] : [];
    });
  }

  consumer(options: ConsumerOptions): EventLogConsumer {
    const consumer = new KafkaConsumer({
      ...options,
      brokers: this.#options.brokers,
      clientId: this.#options.clientId,
      timeoutMs: this.#options.timeoutMs,
      logger: this.#options.logger,
      onClose: () => this.#consumers.delete(consumer),
    });
    this.#consumers.add(consumer);
    return consumer;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Acknowledge or fail what is queued before closing the producer.
    if (this.#flushScheduled) this.#flush();
    await Promise.allSettled([...this.#inFlight]);
    await Promise.allSettled([...this.#consumers].map((c) => c.close()));
    await Promise.allSettled([
      withDeadline(this.#producer.close(), 5000, 'closing the producer'),
      withDeadline(this.#admin.close(), 5000, 'closing the admin client'),
    ]);
  }
}
