import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import { NotFoundError } from '../../domain/errors.ts';
import { isUnknownTopic, toUnavailable } from './kafka-errors.ts';

export type Msg = Message<Buffer, Buffer, Buffer, Buffer>;

/** What one incarnation of group membership needs to know. */
export interface MemberOptions {
  brokers: string[];
  clientId: string;
  group: string;
  stream: string;
  from: 'earliest' | 'latest';
  /** Per-request deadline (ms) of the client: a broker that does not answer fails the request. */
  requestTimeoutMs: number;
  /** Static membership (`group.instance.id`): a restart within the session keeps its partitions. */
  instanceId?: string;
  /** `records` arrived for the partitions this member owns. */
  onMessage: (message: Msg) => void;
  /** The group gave this member `partitions` (of `stream`), every time membership changes. */
  onAssignment: (partitions: Set<number>) => void;
  /** The member can no longer consume (stream destroyed, group lost); it must be replaced. */
  onFailure: (err: unknown) => void;
}

/**
 * One Kafka consumer-group member and its message stream. @platformatic/kafka destroys the
 * stream on a fetch that fails its retries (a broker killed, a leader moving), and a destroyed
 * stream untracks its topic while the client keeps heartbeating: the member stays in the group
 * subscribed to nothing, and as leader it assigns nothing to anyone. So a member is never
 * repaired in place: the first failure of the stream or of the group session reports
 * `onFailure` once, and the owner closes it (leaving the group, so the others take its
 * partitions at once) and starts a fresh one.
 */
export class KafkaMember {
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  /** Partitions of the stream this member holds; undefined until the first assignment. */
  owned: Set<number> | undefined;
  /** Time (ms since the epoch) of the last fetch answer or failure: the stream is alive. */
  lastFetchAt = Date.now();
  #options: MemberOptions;
  /** Between a rebalance notice (heartbeat error) and the next completed join. */
  #rebalancing = false;
  #settled: (() => void)[] = [];
  #failed = false;
  #closing = false;

  constructor(options: MemberOptions) {
    this.#options = options;
    this.consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      clientId: options.clientId,
      groupId: options.group,
      ...(options.instanceId ? { groupInstanceId: options.instanceId } : {}),
      bootstrapBrokers: options.brokers,
      timeout: options.requestTimeoutMs,
      // Passed through to every connection: without it a request to a paused broker waits 30 s.
      requestTimeout: options.requestTimeoutMs,
      connectTimeout: Math.min(options.requestTimeoutMs, 5000),
      retries: 3,
      retryDelay: 250,
      // A member that dies is noticed within the session timeout and its partitions move on;
      // heartbeats are timers on our event loop, so a batch must never hold it for 10 s.
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1000,
      // Eager round-robin, not cooperative-sticky: a cooperative member's JoinGroup metadata
      // (owned partitions, generation) changes every round, so each of the client's extra
      // JoinGroups (a commit that meets a rebalance re-joins too) started yet another rebalance
      // — a loop of one rebalance a second, seen in test/chaos. Static membership
      // (`instanceId`) is what spares restarts their rebalance.
      autocommit: false,
      maxWaitTime: 500,
    });
    this.consumer.on('consumer:group:join', ({ assignments }: { assignments?: { topic: string; partitions: number[] }[] }) => {
      if (!assignments) return;
      this.owned = new Set(assignments.filter((a) => a.topic === options.stream).flatMap((a) => a.partitions));
      this.#stable();
      options.onAssignment(this.owned);
    });
    this.consumer.on('consumer:group:rebalance', () => {
      this.#rebalancing = true;
    });
    this.consumer.on('consumer:heartbeat:error', () => {
      this.#rebalancing = true;
    });
    this.consumer.on('consumer:heartbeat:end', () => this.#stable());
    // The client emits 'error' when a re-join after a lost session fails: it sends no more
    // heartbeats, so this member is out of the group for good.
    this.consumer.on('error', (err: unknown) => this.#fail(err));
  }

  /** Joins the group and opens the stream. @throws NotFoundError, UnavailableError */
  async start(): Promise<void> {
    try {
      this.stream = await this.consumer.consume({
        topics: [this.#options.stream],
        mode: 'committed',
        fallbackMode: this.#options.from,
      });
    } catch (err) {
      if (isUnknownTopic(err)) throw new NotFoundError(`Topic "${this.#options.stream}" does not exist.`, { cause: err });
      throw toUnavailable(err, 'Kafka consumer could not join its group');
    }
    const stream = this.stream;
    stream.on('data', (message: Msg) => this.#options.onMessage(message));
    stream.on('fetch', () => {
      this.lastFetchAt = Date.now();
    });
    stream.on('error', (err: unknown) => this.#fail(err));
    stream.on('close', () => this.#fail(new Error('the consumer stream closed')));
  }

  #stable(): void {
    this.#rebalancing = false;
    for (const wake of this.#settled.splice(0)) wake();
  }

  /**
   * Resolves once no rebalance is under way (or after `ms`). A commit sent mid-rebalance fails
   * and makes the client re-join a second time, which restarts the rebalance for everyone.
   */
  async settled(ms: number): Promise<void> {
    if (!this.#rebalancing) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#settled.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #fail(err: unknown): void {
    if (this.#failed || this.#closing) return;
    this.#failed = true;
    this.#options.onFailure(err);
  }

  /** Closes the stream and leaves the group; never throws, bounded by the deadlines given. */
  async close(): Promise<void> {
    this.#closing = true;
    const bounded = (p: Promise<unknown>, ms: number) =>
      Promise.race([p.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
    await bounded(this.stream?.close() ?? Promise.resolve(), 5000);
    // A close whose LeaveGroup fails leaves the client open (and heartbeating): try again, so a
    // replaced member never lingers in the group.
    for (let attempt = 0; attempt < 5 && !this.#closed(); attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 1000 * attempt).unref());
      await bounded(this.consumer.close(true), 10_000);
    }
  }

  #closed(): boolean {
    return this.consumer.closed;
  }
}
