/**
 * The few error classes the service raises. Each carries a stable `code`, an optional `cause`
 * and whether retrying can help; the HTTP layer maps them to Problem Details and never shows
 * the message of an infrastructure error to a client.
 */
export interface FieldError {
  /** JSON Pointer into the request (`/events/3/type`). */
  path: string;
  message: string;
}

export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is well-formed JSON but breaks a rule the schema cannot express. */
export class ValidationError extends AppError {
  readonly code = 'validation_failed';
  readonly retriable = false;
  readonly errors: FieldError[];
  constructor(errors: FieldError[], message = 'The request is invalid.') {
    super(message);
    this.errors = errors;
  }
}

export class NotFoundError extends AppError {
  readonly code = 'not_found';
  readonly retriable = false;
}

export class ConflictError extends AppError {
  readonly code = 'conflict';
  readonly retriable = false;
}

export class ForbiddenError extends AppError {
  readonly code = 'forbidden';
  readonly retriable = false;
}

export class UnauthorizedError extends AppError {
  readonly code = 'unauthorized';
  readonly retriable = false;
}

/**
 * A backend is down, overloaded or timed out. `retryAfterSeconds` becomes `Retry-After`.
 */
export class UnavailableError extends AppError {
  readonly code = 'unavailable';
  readonly retriable = true;
  readonly retryAfterSeconds: number;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 1;
  }
}

/**
 * What a backend failure is about, as far as the adapter can tell: `data` — the backend refused
 * the content (the same rows fail again on any healthy backend); `infrastructure` — the backend
 * itself (down, slow, full, misconfigured); `unknown` — an error the adapter does not classify.
 */
export type BackendFault = 'data' | 'infrastructure' | 'unknown';

/** A backend failed an operation; `retriable` says whether the same operation may succeed later. */
export class BackendError extends AppError {
  readonly code = 'backend_error';
  readonly retriable: boolean;
  /** Default `infrastructure`: only an adapter that recognises a refusal of the data says `data`. */
  readonly fault: BackendFault;
  constructor(message: string, options?: { cause?: unknown; retriable?: boolean; fault?: BackendFault }) {
    super(message, options);
    this.retriable = options?.retriable ?? true;
    this.fault = options?.fault ?? 'infrastructure';
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof AppError ? err.retriable : true;
}
