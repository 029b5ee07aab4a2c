import { type FieldError, ValidationError } from '../../domain/errors.ts';

/** The embedded event log's tables (what Kafka keeps in its log segments and its offsets topic). */
export const SCHEMA_VERSION = 1;
const STREAM_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS streams (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL,
    replication_factor INTEGER NOT NULL, config TEXT NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS partitions (stream TEXT NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (stream, partition)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS records (stream TEXT NOT NULL, partition INTEGER NOT NULL,
    offset INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL,
    timestamp INTEGER NOT NULL, PRIMARY KEY (stream, partition, offset)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS group_offsets (consumer_group TEXT NOT NULL, stream TEXT NOT NULL,
    partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (consumer_group, stream, partition)) WITHOUT ROWID;`;

/** Kafka's rules for a topic, as far as the embedded log can honour them. */
export function validateStream(name: string, partitions: number, replicationFactor: number, config: Record<string, string>): void {
  const errors: FieldError[] = [];
  if (!STREAM_NAME.test(name)) errors.push({ path: '/name', message: 'must match ^[a-zA-Z0-9._-]{1,249}$' });
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) {
    errors.push({ path: '/partitions', message: 'must be an integer from 1 to 1000' });
  }
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    errors.push({ path: '/replication_factor', message: 'must be a positive integer' });
  } else if (replicationFactor > 1) {
    errors.push({ path: '/replication_factor', message: 'the embedded event log keeps a single replica; use 1 or run Kafka' });
  }
  const retention = config['retention.ms'];
  if (retention !== undefined && !(/^-?\d+$/.test(retention) && Number(retention) >= -1)) {
    errors.push({ path: '/config/retention.ms', message: 'must be an integer number of milliseconds, or -1 for no limit' });
  }
  if (errors.length > 0) throw new ValidationError(errors, 'The stream options are invalid.');
}
