import { isRetriable } from '../domain/errors.ts';
import type { LogRecord } from '../ports/event-log.ts';
import type { EventRow } from '../ports/warehouse.ts';

export interface LoadItem {
  record: LogRecord;
  row: EventRow;
}

/**
 * Inserts all rows in one statement. When the warehouse rejects the batch for its data (not
 * a retriable failure), the batch is split in halves until the rows it refuses are isolated:
 * they are returned for the dead-letter stream and every other row is loaded. A retriable
 * failure propagates unchanged so the caller retries the whole batch.
 */
export async function loadIsolatingBadRows(
  items: readonly LoadItem[],
  insert: (rows: EventRow[]) => Promise<void>,
): Promise<{ record: LogRecord; reason: string }[]> {
  if (items.length === 0) return [];
  try {
    await insert(items.map((i) => i.row));
    return [];
  } catch (err) {
    if (isRetriable(err)) throw err;
    const [only] = items;
    if (items.length === 1 && only) {
      return [{ record: only.record, reason: `warehouse rejected the row: ${err instanceof Error ? err.message : String(err)}` }];
    }
    const middle = Math.ceil(items.length / 2);
    const left = await loadIsolatingBadRows(items.slice(0, middle), insert);
    const right = await loadIsolatingBadRows(items.slice(middle), insert);
    return [...left, ...right];
  }
}
