import type { Queued } from './types.ts';

/** The part of `localStorage` the tracker uses (a fake in tests). */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  key(index: number): string | null;
  readonly length: number;
}

const PREFIX = 'ugc:q:';
export const OPT_OUT_KEY = 'ugc:optout';

/** Where a page keeps its unsent events (IndexedDB in browsers, `localStorage` without it). */
export interface QueueStore {
  /** Replaces this page's stored events (an empty queue removes its key). */
  save(queue: readonly Queued[], now: number): void;
  /** Removes and returns the events of other pages' keys not written for `staleMs`. */
  adopt(now: number, staleMs: number): Promise<Queued[]>;
  /** Forgets every page's events (opt-out). */
  clearAll(): void;
}

/** The opt-out, kept in `localStorage`: `init` must know it at once. */
export function optedOut(kv: KeyValue | undefined): boolean {
  try {
    return kv?.getItem(OPT_OUT_KEY) === '1';
  } catch {
    return false;
  }
}

export function setOptedOut(kv: KeyValue | undefined, value: boolean): void {
  try {
    if (value) kv?.setItem(OPT_OUT_KEY, '1');
    else kv?.removeItem(OPT_OUT_KEY);
  } catch {
    // Without storage the choice lasts as long as the page.
  }
}

/**
 * Unsent events in `localStorage` (the fallback when IndexedDB cannot be opened), so a reload or
 * a closed tab loses nothing that was tracked. Each page keeps its own key (`ugc:q:<page id>`, with the time of its last write):
 * two tabs writing one shared key would overwrite each other's events. A page takes over the keys
 * other pages left behind once they have been quiet for `staleMs` (closed, crashed, or a
 * throttled background tab — then both may send the same events, which the service counts
 * once by `event_id`). Storage failures (private mode, quota) leave the tracker working in memory.
 */
export class LocalQueueStore implements QueueStore {
  readonly #kv: KeyValue | undefined;
  readonly #key: string;

  constructor(kv: KeyValue | undefined, pageId: string) {
    this.#kv = kv;
    this.#key = PREFIX + pageId;
  }

  save(queue: readonly Queued[], now: number): void {
    try {
      if (queue.length === 0) this.#kv?.removeItem(this.#key);
      else this.#kv?.setItem(this.#key, JSON.stringify({ t: now, q: queue }));
    } catch {
      // Quota or disabled storage: the events are still in memory.
    }
  }

  adopt(now: number, staleMs: number): Promise<Queued[]> {
    const adopted: Queued[] = [];
    for (const key of this.#keys()) {
      if (key === this.#key) continue;
      try {
        const saved = JSON.parse(this.#kv?.getItem(key) ?? 'null') as { t?: number; q?: Queued[] } | null;
        if (saved !== null && now - (saved.t ?? 0) < staleMs) continue;
        this.#kv?.removeItem(key);
        if (Array.isArray(saved?.q)) adopted.push(...saved.q.filter((x) => typeof x?.e?.event_id === 'string'));
      } catch {
        this.#kv?.removeItem(key);
      }
    }
    return Promise.resolve(adopted);
  }

  clearAll(): void {
    for (const key of this.#keys()) this.#kv?.removeItem(key);
  }

  #keys(): string[] {
    const keys: string[] = [];
    try {
      for (let i = 0; i < (this.#kv?.length ?? 0); i++) {
        const key = this.#kv?.key(i);
        if (key?.startsWith(PREFIX)) keys.push(key);
      }
    } catch {
      // no storage
    }
    return keys;
  }
}
