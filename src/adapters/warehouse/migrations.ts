import type { Dialect } from './clickhouse-dialect.ts';

/**
 * Versioned warehouse schema. A migration is never edited once released; a change is a new
 * version. Statements must be idempotent (IF NOT EXISTS) because a crash can interrupt a
 * migration between its statements and its row in `schema_migrations`.
 */
export interface Migration {
  version: number;
  name: string;
  statements: (db: string, d: Dialect) => string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events table',
    statements: (db, d) => [
      // ReplacingMergeTree collapses rows with the same sorting key, so a batch the ETL loads
      // twice (crash before the offset commit) merges back to one row per event; queries still
      // group by event_id so counts are exact before merges happen and for an event_id a client
      // re-sent with different content. The key starts with the day so range scans (top films,
      // summaries) read only the days asked for, then the user so per-user timelines are a
      // contiguous range within each day.
      `CREATE TABLE IF NOT EXISTS ${db}.events (
        event_id UUID,
        user_id String,
        type ${d.lowCardinality('String')},
        element_kind ${d.lowCardinality('String')},
        element_id String,
        film_id Nullable(UUID),
        description String,
        occurred_at ${d.timestamp},
        received_at ${d.timestamp},
        started_at Nullable(${d.timestamp}),
        ended_at Nullable(${d.timestamp}),
        duration_ms UInt64,
        properties String,
        loaded_at DateTime DEFAULT now()${d.filmIndex ? `,\n        ${d.filmIndex}` : ''}
      ) ENGINE = ReplacingMergeTree
      PARTITION BY ${d.month('occurred_at')}
      ORDER BY (${d.day('occurred_at')}, user_id, occurred_at, event_id)`,
    ],
  },
];
