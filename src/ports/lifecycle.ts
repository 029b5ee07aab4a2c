import type { Logger } from '../observability/logger.ts';

/** Every adapter is started once and closed once; `close()` is safe to call twice. */
export interface Lifecycle {
  start(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the backend answers; rejects with the reason otherwise (used by /readyz). */
  ping(): Promise<void>;
}

/** Closes every backend, even when some fail to close; the failures are logged. */
export async function closeAll(logger: Logger, backends: Lifecycle[]): Promise<void> {
  const results = await Promise.allSettled(backends.map((b) => b.close()));
  for (const r of results) if (r.status === 'rejected') logger.error({ err: r.reason as unknown }, 'close failed');
}
