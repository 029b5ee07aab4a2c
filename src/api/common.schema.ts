import { Type, type TSchema } from 'typebox';

/** Schemas every route file shares: ids, pagination, time ranges and the error body. */
export const Uuid = Type.String({ format: 'uuid', description: 'UUID', examples: ['3fa85f64-5717-4562-b3fc-2c963f66afa6'] });

export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339, UTC, milliseconds' });

export const FilmParams = Type.Object({ film_id: Uuid }, { additionalProperties: false });
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'next_cursor of the previous page' })),
  },
  { additionalProperties: false },
);

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });

export const FieldErrorSchema = Type.Object({ path: Type.String(), message: Type.String() });

/** RFC 9457 Problem Details. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    request_id: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(FieldErrorSchema)),
  },
  { $id: 'Problem', description: 'RFC 9457 Problem Details (application/problem+json)' },
);

/**
 * One documented error response: Problem Details under `application/problem+json`, the media
 * type every error is sent with (the serializer picks the schema by the reply's type).
 */
export function problemResponse(description: string): TSchema {
  return { description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } };
}

/** What each error status means on any route, as the docs page names it (routes may say more). */
const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request: a parameter or the body breaks the schema or a rule; `errors` lists every bad field',
  401: 'No valid bearer token: missing, malformed, expired or signed with another key',
  403: 'The caller may not do this',
  404: 'Not found',
  409: 'Conflicts with what is stored',
  413: 'The body is larger than BODY_LIMIT_BYTES',
  415: 'The body is not JSON in UTF-8, or its encoding is not gzip',
  429: 'Too many requests from this caller; see Retry-After',
  503: 'A backend is unavailable or the server is shutting down; see Retry-After',
};

/**
 * The documented error responses of a route, by status: a status alone takes the usual
 * meaning, `[status, description]` says what it means on this route.
 */
export function problems(...statuses: (number | [number, string])[]): Record<number, TSchema> {
  return Object.fromEntries(
    statuses.map((s) => {
      const [status, description] = typeof s === 'number' ? [s, PROBLEM_DESCRIPTIONS[s] ?? 'Problem Details'] : s;
      return [status, problemResponse(description)];
    }),
  );
}

/**
 * `schema` as the response of one status, named `description` on the docs page (else Swagger UI
 * shows "Default Response"). A copy, so one body schema can answer several statuses under
 * different names; the copy keeps TypeBox's non-enumerable kind marker.
 */
export function answer<T extends TSchema>(description: string, schema: T): T {
  // @fastify/swagger's own keyword for a response's description, removed from the published schema.
  return Object.defineProperties({ 'x-response-description': description }, Object.getOwnPropertyDescriptors(schema)) as unknown as T;
}

export const NoContent = Type.Null({ description: 'No content' });
