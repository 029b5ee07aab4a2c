import type { FastifyInstance } from 'fastify';
import type { FieldError } from '../domain/errors.ts';
import { repairEscapedNames } from '../domain/json.ts';
import { TooDeepError, decodeUtf8Marked, illFormedText } from '../domain/text.ts';

/**
 * The JSON body parser. Fastify's own decodes the body as UTF-8 with replacement, so invalid
 * bytes silently became U+FFFD; this one marks them (see text.ts), parses with Fastify's
 * prototype-poisoning-safe parser, refuses a body nested too deep (a 10,000-deep value
 * overflowed the stack of the validators after it: a 500) and remembers which fields hold
 * ill-formed text, for the body validator to report beside the schema's errors.
 */
const illFormed = new WeakMap<object, FieldError[]>();

/** The ill-formed text the parser found in `body` (a parsed request body), by JSON Pointer. */
export function textErrorsOf(body: unknown): FieldError[] {
  return typeof body === 'object' && body !== null ? (illFormed.get(body) ?? []) : [];
}

function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}

/**
 * Fastify's parser refuses `__proto__` and `constructor.prototype` keys (prototype poisoning,
 * secure-json-parse) with "Body is not valid JSON", which misleads for a body that is JSON.
 */
const PROTOTYPE_KEY = 'The body holds a "__proto__" or "constructor": {"prototype": …} key, refused everywhere (prototype poisoning); rename it.';

/** Whether `text` is JSON at all; asked only of a body the parser refused. */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

export function registerJsonBody(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw: Buffer, done) => {
    const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(httpError(415, `charset "${charset}" is not supported; JSON bodies are UTF-8.`), undefined);
      return;
    }
    const text = decodeUtf8Marked(raw);
    void parse(request, text, (err, parsed: unknown) => {
      if (err) return done(isJson(text) ? httpError(400, PROTOTYPE_KEY) : err, undefined);
      let value: unknown;
      try {
        // Fastify's parser (prototype-poisoning checks) is JSON.parse, whose V8 can misname keys.
        value = repairEscapedNames(text, parsed);
        const errors = illFormedText(value);
        if (errors.length > 0) {
          // A bare string body has no field to name and no object to remember it by.
          if (typeof value !== 'object' || value === null) return done(httpError(400, `The body ${errors[0]?.message ?? ''}.`), undefined);
          illFormed.set(value, errors);
        }
      } catch (e) {
        if (e instanceof TooDeepError) return done(httpError(400, `The body is ${e.message}.`), undefined);
        throw e;
      }
      done(null, value);
    });
  });
}
