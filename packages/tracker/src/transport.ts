import type { TrackedEvent } from './types.ts';

/**
 * One attempt to deliver a batch, and what to do next:
 * - `ok`: 2xx, the events are durably in the service's log;
 * - `retry`: nothing or a transient failure (network, 408, 429, 5xx; 401/403 too, since a token
 *   function may return a valid token later), with the server's `Retry-After`;
 * - `split`: 413, the batch is too large for the body limit;
 * - `drop`: another 4xx; `bad` lists the batch indices the Problem Details name (empty: all).
 */
export type Outcome =
  | { kind: 'ok' }
  | { kind: 'retry'; status: number; retryAfter: string | null }
  | { kind: 'split' }
  | { kind: 'drop'; status: number; bad: number[]; detail?: string };

/** Bodies a keepalive fetch or a beacon may carry (the browser's limit is 64 KiB in flight). */
export const KEEPALIVE_BYTES = 60_000;

const utf8 = new TextEncoder();

export const eventsUrl = (endpoint: string): string => `${endpoint.replace(/\/+$/, '')}/api/v1/events`;

export function batchBody(events: readonly TrackedEvent[], now: number, token?: string): string {
  return JSON.stringify({ ...(token === undefined ? {} : { access_token: token }), sent_at: new Date(now).toISOString(), events });
}

export async function post(fetchFn: typeof fetch, url: string, token: string, body: string): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
      credentials: 'omit',
      // Survives the page being closed while it is on its way; the browser caps keepalive bodies.
      keepalive: utf8.encode(body).length <= KEEPALIVE_BYTES,
    });
  } catch {
    return { kind: 'retry', status: 0, retryAfter: null };
  }
  const { status } = res;
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 413) return { kind: 'split' };
  if (status === 401 || status === 403 || status === 408 || status === 429 || status >= 500) {
    return { kind: 'retry', status, retryAfter: res.headers.get('retry-after') };
  }
  let problem: { detail?: string; errors?: { path?: string }[] } = {};
  try {
    problem = (await res.json()) as typeof problem;
  } catch {
    // not Problem Details
  }
  const bad = new Set<number>();
  for (const e of problem.errors ?? []) {
    const m = /^\/events\/(\d+)/.exec(e.path ?? '');
    if (m) bad.add(Number(m[1]));
  }
  return { kind: 'drop', status, bad: [...bad], ...(problem.detail === undefined ? {} : { detail: problem.detail }) };
}

/**
 * Sends events as the page goes away, without waiting for an answer: `navigator.sendBeacon`
 * (a `text/plain` body, no headers, so the token travels as `access_token` and no CORS
 * preflight is needed), else a keepalive fetch of the same body. Chunks stay under the browser's
 * beacon size limit. Returns the events the browser took.
 */
export function beacon(
  send: { sendBeacon?: ((url: string, data: string) => boolean) | undefined; fetch: typeof fetch },
  url: string,
  token: string,
  events: readonly TrackedEvent[],
  now: number,
): number {
  let taken = 0;
  let chunk: TrackedEvent[] = [];
  const go = (): boolean => {
    if (chunk.length === 0) return true;
    const body = batchBody(chunk, now, token);
    let ok = false;
    if (send.sendBeacon) ok = send.sendBeacon(url, body);
    if (!ok) {
      try {
        void send.fetch(url, { method: 'POST', body, keepalive: true, credentials: 'omit', headers: { 'content-type': 'text/plain;charset=UTF-8' } }).catch(() => undefined);
        ok = true;
      } catch {
        ok = false;
      }
    }
    if (ok) taken += chunk.length;
    chunk = [];
    return ok;
  };
  let size = 0;
  for (const e of events) {
    const bytes = utf8.encode(JSON.stringify(e)).length + 1;
    if (chunk.length > 0 && (size + bytes > KEEPALIVE_BYTES - 2000 || chunk.length >= 1000)) {
      if (!go()) return taken;
      size = 0;
    }
    chunk.push(e);
    size += bytes;
  }
  go();
  return taken;
}
