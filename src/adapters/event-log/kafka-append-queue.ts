import { UnavailableError } from '../../domain/errors.ts';

/** Sends `records` of one partition in one produce request; resolves when acknowledged. */
export type SendBatch<T> = (stream: string, partition: number, records: T[]) => Promise<void>;

export interface AppendQueueOptions<T> {
  send: SendBatch<T>;
  /** Longest wait of one append, from `enqueue` to its acknowledgement, before it fails (ms). */
  deadlineMs: number;
  /** A send unsettled this long means the producer is stuck: `onStall` runs and the lane is freed (ms). */
  stallMs: number;
  onStall: (stream: string, partition: number, waitedMs: number) => void;
}

interface Waiting<T> {
  records: T[];
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
  /** Answered already (acknowledged, failed or timed out). */
  settled: boolean;
  /** Handed to a send: it may still be written after its deadline. */
  sent: boolean;
  /** When its deadline passes (ms since the epoch). */
  deadline: number;
}

interface Lane<T> {
  waiting: Waiting<T>[];
  /** Smoothed duration of this lane's recent requests (ms); 0 before the first. */
  latencyMs: number;
  /** The send in flight, if any, and when it started (ms since the epoch). */
  inFlight: { promise: Promise<void>; since: number } | undefined;
  scheduled: boolean;
}

/**
 * Appends waiting for Kafka, one lane per partition with at most one produce request in flight
 * per lane: what arrives while a request is out is coalesced into the next one, so a slow or
 * failing broker makes its lanes' batches bigger, not the client's queue of requests longer.
 *
 * Every append is answered by its deadline. One still waiting in its lane at the deadline is
 * removed and never written — the client's retry cannot meet an old copy in the log; one
 * already sent is answered `UnavailableError` at the deadline too (its request cannot be called
 * back and may still be written; the event id makes the retry count once). One with less time
 * left, when its lane frees, than the lane's requests take (smoothed, capped at half the
 * deadline) is refused unsent at once, so an overloaded cluster is not fed writes whose clients
 * have already been told 503 and will send them again. A request that
 * outlives `stallMs` frees its lane (the producer is replaced by `onStall`), so one lost
 * answer never stops a partition.
 */
export class AppendQueue<T> {
  #options: AppendQueueOptions<T>;
  #lanes = new Map<string, Lane<T>>();
  #watchdog: NodeJS.Timeout;

  constructor(options: AppendQueueOptions<T>) {
    this.#options = options;
    this.#watchdog = setInterval(() => this.#checkStalls(), Math.max(100, Math.min(1000, options.stallMs / 4))).unref();
  }

  /** Resolves once the broker acknowledged `records`. @throws UnavailableError after the deadline */
  enqueue(stream: string, partition: number, records: T[]): Promise<void> {
    const key = `${stream}\u0000${partition}`;
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { waiting: [], latencyMs: 0, inFlight: undefined, scheduled: false };
      this.#lanes.set(key, lane);
    }
    const theLane = lane;
    return new Promise<void>((resolve, reject) => {
      const waiting: Waiting<T> = {
        records,
        resolve,
        reject,
        settled: false,
        sent: false,
        deadline: Date.now() + this.#options.deadlineMs,
        timer: setTimeout(() => {
          if (waiting.settled) return;
          waiting.settled = true;
          if (!waiting.sent) theLane.waiting.splice(theLane.waiting.indexOf(waiting), 1);
          const what = waiting.sent ? 'no acknowledgement from Kafka' : 'not sent: the partition’s previous request is still unanswered';
          reject(new UnavailableError(`${what} within ${this.#options.deadlineMs} ms`, { retryAfterSeconds: 1 }));
        }, this.#options.deadlineMs),
      };
      theLane.waiting.push(waiting);
      this.#schedule(stream, partition, theLane);
    });
  }

  /** Sends on the next turn of the event loop, so the appends of one turn share a request. */
  #schedule(stream: string, partition: number, lane: Lane<T>): void {
    if (lane.scheduled || lane.inFlight || lane.waiting.length === 0) return;
    lane.scheduled = true;
    setImmediate(() => {
      lane.scheduled = false;
      this.#dispatch(stream, partition, lane);
    });
  }

  #dispatch(stream: string, partition: number, lane: Lane<T>): void {
    if (lane.inFlight || lane.waiting.length === 0) return;
    const now = Date.now();
    // An append with less time left than a request takes would be answered 503 and written
    // anyway, and its client's retry written again: refuse it now, unsent. The estimate is capped
    // at half the deadline so that a slow spell cannot refuse everything (and never measure again).
    const needed = Math.min(lane.latencyMs, this.#options.deadlineMs / 2);
    const batch: Waiting<T>[] = [];
    for (const w of lane.waiting.splice(0)) {
      if (w.deadline - now >= needed) batch.push(w);
      else this.#settle([w], new UnavailableError(`not sent: ${w.deadline - now} ms left, Kafka answers in about ${Math.round(lane.latencyMs)} ms`, { retryAfterSeconds: 1 }));
    }
    if (batch.length === 0) return;
    for (const w of batch) w.sent = true;
    const promise = this.#options.send(stream, partition, batch.flatMap((w) => w.records)).then(
      () => this.#settle(batch, undefined),
      (err: unknown) => this.#settle(batch, err ?? new Error('send failed')),
    );
    const inFlight = { promise, since: now };
    lane.inFlight = inFlight;
    void promise.finally(() => {
      // Capped: one request that outlived the deadline (a broker lost) must not refuse the next ones.
      const took = Math.min(Date.now() - now, this.#options.deadlineMs);
      lane.latencyMs = lane.latencyMs === 0 ? took : lane.latencyMs * 0.7 + took * 0.3;
      if (lane.inFlight !== inFlight) return; // freed by the watchdog already
      lane.inFlight = undefined;
      this.#schedule(stream, partition, lane);
    });
  }

  #settle(batch: Waiting<T>[], err: unknown): void {
    for (const w of batch) {
      if (w.settled) continue;
      w.settled = true;
      clearTimeout(w.timer);
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }

  #checkStalls(): void {
    const now = Date.now();
    for (const [key, lane] of this.#lanes) {
      if (!lane.inFlight || now - lane.inFlight.since < this.#options.stallMs) continue;
      const [stream = '', partition = '0'] = key.split('\u0000');
      const waited = now - lane.inFlight.since;
      lane.inFlight = undefined;
      this.#options.onStall(stream, Number(partition), waited);
      this.#schedule(stream, Number(partition), lane);
    }
  }

  /**
   * For a graceful close: resolves once every append enqueued so far is answered (each is
   * answered by its deadline at the latest), then stops the watchdog.
   */
  async drain(): Promise<void> {
    for (;;) {
      const lanes = [...this.#lanes.values()];
      const busy = lanes.flatMap((lane) => (lane.inFlight ? [lane.inFlight.promise] : []));
      if (busy.length === 0 && lanes.every((lane) => lane.waiting.length === 0)) break;
      if (busy.length > 0) await Promise.allSettled(busy);
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    clearInterval(this.#watchdog);
  }
}
