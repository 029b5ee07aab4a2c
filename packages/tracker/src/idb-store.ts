import type { QueueStore } from './storage.ts';
import type { Queued } from './types.ts';

const DB = 'ugc-tracker';
const STORE = 'queues';

interface Saved {
  t: number;
  q: Queued[];
}

function open(idb: IDBFactory): Promise<IDBDatabase | undefined> {
  return new Promise((resolve) => {
    try {
      const request = idb.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(undefined);
      request.onblocked = () => resolve(undefined);
    } catch {
      resolve(undefined);
    }
  });
}

/**
 * Unsent events in IndexedDB, one record per page (as in `LocalQueueStore`, whose rules it
 * follows). IndexedDB because of what a killed browser keeps: Chromium writes `localStorage` to
 * disk seconds after a change, so a crash loses the events of those seconds, while an IndexedDB
 * transaction is handed to the disk as it commits (measured in test/browser/tracker.browser.ts).
 * Writes are coalesced to one transaction per task; taking over another page's record reads and
 * deletes it in one transaction, so two pages never both take it. Falls back to `fallback` when
 * the database cannot be opened (some private modes).
 */
export class IdbQueueStore implements QueueStore {
  readonly #db: Promise<IDBDatabase | undefined>;
  readonly #key: string;
  readonly #fallback: QueueStore;
  /** The latest state to write (null: delete), or undefined when nothing waits. */
  #next: Saved | null | undefined;

  constructor(idb: IDBFactory, pageId: string, fallback: QueueStore) {
    this.#db = open(idb);
    this.#key = pageId;
    this.#fallback = fallback;
  }

  save(queue: readonly Queued[], now: number): void {
    const first = this.#next === undefined;
    this.#next = queue.length === 0 ? null : { t: now, q: [...queue] };
    if (first) void this.#db.then((db) => this.#write(db));
  }

  #write(db: IDBDatabase | undefined): void {
    const next = this.#next;
    this.#next = undefined;
    if (next === undefined) return;
    if (db === undefined) return this.#fallback.save(next?.q ?? [], next?.t ?? 0);
    try {
      const store = db.transaction(STORE, 'readwrite').objectStore(STORE);
      if (next === null) store.delete(this.#key);
      else store.put(next, this.#key);
    } catch {
      this.#fallback.save(next?.q ?? [], next?.t ?? 0);
    }
  }

  async adopt(now: number, staleMs: number): Promise<Queued[]> {
    const db = await this.#db;
    if (db === undefined) return this.#fallback.adopt(now, staleMs);
    return new Promise((resolve) => {
      const adopted: Queued[] = [];
      try {
        const tx = db.transaction(STORE, 'readwrite');
        const cursor = tx.objectStore(STORE).openCursor();
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (!c) return;
          const saved = c.value as Partial<Saved> | undefined;
          if (c.key !== this.#key && now - (saved?.t ?? 0) >= staleMs) {
            if (Array.isArray(saved?.q)) adopted.push(...saved.q.filter((x) => typeof x?.e?.event_id === 'string'));
            c.delete();
          }
          c.continue();
        };
        tx.oncomplete = () => resolve(adopted);
        tx.onerror = tx.onabort = () => resolve([]);
      } catch {
        resolve([]);
      }
    });
  }

  clearAll(): void {
    this.#fallback.clearAll();
    void this.#db.then((db) => {
      try {
        db?.transaction(STORE, 'readwrite').objectStore(STORE).clear();
      } catch {
        // nothing stored
      }
    });
  }
}
