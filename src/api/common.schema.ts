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
export function problemResponse(description = 'Problem Details'): TSchema {
  return { description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } };
}

/** The documented error responses of a route, by status. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, problemResponse()]));
}

export const NoContent = Type.Null({ description: 'No content' });
