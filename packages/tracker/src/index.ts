import { markedFields, watchClicks } from './clicks.ts';
import { VideoSessions, watchVideos } from './media.ts';
import { pageFields, watchRoutes } from './pageviews.ts';
import { EventQueue, type QueueEnv } from './queue.ts';
import { IdbQueueStore } from './idb-store.ts';
import { LocalQueueStore, optedOut, setOptedOut } from './storage.ts';
import type { EventFields, TrackedEvent, TrackerOptions } from './types.ts';

export type { EventFields, Properties, TokenSource, TrackedEvent, TrackerOptions, UiElement } from './types.ts';

/**
 * The UGC Service's browser tracker:
 *
 *     ugc.init({ endpoint: 'https://ugc.cinema.example', token: () => auth.freshJwt() });
 *     ugc.track('search', { properties: { query: 'noir' } });
 *
 * `init` starts automatic page views (History API route changes too), click tracking of
 * elements marked `data-ugc-kind`/`data-ugc-id`, and video tracking of every `<video>`; events
 * are batched, stored (IndexedDB, else localStorage) until the service acknowledges them, retried with
 * back-off, and handed to `sendBeacon` when the page goes away. Do Not Track, Global Privacy
 * Control and `optOut()` turn it off.
 */
let queue: EventQueue | undefined;
let teardown: (() => void)[] = [];

function browserEnv(): QueueEnv {
  let storage: Storage | undefined;
  try {
    storage = window.localStorage;
  } catch {
    storage = undefined;
  }
  let idb: IDBFactory | undefined;
  try {
    idb = window.indexedDB;
  } catch {
    idb = undefined;
  }
  return {
    storage,
    idb,
    fetch: (input, init) => window.fetch(input, init),
    sendBeacon: typeof navigator.sendBeacon === 'function' ? (url, data) => navigator.sendBeacon(url, data) : undefined,
    now: () => Date.now(),
    random: () => Math.random(),
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (handle) => window.clearTimeout(handle as number),
  };
}

function doNotTrack(): boolean {
  const nav = navigator as Navigator & { globalPrivacyControl?: boolean; msDoNotTrack?: string };
  const win = window as Window & { doNotTrack?: string };
  return nav.doNotTrack === '1' || nav.doNotTrack === 'yes' || win.doNotTrack === '1' || nav.globalPrivacyControl === true;
}

/** Starts the tracker (a second call replaces the first). False when DNT, GPC or an opt-out keeps it off. */
export function init(options: TrackerOptions, env: QueueEnv = browserEnv()): boolean {
  stop(false);
  const settings = {
    batchSize: Math.min(1000, Math.max(1, options.batchSize ?? 20)),
    flushIntervalMs: options.flushIntervalMs ?? 2000,
    maxQueue: options.maxQueue ?? 1000,
    retryMinMs: options.retryMinMs ?? 1000,
    retryMaxMs: options.retryMaxMs ?? 60_000,
    progressIntervalS: options.progressIntervalS ?? 10,
    autoPageViews: options.autoPageViews ?? true,
    autoClicks: options.autoClicks ?? true,
    autoVideo: options.autoVideo ?? true,
    respectDoNotTrack: options.respectDoNotTrack ?? true,
    onError: options.onError,
  };
  if (optedOut(env.storage) || (settings.respectDoNotTrack && doNotTrack())) return false;
  const q = new EventQueue(options, settings, env);
  queue = q;
  void q.adopt();

  const listen = (target: EventTarget, type: string, fn: () => void): void => {
    target.addEventListener(type, fn);
    teardown.push(() => target.removeEventListener(type, fn));
  };
  const videos = new VideoSessions({
    emit: (type, fields) => q.add(type, fields),
    about: (video) => markedFields(video) ?? {},
    now: env.now,
    progressIntervalS: settings.progressIntervalS,
  });
  // The page is going away (or may be: a hidden tab can be discarded without another event).
  const away = (): void => {
    videos.stopAll('pagehide');
    q.beacon();
  };
  listen(window, 'pagehide', away);
  listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'hidden') q.beacon();
  });
  listen(window, 'online', () => void q.online());
  // Other tabs that closed leave their stored events behind; pick them up now and then.
  const adopt = window.setInterval(() => void q.adopt(), 15_000);
  teardown.push(() => window.clearInterval(adopt));

  if (settings.autoPageViews) {
    page();
    teardown.push(watchRoutes(window, (previous) => page(previous)));
  }
  if (settings.autoClicks) teardown.push(watchClicks(document, (fields) => q.add('click', fields)));
  if (settings.autoVideo) teardown.push(watchVideos(document, videos));
  return true;
}

/** Queues an event of `type` (`^[a-z][a-z0-9_]{0,63}$`); returns it, with its `event_id`, or undefined when off. */
export function track(type: string, fields: EventFields = {}): TrackedEvent | undefined {
  return queue?.add(type, fields);
}

/** A `page_view` of the current location (automatic unless `autoPageViews: false`). */
export function page(referrer: string = document.referrer): TrackedEvent | undefined {
  return track('page_view', pageFields(location, document.title, referrer));
}

/** Sends what waits now; resolves once each waiting event was tried. */
export function flush(): Promise<void> {
  return queue?.flush() ?? Promise.resolve();
}

/** Stops tracking on this browser (remembered in localStorage) and forgets unsent events. */
export function optOut(): void {
  setOptedOut(safeStorage(), true);
  // Every page's stored events, also when this page never started the tracker.
  const local = new LocalQueueStore(safeStorage(), '');
  if (typeof indexedDB === 'object') new IdbQueueStore(indexedDB, '', local).clearAll();
  else local.clearAll();
  stop(true);
}

/** Undoes `optOut()`; call `init` again to start. */
export function optIn(): void {
  setOptedOut(safeStorage(), false);
}

function stop(forget: boolean): void {
  for (const fn of teardown) fn();
  teardown = [];
  queue?.stop(forget);
  queue = undefined;
}

function safeStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}
