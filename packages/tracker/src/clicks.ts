import type { EventFields } from './types.ts';
import { isUuid } from './uuid.ts';

const KIND = /^[a-z][a-z0-9_]{0,31}$/;

/** What `closest` needs: an element (or a fake in tests). */
export interface Marked {
  closest(selector: string): { getAttribute(name: string): string | null } | null;
}

/**
 * The marked element an event target is in — `data-ugc-kind` (`film`, `trailer`, `category`,
 * `person`, …) and `data-ugc-id` — as the event's `element`, with `film_id` from
 * `data-ugc-film-id` or, for a `film`, its id when that is a UUID. Undefined when unmarked or
 * malformed (the API would refuse it).
 */
export function markedFields(target: unknown): EventFields | undefined {
  const el = typeof (target as Marked | null)?.closest === 'function' ? (target as Marked).closest('[data-ugc-kind][data-ugc-id]') : null;
  if (!el) return undefined;
  const kind = el.getAttribute('data-ugc-kind') ?? '';
  const id = (el.getAttribute('data-ugc-id') ?? '').slice(0, 256);
  if (!KIND.test(kind) || id === '') return undefined;
  const film = el.getAttribute('data-ugc-film-id') ?? (kind === 'film' ? id : undefined);
  return { element: { kind, id }, ...(isUuid(film ?? undefined) ? { film_id: film ?? '' } : {}) };
}

/** One listener on the document for every marked element, present or added later. */
export function watchClicks(doc: Document, emit: (fields: EventFields) => void): () => void {
  const onClick = (event: Event): void => {
    const fields = markedFields(event.target);
    if (fields) emit(fields);
  };
  doc.addEventListener('click', onClick, true);
  return () => doc.removeEventListener('click', onClick, true);
}
