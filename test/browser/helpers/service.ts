import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mintToken } from '../../../src/api/auth.ts';
import { type RunningService, startService } from '../../helpers/service.ts';
import { type TempDir, makeTempDir } from '../../helpers/tmp.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

/** An event as `GET /api/v1/analytics/users/{id}/events` returns it. */
export interface StoredEvent {
  event_id: string;
  type: string;
  element: { kind: string; id: string } | null;
  film_id: string | null;
  occurred_at: string;
  started_at: string | null;
  ended_at: string | null;
  properties: Record<string, string | number | boolean>;
}

/**
 * The real service (`node src/main.ts serve`, the ETL in its thread) for a browser suite: a temp
 * DATA_DIR with the demo clip made by ffmpeg, the tracker bundle built from the current sources,
 * the demo page on, tokens minted with the suite's own secret.
 */
export async function startWebService(env: Record<string, string>, clipSeconds = 6): Promise<{
  service: RunningService;
  tmp: TempDir;
  token: (userId: string, admin?: boolean) => Promise<string>;
  userEvents: (userId: string) => Promise<StoredEvent[]>;
  newUser: () => string;
}> {
  const tmp = await makeTempDir('ugc-browser-');
  execFileSync('bash', [`${ROOT}scripts/demo-clip.sh`, String(clipSeconds)], { env: { ...process.env, DATA_DIR: tmp.dir }, stdio: 'pipe' });
  execFileSync(process.execPath, [`${ROOT}packages/tracker/build.ts`], { stdio: 'pipe' });
  const secret = randomBytes(32).toString('hex');
  const service = await startService({ DATA_DIR: tmp.dir, AUTH_JWT_SECRET: secret, DEMO_PAGE: 'true', ETL_BATCH_MAX_WAIT_MS: '100', ...env }, 'serve', 60_000);
  const token = (userId: string, admin = false) => mintToken({ secret, userId, admin, ttlSeconds: 3600 });
  const admin = await token('browser-admin', true);
  const userEvents = async (userId: string): Promise<StoredEvent[]> => {
    const res = await fetch(`${service.url}/api/v1/analytics/users/${encodeURIComponent(userId)}/events?limit=500`, { headers: { authorization: `Bearer ${admin}` } });
    if (res.status !== 200) throw new Error(`analytics answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { items: StoredEvent[] }).items;
  };
  return { service, tmp, token, userEvents, newUser: () => `web-${randomUUID().slice(0, 8)}` };
}

/** Polls until `done` holds, or fails with the last value after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (let delay = 50; Date.now() < deadline; delay = Math.min(delay * 2, 500)) {
    last = await probe();
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms; last value: ${JSON.stringify(last)?.slice(0, 2000)}`);
}
