import type { QueueEnv } from '../src/queue.ts';
import type { KeyValue } from '../src/storage.ts';

/** localStorage over a Map. */
export class MemoryStorage implements KeyValue {
  readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
  key(index: number): string | null {
    return [...this.map.keys()][index] ?? null;
  }
  get length(): number {
    return this.map.size;
  }
}

export interface Sent {
  at: number;
  url: string;
  headers: Record<string, string>;
  body: { sent_at: string; access_token?: string; events: { event_id: string; type: string; occurred_at: string }[] };
}

/**
 * A browser for the queue: a clock that moves only when told, timers that fire when the clock
 * passes them, a fetch answered by `respond`, and a sendBeacon that records.
 */
export function fakeBrowser(respond: (sent: Sent, n: number) => Response | Error = () => new Response('{"accepted":1}', { status: 202 })) {
  let now = Date.parse('2026-01-01T12:00:00.000Z');
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const requests: Sent[] = [];
  const beacons: Sent[] = [];
  const storage = new MemoryStorage();
  const env: QueueEnv = {
    storage,
    now: () => now,
    random: () => 0.5,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    fetch: (input, init) => {
      const sent: Sent = {
        at: now,
        url: input instanceof Request ? input.url : input.toString(),
        headers: (init?.headers ?? {}) as Record<string, string>,
        body: JSON.parse(typeof init?.body === 'string' ? init.body : '{}') as Sent['body'],
      };
      requests.push(sent);
      const answer = respond(sent, requests.length);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    sendBeacon: (url, data) => {
      beacons.push({ at: now, url, headers: {}, body: JSON.parse(data) as Sent['body'] });
      return true;
    },
  };
  /** Lets pending promises (a send and its answer) run to completion. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  /** Moves the clock by `ms`, firing the timers it passes, in order. */
  const advance = async (ms: number): Promise<void> => {
    const end = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = Math.max(now, due[1].at);
      due[1].fn();
      await settle();
    }
    now = end;
    await settle();
  };
  return { env, storage, requests, beacons, settle, advance, now: () => now };
}
