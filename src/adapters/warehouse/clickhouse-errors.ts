import { BackendError } from '../../domain/errors.ts';

/**
 * ClickHouse error codes that mean "this data can never load": retrying the same rows cannot
 * help, so the ETL isolates the bad rows and dead-letters them. Every other failure (network,
 * memory, too many parts, a server restarting, a missing table) is worth retrying.
 */
const DATA_ERROR_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  376, // CANNOT_PARSE_UUID
]);

export function clickhouseCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { clickhouseCode?: unknown; code?: unknown }).clickhouseCode ?? (err as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const match = err instanceof Error ? /Code: (\d+)/.exec(err.message) : null;
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export function toBackendError(err: unknown, what: string): BackendError {
  const code = clickhouseCode(err);
  const retriable = code === undefined || !DATA_ERROR_CODES.has(code);
  return new BackendError(`${what} failed${code === undefined ? '' : ` (ClickHouse code ${code})`}`, { cause: err, retriable });
}
