import type { Page } from 'playwright-core';

/** How many events the tracker keeps unsent in the page's IndexedDB (every page record of its origin). */
export function storedCount(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('ugc-tracker', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('queues');
        open.onerror = () => reject(new Error('no IndexedDB'));
        open.onsuccess = () => {
          const all = open.result.transaction('queues', 'readonly').objectStore('queues').getAll();
          all.onsuccess = () => resolve((all.result as { q: unknown[] }[]).reduce((n, r) => n + r.q.length, 0));
        };
      }),
  );
}
