import { Ajv, type ErrorObject, type SchemaObject, type SchemaValidateFunction } from 'ajv';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { EVENT_RULES_KEYWORD, eventsBodyErrors } from '../domain/event-rules.ts';
import type { FieldError } from '../domain/errors.ts';
import { isRfc3339 } from '../domain/time.ts';
import { EventInput } from './events.schema.ts';
import { textErrorsOf } from './json-body.ts';

// ajv-formats is CommonJS: Node's ESM loader hands us module.exports (the plugin itself),
// while TypeScript types the default import as the module namespace.
const addFormats = addFormatsModule as unknown as FormatsPlugin;

/** RFC 4122's text form only: ajv-formats also takes `urn:uuid:…`, which then named a different film. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Query and path integers in decimal only: ajv's coercion reads `0x10`, `1e1` and ` 5` as numbers. */
const DECIMAL_INTEGER = /^-?[0-9]{1,15}$/;


function asAjvErrors(errors: readonly FieldError[], keyword: string, base = ''): ErrorObject[] {
  return errors.map((e) => ({ keyword, instancePath: base + (e.path === '/' ? '' : e.path), schemaPath: '', params: {}, message: e.message }));
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, strict: false, coerceTypes: false });
  addFormats(ajv);
  ajv.addFormat('date-time', { type: 'string', validate: isRfc3339 });
  ajv.addFormat('uuid', CANONICAL_UUID);
  const rules: SchemaValidateFunction = (_enabled, data, _parent, cxt) => {
    const errors = eventsBodyErrors(data, Date.now());
    rules.errors = asAjvErrors(errors, EVENT_RULES_KEYWORD, cxt?.instancePath ?? '');
    return errors.length === 0;
  };
  ajv.addKeyword({ keyword: EVENT_RULES_KEYWORD, schemaType: 'boolean', errors: true, validate: rules });
  ajv.addSchema(EventInput);
  return ajv;
}

/**
 * Query strings and path parameters are text: integers among them are converted here, from
 * decimal digits only, before a non-coercing validator sees them.
 */
function coerceDecimal(schema: SchemaObject, data: unknown): void {
  if (typeof data !== 'object' || data === null) return;
  const properties = (schema.properties ?? {}) as Record<string, SchemaObject>;
  const record = data as Record<string, unknown>;
  for (const [name, property] of Object.entries(properties)) {
    const value = record[name];
    if (property.type === 'integer' && typeof value === 'string' && DECIMAL_INTEGER.test(value)) record[name] = Number(value);
  }
}

/**
 * The validators of every route. Bodies are validated without type coercion (a `"5"` is not a
 * score), unknown fields are rejected, not stripped, and every error is listed, not just the
 * first: the schema's, the event rules' and ill-formed text (found by the JSON parser) together.
 */
export function validatorCompiler(): FastifySchemaCompiler<SchemaObject> {
  const ajv = newAjv();
  return ({ schema, httpPart }) => {
    const validate = ajv.compile(schema);
    if (httpPart === 'body') {
      const body = Object.assign(
        (data: unknown) => {
          const ok = validate(data);
          const text = textErrorsOf(data);
          body.errors = [...(validate.errors ?? []), ...asAjvErrors(text, 'wellFormed')];
          return ok && text.length === 0;
        },
        { errors: null as ErrorObject[] | null },
      );
      return body;
    }
    const part = Object.assign(
      (data: unknown) => {
        coerceDecimal(schema, data);
        const ok = validate(data);
        part.errors = validate.errors ?? null;
        return ok;
      },
      { errors: null as ErrorObject[] | null },
    );
    return part;
  };
}
