import { BackendError, type BackendFault } from '../../domain/errors.ts';

/*
 * ClickHouse error codes by what they say about a failed statement. The numbers and names are
 * ClickHouse's own (src/Common/ErrorCodes.cpp, the `APPLY_FOR_ERROR_CODES` list; stable across
 * releases, so they hold for chDB 26.x and for the 18.16 server alike).
 *
 * DATA: the engine refused the content of the rows (a parse, type or range error). Retrying the
 * same rows cannot help; the ETL isolates the rows by bisection and dead-letters them.
 * INFRASTRUCTURE: the engine or its surroundings (network, timeouts, memory, disk, too many parts,
 * replicas and ZooKeeper/Keeper, read-only tables, credentials, a missing table). The same rows
 * load once it recovers, so they are retried for as long as it takes, never dead-lettered.
 * Any other code is `unknown`: retried, and suspected only when it keeps failing while the
 * warehouse answers a ping (see src/pipeline/load.ts).
 */
const DATA_ERROR_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  19, // SIZE_OF_FIXED_STRING_DOESNT_MATCH
  25, // CANNOT_PARSE_ESCAPE_SEQUENCE: a lone UTF-16 surrogate in a JSON string (\ud83d)
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  130, // CANNOT_READ_ARRAY_FROM_TEXT
  131, // TOO_LARGE_STRING_SIZE
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  376, // CANNOT_PARSE_UUID
  407, // DECIMAL_OVERFLOW
  441, // CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
  467, // CANNOT_PARSE_BOOL
  469, // VIOLATED_CONSTRAINT
]);

const INFRASTRUCTURE_ERROR_CODES = new Set([
  16, // NO_SUCH_COLUMN_IN_TABLE: the schema is behind (migrations), not the rows
  60, // UNKNOWN_TABLE
  81, // UNKNOWN_DATABASE
  159, // TIMEOUT_EXCEEDED
  160, // TOO_SLOW
  164, // READONLY
  173, // CANNOT_ALLOCATE_MEMORY
  192, // UNKNOWN_USER
  193, // WRONG_PASSWORD
  194, // REQUIRED_PASSWORD
  195, // IP_ADDRESS_NOT_ALLOWED
  198, // DNS_ERROR
  201, // QUOTA_EXPIRED
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  204, // CANNOT_FSYNC
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  218, // TABLE_IS_DROPPED
  225, // NO_ZOOKEEPER
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  243, // NOT_ENOUGH_SPACE
  244, // UNEXPECTED_ZOOKEEPER_ERROR
  252, // TOO_MANY_PARTS
  254, // NO_ACTIVE_REPLICAS
  279, // ALL_CONNECTION_TRIES_FAILED
  285, // TOO_FEW_LIVE_REPLICAS
  286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
  289, // REPLICA_IS_NOT_IN_QUORUM
  291, // DATABASE_ACCESS_DENIED
  319, // UNKNOWN_STATUS_OF_INSERT
  335, // BARRIER_TIMEOUT
  364, // RECEIVED_ERROR_TOO_MANY_REQUESTS
  373, // SESSION_IS_LOCKED
  384, // PART_IS_TEMPORARILY_LOCKED
  394, // QUERY_WAS_CANCELLED
  415, // ALL_REPLICAS_LOST
  425, // SYSTEM_ERROR
  439, // CANNOT_SCHEDULE_TASK
  473, // DEADLOCK_AVOIDED
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
  999, // KEEPER_EXCEPTION
  1000, // POCO_EXCEPTION: how older servers report a network failure ("Net Exception: ...")
]);

/** Node's network failures (the HTTP client's socket), which carry no ClickHouse code. */
const NETWORK_ERRNO = /^E(CONNREFUSED|CONNRESET|CONNABORTED|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|NETDOWN|AI_AGAIN|NOTFOUND)$|^UND_ERR_/;
const NETWORK_MESSAGE = /\b(timeout|timed out|socket hang up|ECONNREFUSED|ECONNRESET|EPIPE)\b/i;

/** The ClickHouse error code of a chDB or HTTP client error (a field, or `Code: N.` in the message). */
export function clickhouseCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { clickhouseCode?: unknown; code?: unknown }).clickhouseCode ?? (err as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const match = err instanceof Error ? /Code: (\d+)/.exec(err.message) : null;
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** What `err` says about the failed statement (see the code lists above). */
export function clickhouseFault(err: unknown): BackendFault {
  const code = clickhouseCode(err);
  if (code !== undefined) {
    if (DATA_ERROR_CODES.has(code)) return 'data';
    return INFRASTRUCTURE_ERROR_CODES.has(code) ? 'infrastructure' : 'unknown';
  }
  const errno = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof errno === 'string' && NETWORK_ERRNO.test(errno)) return 'infrastructure';
  return err instanceof Error && NETWORK_MESSAGE.test(err.message) ? 'infrastructure' : 'unknown';
}

/**
 * A chDB or ClickHouse failure as the service's error: `fault` from the code lists above, and
 * retriable unless the data was refused. The message names the code, never the engine's text
 * (which may quote row content); the engine's error stays the `cause`.
 */
export function toBackendError(err: unknown, what: string): BackendError {
  const code = clickhouseCode(err);
  const fault = clickhouseFault(err);
  return new BackendError(`${what} failed${code === undefined ? '' : ` (ClickHouse code ${code})`}`, { cause: err, retriable: fault !== 'data', fault });
}
