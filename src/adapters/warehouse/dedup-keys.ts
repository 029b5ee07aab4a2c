import { hash } from 'node:crypto';
import type { EventRow } from '../../ports/warehouse.ts';
import { quote } from './clickhouse-dialect.ts';
import type { Migration } from './migrations.ts';
import type { ClickhouseExecutor } from './sql-warehouse.ts';
import { type SchemaContext, onCluster, shardedTable } from './table-ddl.ts';

/**
 * Load-time deduplication, the warehouse side. `event_keys` holds the `(user_id, event_id)` of
 * every event loaded in the last `window` (and a little more: whole days are dropped), sorted by
 * `h`, a 64-bit hash of the pair (the first 8 bytes of its MD5, which JavaScript and every
 * ClickHouse compute alike), in small granules: looking up a batch's keys is one `h IN (…)`
 * query that reads about one granule of one 8-byte column per key, however large the window.
 * Hash collisions cost nothing but a row read: the pair itself is compared. Before a batch is loaded its keys are looked up; an event whose key is there is
 * skipped, so a replayed batch and a client's re-send within the window never become a second row.
 *
 * Keys are written *before* their events: a crash in between leaves keys without events
 * ("orphans"), never events without keys. A key found in the lookup therefore counts only once
 * its event is seen in `events` too (a second, indexed lookup, made only for keys found — i.e.
 * for replays and re-sends); an orphan's event is loaded when the batch comes again.
 *
 * Users never share keys: two users' events with one event_id are two events.
 */

/** Keys per lookup query: 5,000 hashes (≤ 21 characters each) keep it below max_query_size (256 KiB). */
const LOOKUP_CHUNK = 5_000;

/** Keys per check against `events`: each names its user and event id (≤ 64 + 39 characters), 1,000 stay below max_query_size. */
const VERIFY_CHUNK = 1_000;

/** `h` of a key, as SQL computes it in the backfill: `reinterpretAsUInt64(MD5(user_id || '\0' || event_id))`. */
export function keyHash(userId: string, eventId: string): string {
  return hash('md5', `${userId}\u0000${eventId}`, 'buffer').readBigUInt64LE(0).toString();
}

export function dedupKeysMigration(version: number): Migration {
  return {
    version,
    name: 'event_keys: load-time deduplication window',
    statements: (ctx) => [
      // Partitioned by load day so the window is trimmed by dropping whole partitions (18.16 has
      // no TTL); replacing by key so a key written twice (a replay of an orphan) collapses.
      ...shardedTable(
        ctx,
        'event_keys',
        `h UInt64, user_id String, event_id UUID, occurred_at ${ctx.d.timestamp}, loaded_at DateTime DEFAULT now()`,
        'ReplacingMergeTree',
        'PARTITION BY toDate(loaded_at) ORDER BY h SETTINGS index_granularity = 256',
        'cityHash64(user_id)',
      ),
      // The keys of what is already loaded, so an upgrade does not reload recent re-sends. Only
      // into an empty table: the statement may run again after a crash mid-migration.
      `INSERT INTO ${ctx.db}.event_keys (h, user_id, event_id, occurred_at)
       SELECT reinterpretAsUInt64(MD5(concat(user_id, '\\0', toString(event_id)))), user_id, event_id, min(occurred_at) FROM ${ctx.db}.events
       WHERE (SELECT count() FROM ${ctx.db}.event_keys) = 0 GROUP BY user_id, event_id`,
    ],
  };
}

/** The identity of an event: its user and its id (a NUL cannot occur in either). */
export const eventKey = (userId: string, eventId: string): string => `${userId}\u0000${eventId}`;

/** The first received copy of each `(user_id, event_id)` of a batch, in batch order. */
export function firstCopies(rows: readonly EventRow[]): EventRow[] {
  const byKey = new Map<string, EventRow>();
  for (const r of rows) {
    const k = eventKey(r.user_id, r.event_id);
    const seen = byKey.get(k);
    if (seen === undefined || r.received_at < seen.received_at) byKey.set(k, r);
  }
  return [...byKey.values()];
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** `user_id IN (…) AND toString(event_id) IN (…)`: a superset of the rows' keys, filtered exactly after. */
function keyFilter(rows: readonly { user_id: string; event_id: string }[]): string {
  const users = [...new Set(rows.map((r) => r.user_id))].map(quote).join(', ');
  const ids = [...new Set(rows.map((r) => r.event_id))].map(quote).join(', ');
  return `user_id IN (${users}) AND toString(event_id) IN (${ids})`;
}

interface KeyRow {
  user_id: string;
  event_id: string;
  occurred: string | number;
}

/**
 * Which of `firsts` (one copy per key, see `firstCopies`; `hashes[i]` is `firsts[i]`'s `keyHash`)
 * are loaded already: their key is in `event_keys` and their event in `events`. The others are to
 * load — new events, and orphans (key there, event not), whose key is written again with the
 * time of the copy loaded now, as the check against `events` finds an event by its key's time.
 */
export async function alreadyLoaded(
  exec: ClickhouseExecutor, ctx: SchemaContext, firsts: readonly EventRow[], hashes: readonly string[],
): Promise<Set<string>> {
  const wanted = new Set(firsts.map((r) => eventKey(r.user_id, r.event_id)));
  const found: KeyRow[] = [];
  for (let i = 0; i < hashes.length; i += LOOKUP_CHUNK) {
    // The hashes travel as one string literal, split by the engine: a list of 5,000 number
    // literals costs the parser and analyser more than the lookup itself (bench/README.md, #9
    // load-path A/B). A set from a subquery still narrows the primary key (h) to its granules.
    const { data } = await exec.select<KeyRow>(
      `SELECT user_id, toString(event_id) AS event_id, occurred_at AS occurred FROM ${ctx.db}.event_keys
       WHERE h IN (SELECT toUInt64(arrayJoin(splitByChar(',', '${hashes.slice(i, i + LOOKUP_CHUNK).join(',')}'))))`,
    );
    found.push(...data.filter((k) => wanted.has(eventKey(k.user_id, k.event_id))));
  }
  return found.length === 0 ? new Set() : loadedEvents(exec, ctx, found);
}

/** Which of the found keys have their event in `events` (the key carries the event's stored time). */
async function loadedEvents(exec: ClickhouseExecutor, ctx: SchemaContext, keys: readonly KeyRow[]): Promise<Set<string>> {
  const loaded = new Set<string>();
  for (const part of chunks(keys, VERIFY_CHUNK)) {
    const times = part.map((k) => Date.parse(ctx.d.readTime(k.occurred)));
    const [from, to] = [new Date(Math.min(...times)), new Date(Math.max(...times))];
    const { data } = await exec.select<{ user_id: string; event_id: string }>(
      `SELECT user_id, toString(event_id) AS event_id FROM ${ctx.db}.events
       WHERE occurred_at >= ${ctx.d.timeLiteral(from)} AND occurred_at <= ${ctx.d.timeLiteral(to)} AND ${keyFilter(part)}`,
    );
    for (const r of data) loaded.add(eventKey(r.user_id, r.event_id));
  }
  return loaded;
}

/** The JSONEachRow line of a key (`h` as a decimal string: JSON numbers lose precision beyond 2^53, ClickHouse parses quoted UInt64s). */
export function keyLine(ctx: SchemaContext, r: EventRow, h: string): string {
  // A template with the strings stringified costs less per key than stringifying an object
  // (profile of the ETL benchmark, #9); `h` is digits and needs no escaping.
  return `{"h":"${h}","user_id":${JSON.stringify(r.user_id)},"event_id":${JSON.stringify(r.event_id)},"occurred_at":${JSON.stringify(ctx.d.timeValue(r.occurred_at))}}`;
}

/**
 * Drops the load-day partitions of `event_keys` that ended before the window began, on every
 * shard: keys stay between `windowMs` and `windowMs` + 1 day. Returns the partition ids dropped.
 */
export async function trimKeys(exec: ClickhouseExecutor, ctx: SchemaContext, windowMs: number, now: Date): Promise<string[]> {
  const table = ctx.cluster === undefined ? 'event_keys' : 'event_keys_local';
  // A load-day ends before the window starts iff it is before the window's first day. Partition
  // ids of a `toDate` key are YYYYMMDD, so they compare as text.
  const oldest = new Date(now.getTime() - windowMs).toISOString().slice(0, 10).replaceAll('-', '');
  const { data } = await exec.select<{ id: string }>(
    `SELECT DISTINCT partition_id AS id FROM system.parts WHERE database = ${quote(ctx.db)} AND table = ${quote(table)} AND active`,
  );
  const old = data.map((p) => p.id).filter((id) => /^\d{8}$/.test(id) && id < oldest);
  for (const id of old) await exec.command(`ALTER TABLE ${ctx.db}.${table}${onCluster(ctx)} DROP PARTITION ID ${quote(id)}`);
  return old;
}
