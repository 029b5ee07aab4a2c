/**
 * Synthetic cinema traffic for the analytics benchmark, generated inside chDB (`numbers()`), so
 * 10 M events load in about a minute instead of an ETL run: `users` users, `films` films (UUIDs
 * derived from their number), spread uniformly over `days` days before `endMs`. The mix: 30 %
 * trailer/person/category clicks, 20 % page views, 10 % finished views with a watched interval,
 * 10 % playback_start, 20 % playback_progress with position_s/duration_s, 10 % searches.
 * Inserted through the `events` table, so the rollups' materialized views see every block, then
 * the keys into `event_keys` as the ETL would have written them.
 */
export interface TrafficSpec {
  database: string;
  events: number;
  users: number;
  films: number;
  days: number;
  endMs: number;
}

/** The film UUID of film number `n` (SQL expression over the column `n`). */
export const filmUuid = (n: string): string => `toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(${n}), 12, '0')))`;

/** The film UUID of film number `n`, in JS. */
export const filmId = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** INSERT statements, each of at most `chunk` events. */
export function trafficInserts(spec: TrafficSpec, chunk = 1_000_000): string[] {
  const statements: string[] = [];
  const spanS = spec.days * 86_400;
  const endS = Math.floor(spec.endMs / 1000);
  for (let offset = 0; offset < spec.events; offset += chunk) {
    const count = Math.min(chunk, spec.events - offset);
    // r1..r4: independent hashes of the row number; k picks the kind of event.
    statements.push(`
      INSERT INTO ${spec.database}.events (event_id, user_id, type, element_kind, element_id, film_id, description,
                                           occurred_at, received_at, started_at, ended_at, duration_ms, properties)
      SELECT generateUUIDv4() AS event_id, concat('user_', toString(r1 % ${spec.users})) AS user_id,
             multiIf(k < 30, 'click', k < 50, 'page_view', k < 60, 'view', k < 70, 'playback_start', k < 90, 'playback_progress', 'search') AS type,
             multiIf(k < 20, 'trailer', k < 25, 'person', k < 30, 'category', k < 50, 'page', '') AS element_kind,
             multiIf(k < 30, concat('el-', toString(r3 % 2000)), k < 50, concat('/page/', toString(r3 % 50)), '') AS element_id,
             if(k < 20 OR (k >= 50 AND k < 90), ${filmUuid(`(r2 % ${spec.films})`)}, NULL) AS film_id,
             '' AS description,
             toDateTime64(${endS} - (r4 % ${spanS}), 3, 'UTC') AS occurred_at, occurred_at AS received_at,
             if(k >= 50 AND k < 60, toDateTime64(${endS} - (r4 % ${spanS}) - (r3 % 7200), 3, 'UTC'), NULL) AS started_at,
             if(k >= 50 AND k < 60, occurred_at, NULL) AS ended_at,
             if(k >= 50 AND k < 60, toUInt64((r3 % 7200) * 1000), 0) AS duration_ms,
             if(k >= 60 AND k < 90, concat('{"position_s":', toString(if(k < 70, 0, r3 % 5400)), ',"duration_s":5400}'), '{}') AS properties
      FROM (SELECT number AS n, cityHash64(n, 1) AS r1, cityHash64(n, 2) AS r2, cityHash64(n, 3) AS r3, cityHash64(n, 4) AS r4,
                   cityHash64(n, 5) % 100 AS k
            FROM numbers(${offset}, ${count}))`);
  }
  statements.push(
    `INSERT INTO ${spec.database}.event_keys (h, user_id, event_id, occurred_at)
     SELECT reinterpretAsUInt64(MD5(concat(user_id, '\\0', toString(event_id)))), user_id, event_id, occurred_at FROM ${spec.database}.events`,
  );
  return statements;
}
