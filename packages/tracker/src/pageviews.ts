import type { EventFields } from './types.ts';

/**
 * A page view's fields: the path as the `page` element, the URL without its fragment (a token
 * or a private anchor in `#...` stays in the browser), the title and where the user came from.
 */
export function pageFields(loc: { origin: string; pathname: string; search: string }, title: string, referrer: string): EventFields {
  const url = loc.origin + loc.pathname + loc.search;
  return {
    element: { kind: 'page', id: (loc.pathname || '/').slice(0, 256) },
    properties: { url: url.slice(0, 1000), title: title.slice(0, 300), referrer: referrer.split('#')[0]?.slice(0, 1000) ?? '' },
  };
}

/**
 * Calls `onChange(previousUrl)` when a single-page app changes route through the History API
 * (`pushState`, `replaceState`, back/forward); fragment-only changes are not page views.
 */
export function watchRoutes(win: Window, onChange: (previousUrl: string) => void): () => void {
  const where = (): string => win.location.pathname + win.location.search;
  let last = where();
  let lastUrl = win.location.href;
  const check = (): void => {
    const now = where();
    if (now === last) return;
    last = now;
    const previous = lastUrl;
    lastUrl = win.location.href;
    onChange(previous);
  };
  const history = win.history;
  // Wrapped in place (the History API has no event for pushState); the originals come back on teardown.
  const originals = { pushState: history.pushState.bind(history), replaceState: history.replaceState.bind(history) };
  for (const name of ['pushState', 'replaceState'] as const) {
    history[name] = (...args: Parameters<History['pushState']>) => {
      originals[name](...args);
      check();
    };
  }
  win.addEventListener('popstate', check);
  return () => {
    history.pushState = originals.pushState;
    history.replaceState = originals.replaceState;
    win.removeEventListener('popstate', check);
  };
}
