import {
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { AppError, BackendError, UnavailableError } from '../../domain/errors.ts';

const DUPLICATE_KEY = 11000;

/**
 * Server codes that mean "not now" rather than "never": elections, shutdowns, a node that is no
 * longer primary, time limits and write conflicts. The driver already retried reads and writes
 * once where it safely could, so what reaches us is worth a 503 and a client retry.
 */
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  50, // MaxTimeMSExpired
  64, // WriteConcernFailed (wtimeout)
  89, // NetworkTimeout
  91, // ShutdownInProgress
  112, // WriteConflict
  133, // FailedToSatisfyReadPreference
  134, // ReadConcernMajorityNotAvailableYet
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** Labels the server or driver attach when a retry is expected to succeed. */
const TRANSIENT_LABELS = ['RetryableWriteError', 'RetryableError', 'SystemOverloadedError', 'ResetPool'];

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

function isTransient(err: MongoError): boolean {
  if (
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoOperationTimeoutError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError ||
    err instanceof MongoClientClosedError ||
    err instanceof MongoServerClosedError ||
    // Not exported by the driver: the connection pool stayed full for waitQueueTimeoutMS.
    err.name === 'MongoWaitQueueTimeoutError'
  ) {
    return true;
  }
  if (TRANSIENT_LABELS.some((label) => err.hasErrorLabel(label))) return true;
  return typeof err.code === 'number' && TRANSIENT_CODES.has(err.code);
}

/**
 * Unreachable, overloaded or electing servers become UnavailableError (the API answers 503 with
 * Retry-After); everything else MongoDB rejects is a BackendError a retry will not fix. A
 * duplicate key that gets this far lost an upsert race twice, so it is the one retriable one.
 */
export function translateError(err: unknown): Error {
  if (err instanceof AppError) return err;
  if (err instanceof MongoError) {
    if (isTransient(err)) return new UnavailableError('The MongoDB store is unavailable.', { cause: err });
    if (isDuplicateKey(err)) return new BackendError('Concurrent writes to MongoDB collided.', { cause: err, retriable: true });
    return new BackendError('The MongoDB store rejected the operation.', { cause: err, retriable: false });
  }
  return err instanceof Error ? err : new BackendError('The MongoDB store failed.', { cause: err, retriable: false });
}

/**
 * Upserts on a unique key can both miss and both insert; the loser gets a duplicate key error.
 * MongoDB retries some of these server-side, FerretDB never does, so the second try (which now
 * finds the winner's document and updates it) happens here.
 */
export async function retryOnDuplicate<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
  return fn();
}
