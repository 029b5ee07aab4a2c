import { Admin, type MessageToProduce, type Producer } from '@platformatic/kafka';
import { ConflictError, NotFoundError, UnavailableError } from '../../domain/errors.ts';
import type { ConsumerOptions, CreateStreamOptions, EventLog, EventLogConsumer, LogRecordInput, StreamInfo } from '../../ports/event-log.ts';
import type { Logger } from '../../observability/logger.ts';
import { AppendQueue } from './kafka-append-queue.ts';
import { KafkaConsumer } from './kafka-consumer.ts';
import { newProducer } from './kafka-producer.ts';
import { errorCauses, isUnknownTopic, toAdminError, toUnavailable, withDeadline } from './kafka-errors.ts';
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
  /** min.insync.replicas of topics created with replication factor >= 3 (acks=all then means this many copies). */
  minInsyncReplicas: number;
  /** Static membership id of this process's consumers (`group.instance.id`); unset: dynamic. */
  groupInstanceId?: string;
  logger: Logger;
}

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

const PARTITION_CACHE_MS = 30_000;

/**
 * The event log on Apache Kafka. The producer is idempotent and waits for all in-sync replicas
 * (acks=all), so an acknowledged record survives the loss of a broker and a retried send is never
 * written twice. We choose partitions ourselves with Kafka's own murmur2 partitioner (the same
 * placement as the embedded log). Appends go through `AppendQueue`: one produce request in flight
 * per partition, what arrives meanwhile coalesced into the next (under load many HTTP requests
 * share one round trip, and each request still lands in one record batch, atomically), and every
 * append answered by `timeoutMs`, unsent ones refused rather than written after their 503.
 */
export class KafkaEventLog implements EventLog {
  readonly kind = 'kafka';
  #options: KafkaEventLogOptions;
  #admin: Admin;
  #producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  #partitions = new Map<string, { count: number; at: number }>();
  #queue: AppendQueue<Message>;
  #pendingRecords = 0;
  #replacedAt = 0;
  #consumers = new Set<KafkaConsumer>();
  #closed = false;

  constructor(options: KafkaEventLogOptions) {
    this.#options = options;
    this.#admin = new Admin({
      clientId: options.clientId,
      bootstrapBrokers: options.brokers,
      timeout: options.timeoutMs,
      // Passed through to each connection: a broker that does not answer (paused, partitioned)
      // fails the request after this instead of the client's default 30 s.
      requestTimeout: Math.max(options.timeoutMs, 5000),
      connectTimeout: options.timeoutMs,
      retries: 3,
      retryDelay: 100,
    });
    this.#producer = newProducer(this.#options);
    this.#queue = new AppendQueue<Message>({
      send: (stream, partition, messages) => this.#send(stream, partition, messages),
      deadlineMs: options.timeoutMs,
      // A request still retrying this long is against a broker that does not answer (paused,
      // cut off) or on stale leaders: its appends were answered 503 long ago. A fresh producer
      // (new producer id, fresh metadata) takes the partition over at once.
      stallMs: Math.max(3000, options.timeoutMs * 3),
      onStall: (stream, partition, waitedMs) => {
        options.logger.error({ stream, partition, waitedMs }, 'Kafka produce request unanswered; replacing the producer');
        const stuck = this.#producer;
        if (this.#replacedAt > Date.now() - 1000) return; // another lane replaced it just now
        this.#replacedAt = Date.now();
        this.#producer = newProducer(this.#options);
        void this.#producer.initIdempotentProducer({}).catch(() => undefined);
        // Other partitions' requests on it may still be answered: close it once they had time.
        setTimeout(() => void withDeadline(stuck.close(), 5000, 'closing a stuck producer').catch(() => undefined), 30_000).unref();
      },
    });
  }

  async start(): Promise<void> {
    // Connect and fetch cluster metadata now, so the first request does not pay for it.
    // The producer's id too: the first requests would otherwise pay for it and miss their deadline.
    try {
      await withDeadline(
        Promise.all([this.#admin.metadata({ topics: [] }), this.#producer.initIdempotentProducer({})]),
        Math.max(this.#options.timeoutMs, 10_000),
        'connecting to Kafka',
      );
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
      await Promise.all(
        [...byPartition].map(([partition, group]) =>
          this.#queue.enqueue(
            stream,
            partition,
            group.map((r) => ({
              topic: stream,
              partition,
              key: Buffer.from(r.key),
              value: r.value,
              headers: new Map(Object.entries(r.headers ?? {}).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
            })),
          ),
        ),
      );
    } finally {
      this.#pendingRecords -= records.length;
    }
  }

  /** One produce request for one partition (AppendQueue keeps one in flight per partition). */
  async #send(stream: string, partition: number, messages: Message[]): Promise<void> {
    const producer = this.#producer;
    try {
      await producer.send({ messages });
    } catch (err) {
      // Leaders may have moved: ask for fresh metadata before the next request.
      producer.clearMetadata();
      if (isUnknownTopic(err)) this.#partitions.delete(stream);
      const mapped = isUnknownTopic(err) ? new NotFoundError(`Topic "${stream}" does not exist.`, { cause: err }) : toUnavailable(err, 'Kafka did not acknowledge the records');
      this.#options.logger.warn({ err, causes: errorCauses(err), stream, partition, records: messages.length }, 'produce failed');
      throw mapped;
    }
  }

  async createStream(name: string, options: CreateStreamOptions = {}): Promise<void> {
    const replicationFactor = options.replicationFactor ?? this.#options.replicationFactor;
    // acks=all waits only for the in-sync replicas; without a floor an acknowledged record may
    // live on one broker. With 3+ replicas, require `minInsyncReplicas` copies (one broker may be down).
    const config = {
      ...(replicationFactor >= 3 ? { 'min.insync.replicas': String(this.#options.minInsyncReplicas) } : {}),
      ...options.config,
    };
    try {
      await withDeadline(
        this.#admin.createTopics({
          topics: [name],
          partitions: options.partitions ?? this.#options.defaultPartitions,
          replicas: replicationFactor,
          configs: Object.entries(config).map(([configName, value]) => ({ name: configName, value })),
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
      ...(this.#options.groupInstanceId ? { instanceId: this.#options.groupInstanceId } : {}),
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
    await this.#queue.drain();
    await Promise.allSettled([...this.#consumers].map((c) => c.close()));
    await Promise.allSettled([
      withDeadline(this.#producer.close(), 5000, 'closing the producer'),
      withDeadline(this.#admin.close(), 5000, 'closing the admin client'),
    ]);
  }
}
