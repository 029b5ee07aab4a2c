/** Every adapter is started once and closed once; `close()` is safe to call twice. */
export interface Lifecycle {
  start(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the backend answers; rejects with the reason otherwise (used by /readyz). */
  ping(): Promise<void>;
}
