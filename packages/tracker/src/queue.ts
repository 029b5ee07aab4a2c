import { retryDelayMs } from './backoff.ts';
import { IdbQueueStore } from './idb-store.ts';
import { type KeyValue, LocalQueueStore, type QueueStore } from './storage.ts';
import { batchBody, beacon, eventsUrl, post } from './transport.ts';
import type { EventFields, Queued, TokenSource, TrackedEvent, TrackerOptions } from './types.ts';
import { uuid } from './uuid.ts';

/** What the queue needs from the browser; tests pass fakes. */
export interface QueueEnv {
  storage: KeyValue | undefined;
  /** IndexedDB, where unsent events are kept when it opens (else `storage`). */
  idb?: IDBFactory | undefined;
  fetch: typeof fetch;
  sendBeacon?: ((url: string, data: string) => boolean) | undefined;
  now: () => number;
  random: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

/** A beaconed event is sent again (by fetch, whose answer we read) once this has passed. */
export const BEACON_GRACE_MS = 10_000;
/** Other pages' stored events are taken over after this long without a write. */
export const STALE_MS = 10_000;

type Settings = Required<Omit<TrackerOptions, 'onError' | 'token' | 'endpoint'>> & Pick<TrackerOptions, 'onError'>;

/**
 * The delivery queue: every event gets its `event_id` and `occurred_at` when it is created and
 * is stored at once (IndexedDB, else localStorage); batches leave when `batchSize` events wait or `flushIntervalMs` after the
 * first; a batch is removed only once the service answered 2xx, so a failed or unanswered send
 * is sent again with the same ids (the service counts each id once). Failures back off
 * exponentially with jitter, never sooner than `Retry-After`. One send at a time.
 */
export class EventQueue {
  readonly #env: QueueEnv;
  readonly #s: Settings;
  readonly #url: string;
  readonly #token: TokenSource;
  readonly #store: QueueStore;
  #q: Queued[] = [];
  #sending = new Set<Queued>();
  #running: Promise<void> | undefined;
  #timer: unknown;
  #attempt = 0;
  #retryAt = 0;
  #limit: number;
  #lastToken: string | undefined;
  #stopped = false;

  constructor(options: TrackerOptions, settings: Settings, env: QueueEnv, pageId = uuid()) {
    this.#env = env;
    this.#s = settings;
    this.#url = eventsUrl(options.endpoint);
    this.#token = options.token;
    this.#limit = settings.batchSize;
    if (typeof options.token === 'string') this.#lastToken = options.token;
    const local = new LocalQueueStore(env.storage, pageId);
    this.#store = env.idb ? new IdbQueueStore(env.idb, pageId, local) : local;
  }

  /** Events not yet acknowledged. */
  get pending(): readonly TrackedEvent[] {
    return this.#q.map((x) => x.e);
  }

  add(type: string, fields: EventFields = {}): TrackedEvent | undefined {
    if (this.#stopped) return undefined;
    const e: TrackedEvent = { event_id: uuid(), type, occurred_at: new Date(this.#env.now()).toISOString(), ...fields };
    this.#q.push({ e });
    const over = this.#q.length - this.#s.maxQueue;
    if (over > 0) {
      this.#q.splice(0, over);
      this.#s.onError?.({ status: 0, dropped: over, detail: 'queue full' });
    }
    this.#save();
    if (this.#ready().length >= this.#limit && this.#env.now() >= this.#retryAt) void this.flush();
    else this.#schedule();
    return e;
  }

  /** Takes over the events of pages that are gone, and sends what waits. */
  async adopt(): Promise<void> {
    const adopted = await this.#store.adopt(this.#env.now(), STALE_MS);
    if (this.#stopped) return;
    const mine = new Set(this.#q.map((x) => x.e.event_id));
    for (const x of adopted) if (!mine.has(x.e.event_id)) this.#q.push(x);
    if (adopted.length > 0) this.#save();
    this.#schedule();
  }

  /** Sends every event that can go now; resolves when each was tried once. */
  flush(): Promise<void> {
    this.#clearTimer();
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
      this.#schedule();
    });
    return this.#running;
  }

  /** The network is back: no reason to wait out the back-off. */
  online(): Promise<void> {
    this.#attempt = 0;
    this.#retryAt = 0;
    return this.flush();
  }

  /**
   * The page is going away (pagehide, hidden): hand what waits to the browser as beacons, now,
   * synchronously. The events stay stored until a send we can read succeeds: a beacon's answer
   * (a 503, say) is never seen, so a page still alive after BEACON_GRACE_MS, or the next page
   * of the site, sends them again.
   */
  beacon(): void {
    const now = this.#env.now();
    const due = this.#ready().filter((x) => !this.#sending.has(x));
    const token = this.#syncToken();
    if (due.length > 0 && token !== undefined) {
      const taken = beacon(this.#env, this.#url, token, due.map((x) => x.e), now);
      for (const x of due.slice(0, taken)) x.b = now;
    }
    this.#save();
  }

  stop(forget: boolean): void {
    this.#stopped = true;
    this.#clearTimer();
    if (forget) {
      this.#q = [];
      this.#store.clearAll();
    }
  }

  #ready(): Queued[] {
    const now = this.#env.now();
    return this.#q.filter((x) => x.b === undefined || now - x.b >= BEACON_GRACE_MS);
  }

  async #drain(): Promise<void> {
    while (!this.#stopped && this.#env.now() >= this.#retryAt) {
      const batch = this.#ready().slice(0, this.#limit);
      if (batch.length === 0) return;
      for (const x of batch) this.#sending.add(x);
      try {
        if (!(await this.#send(batch))) return;
      } finally {
        for (const x of batch) this.#sending.delete(x);
      }
    }
  }

  /** One attempt; false when the queue must wait (back-off). */
  async #send(batch: Queued[]): Promise<boolean> {
    let token: string;
    try {
      token = typeof this.#token === 'function' ? await this.#token() : this.#token;
      this.#lastToken = token;
    } catch {
      return this.#backOff(null);
    }
    const outcome = await post(this.#env.fetch, this.#url, token, batchBody(batch.map((x) => x.e), this.#env.now()));
    switch (outcome.kind) {
      case 'ok':
        this.#attempt = 0;
        this.#remove(batch);
        return true;
      case 'retry':
        return this.#backOff(outcome.retryAfter);
      case 'split':
        if (batch.length > 1) this.#limit = Math.ceil(batch.length / 2);
        else this.#drop(batch, 413, 'event too large');
        return true;
      case 'drop': {
        const bad = outcome.bad.length > 0 ? batch.filter((_, i) => outcome.bad.includes(i)) : batch;
        this.#drop(bad, outcome.status, outcome.detail);
        return true;
      }
    }
  }

  #backOff(retryAfter: string | null): false {
    const now = this.#env.now();
    this.#retryAt = now + retryDelayMs(this.#attempt++, retryAfter, { minMs: this.#s.retryMinMs, maxMs: this.#s.retryMaxMs, now, random: this.#env.random() });
    this.#save();
    return false;
  }

  #drop(batch: Queued[], status: number, detail: string | undefined): void {
    this.#remove(batch);
    this.#s.onError?.({ status, dropped: batch.length, ...(detail === undefined ? {} : { detail }) });
  }

  #remove(batch: Queued[]): void {
    const gone = new Set(batch);
    this.#q = this.#q.filter((x) => !gone.has(x));
    this.#save();
  }

  #save(): void {
    if (!this.#stopped) this.#store.save(this.#q, this.#env.now());
  }

  /** A token usable without waiting: the function's, if it answers at once, else the last one. */
  #syncToken(): string | undefined {
    if (typeof this.#token === 'function') {
      try {
        const t = this.#token();
        if (typeof t === 'string') this.#lastToken = t;
        else t.then((v) => (this.#lastToken = v), () => undefined);
      } catch {
        // keep the last one
      }
    }
    return this.#lastToken;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#running !== undefined || this.#stopped || this.#q.length === 0) return;
    const now = this.#env.now();
    const ready = this.#ready().length;
    let delay: number;
    if (now < this.#retryAt) delay = this.#retryAt - now;
    else if (ready === 0) delay = Math.min(...this.#q.map((x) => (x.b ?? now) + BEACON_GRACE_MS - now));
    else delay = ready >= this.#limit ? 0 : this.#s.flushIntervalMs;
    this.#timer = this.#env.setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, Math.max(0, delay));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#env.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
