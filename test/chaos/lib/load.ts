/**
 * Steady, bounded, seeded load as well-behaved clients send it: `rate` POSTs per second of
 * `eventsPerRequest` events with client-generated event ids, each retried with the same body
 * (same ids) after a 503 (honouring Retry-After), a 429, a timeout or a refused connection,
 * until it is acknowledged or the load is over. At most `maxInFlight` requests are out at once;
 * a tick that finds the limit reached sends nothing (the load stays bounded whatever the api does).
 */
import { eventInputs, seeded } from '../../../bench/lib/events.ts';

export interface Attempt {
  /** Request start and end (ms since the epoch). */
  start: number;
  end: number;
  /** HTTP status, or 0 for a timeout / connection error. */
  status: number;
}

export interface LoadOptions {
  url: string;
  tokens: string[];
  rate: number;
  eventsPerRequest: number;
  maxInFlight: number;
  seed: number;
  attemptTimeoutMs: number;
}

function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = (8 + Math.floor(random() * 4)).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class Load {
  readonly attempts: Attempt[] = [];
  /** Event ids the api acknowledged with 202. */
  readonly acked = new Set<string>();
  /** Event ids of requests given up (never acknowledged). */
  readonly abandoned = new Set<string>();
  /** Answers no client should ever get (4xx other than 429 to a valid request, 500). */
  readonly errors: string[] = [];
  offered = 0;
  skipped = 0;
  #options: LoadOptions;
  #random: () => number;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  #retrying = new Set<Promise<void>>();
  #stopped = false;
  /** Retries stop at this time (ms); set by `stop`. */
  #giveUpAt = Number.POSITIVE_INFINITY;

  constructor(options: LoadOptions) {
    this.#options = options;
    this.#random = seeded(options.seed);
  }

  start(): void {
    const interval = 1000 / this.#options.rate;
    let next = Date.now();
    const tick = () => {
      if (this.#stopped) return;
      const now = Date.now();
      while (next <= now) {
        next += interval;
        if (this.#inFlight >= this.#options.maxInFlight) {
          this.skipped += 1;
          continue;
        }
        this.#send();
      }
      this.#timer = setTimeout(tick, Math.max(1, next - Date.now()));
    };
    tick();
  }

  #send(): void {
    const random = this.#random;
    const token = this.#options.tokens[Math.floor(random() * this.#options.tokens.length)] ?? '';
    const events = eventInputs(this.#options.eventsPerRequest, random, Date.now()).map((e) => ({ ...e, event_id: uuid(random) }));
    const body = JSON.stringify({ sent_at: new Date().toISOString(), events });
    const ids = events.map((e) => e.event_id);
    this.offered += 1;
    this.#inFlight += 1;
    const done = this.#deliver(token, body, ids)
      .catch((err: unknown) => {
        this.errors.push(err instanceof Error ? err.message : String(err));
      })
      .finally(() => {
      this.#inFlight -= 1;
      this.#retrying.delete(done);
    });
    this.#retrying.add(done);
  }

  async #deliver(token: string, body: string, ids: string[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const start = Date.now();
      let status = 0;
      let retryAfterMs = 500;
      try {
        const res = await fetch(`${this.#options.url}/api/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.#options.attemptTimeoutMs),
        });
        status = res.status;
        const after = Number(res.headers.get('retry-after'));
        if (Number.isFinite(after) && after > 0) retryAfterMs = after * 1000;
        await res.body?.cancel();
      } catch {
        status = 0;
      }
      this.attempts.push({ start, end: Date.now(), status });
      if (status === 202) {
        for (const id of ids) this.acked.add(id);
        return;
      }
      if (status !== 0 && status !== 503 && status !== 429 && status !== 502 && status !== 504) {
        throw new Error(`the api answered ${status} to a valid request`);
      }
      // Jittered so retries after an outage do not arrive as one wave.
      const wait = Math.min(5000, retryAfterMs * (0.5 + this.#random() / 2) * Math.min(4, 1 + attempt / 2));
      if (Date.now() + wait > this.#giveUpAt) {
        for (const id of ids) this.abandoned.add(id);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Stops new requests; retries go on until `retryForMs` from now, then every request is settled. */
  async stop(retryForMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#giveUpAt = Date.now() + retryForMs;
    while (this.#retrying.size > 0) await Promise.allSettled([...this.#retrying]);
  }
}
