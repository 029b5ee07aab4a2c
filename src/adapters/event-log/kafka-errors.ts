import { findErrorBy } from '@platformatic/kafka';
import { BackendError, ConflictError, NotFoundError, UnavailableError, ValidationError } from '../../domain/errors.ts';

/** True when a Kafka protocol error with this id is anywhere in the (nested) error. */
export function hasKafkaError(err: unknown, apiId: string): boolean {
  return err instanceof Error && findErrorBy(err, 'apiId', apiId) !== null;
}

export function isUnknownTopic(err: unknown): boolean {
  return (
    hasKafkaError(err, 'UNKNOWN_TOPIC_OR_PARTITION') ||
    hasKafkaError(err, 'UNKNOWN_TOPIC_ID') ||
    (err instanceof Error && findErrorBy(err, 'code', 'PLT_KFK_USER')?.message.startsWith('Unknown topic') === true)
  );
}

/** Group membership moved on: offsets of partitions we no longer own are the new owner's to commit. */
export function isRebalance(err: unknown): boolean {
  return ['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID'].some((id) => hasKafkaError(err, id));
}

/** Maps an admin-API failure to the port's errors; `stream` names the topic in messages. */
export function toAdminError(err: unknown, stream: string): Error {
  if (hasKafkaError(err, 'TOPIC_ALREADY_EXISTS')) return new ConflictError(`Topic "${stream}" already exists.`, { cause: err });
  if (isUnknownTopic(err)) return new NotFoundError(`Topic "${stream}" does not exist.`, { cause: err });
  if (hasKafkaError(err, 'INVALID_REPLICATION_FACTOR')) {
    return new ValidationError([{ path: '/replication_factor', message: 'exceeds the number of brokers' }], 'Invalid topic options.');
  }
  if (hasKafkaError(err, 'INVALID_CONFIG')) {
    return new ValidationError([{ path: '/config', message: 'contains a config Kafka rejects' }], 'Invalid topic options.');
  }
  if (hasKafkaError(err, 'INVALID_PARTITIONS')) {
    return new ValidationError([{ path: '/partitions', message: 'is not a valid number of partitions' }], 'Invalid topic options.');
  }
  if (hasKafkaError(err, 'INVALID_TOPIC_EXCEPTION')) return new ValidationError([{ path: '/name', message: 'Kafka rejects this topic name' }]);
  return toUnavailable(err, 'Kafka admin request failed');
}

export function toUnavailable(err: unknown, message: string): Error {
  if (err instanceof ValidationError || err instanceof NotFoundError || err instanceof ConflictError) return err;
  if (err instanceof UnavailableError || err instanceof BackendError) return err;
  return new UnavailableError(message, { cause: err, retryAfterSeconds: 1 });
}

/** Rejects with UnavailableError after `ms`: the client retries forever when the cluster is down. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(`${what}: no answer from Kafka within ${ms} ms`, { retryAfterSeconds: 1 })), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The distinct messages of the errors nested in `err` (AggregateError `errors`, `cause`), at most
 * `max`: the client wraps the one that matters ("Connection refused", "Request timed out")
 * in a generic "Producing messages failed.", and log serializers show only the outer one.
 */
export function errorCauses(err: unknown, max = 5): string[] {
  const found = new Set<string>();
  const visit = (e: unknown, depth: number): void => {
    if (!(e instanceof Error) || depth > 6 || found.size >= max) return;
    const nested = [...((e as { errors?: unknown[] }).errors ?? []), ...(e.cause === undefined ? [] : [e.cause])];
    if (nested.length === 0) found.add(e.message);
    for (const n of nested) visit(n, depth + 1);
  };
  visit(err, 0);
  return [...found];
}
