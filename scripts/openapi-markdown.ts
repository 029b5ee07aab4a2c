/**
 * Renders an OpenAPI 3.1 document, as the service publishes it at `/openapi.json`, into the
 * Markdown reference docs/api.md: every operation with its auth, parameters, request body and
 * responses, and the shared schemas. Deterministic (document order, no dates), so a test can
 * compare the file with a fresh rendering. Handles the JSON Schema the service's routes use
 * (objects, arrays, unions, enums, `$ref`, one `if`/`then`/`else`), not every JSON Schema.
 */

/** The JSON Schema subset of OpenAPI 3.1 the renderer reads. */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  if?: Schema;
  then?: Schema;
  else?: Schema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  pattern?: string;
  default?: unknown;
  examples?: unknown[];
}

interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  description?: string;
  schema: Schema;
}

interface Response {
  description?: string;
  content?: Record<string, { schema?: Schema }>;
}

interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; description?: string; content?: Record<string, { schema?: Schema; example?: unknown }> };
  responses?: Record<string, Response>;
}

/** The parts of an OpenAPI 3.1 document the renderer reads. */
export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  tags?: { name: string; description?: string }[];
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string; bearerFormat?: string; description?: string }>; schemas?: Record<string, Schema> };
  paths: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

/** Text fit for one Markdown table cell. */
const cell = (text: string): string => text.replaceAll('\n', ' ').replaceAll('|', '\\|');
const code = (text: string): string => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);
const json = (value: unknown): string => code(JSON.stringify(value));
const refName = (ref: string): string => ref.replace(/^#\/components\/schemas\//, '').replace(/#$/, '');
const anchor = (name: string): string => `schema-${name.toLowerCase()}`;

/** A one-line type: `string (uuid)`, `"day" | "week"`, `array of Review`, `object`. */
export function typeOf(s: Schema): string {
  if (s.$ref !== undefined) return `[${refName(s.$ref)}](#${anchor(refName(s.$ref))})`;
  if (s.const !== undefined) return json(s.const);
  if (s.enum !== undefined) return s.enum.map(json).join(' | ');
  const union = s.anyOf ?? s.oneOf;
  if (union !== undefined) return union.map(typeOf).join(' | ');
  if (s.if !== undefined) return 'object (see below)';
  const type = Array.isArray(s.type) ? s.type.join(' | ') : s.type;
  if (type === 'array') return `array of ${s.items ? typeOf(s.items) : 'anything'}`;
  if (type === 'object' && s.properties === undefined && typeof s.additionalProperties === 'object') {
    const keys = s.propertyNames?.enum ? 'named keys' : 'string';
    return `map of ${keys} → ${typeOf(s.additionalProperties)}`;
  }
  if (type === undefined) return 'anything';
  return s.format === undefined ? type : `${type} (${s.format})`;
}

/** The rules beside the type: bounds, pattern, default, description. */
function notesOf(s: Schema): string {
  const notes: string[] = [];
  const range = (min: number | undefined, max: number | undefined, unit: string) => {
    if (min !== undefined && max !== undefined) notes.push(`${min}..${max}${unit}`);
    else if (min !== undefined) notes.push(`at least ${min}${unit}`);
    else if (max !== undefined) notes.push(`at most ${max}${unit}`);
  };
  range(s.minimum, s.maximum, '');
  range(s.minLength, s.maxLength, ' characters');
  range(s.minItems, s.maxItems, ' items');
  if (s.pattern !== undefined) notes.push(`matches ${code(s.pattern)}`);
  if (s.propertyNames?.enum !== undefined) notes.push(`keys: ${s.propertyNames.enum.map((k) => code(String(k))).join(', ')}`);
  if (s.default !== undefined) notes.push(`default ${json(s.default)}`);
  const text = [s.description, notes.join('; ')].filter((t) => t !== undefined && t !== '').join(' — ');
  return text;
}

/** Rows `| field | type | required | notes |` of an object's fields, nested ones as `a.b` and `a[].b`. */
function fieldRows(s: Schema, prefix = ''): string[] {
  const rows: string[] = [];
  const required = new Set(s.required ?? []);
  for (const [name, field] of Object.entries(s.properties ?? {})) {
    const path = `${prefix}${name}`;
    rows.push(`| ${code(path)} | ${cell(typeOf(field))} | ${required.has(name) ? 'yes' : 'no'} | ${cell(notesOf(field))} |`);
    if (field.properties !== undefined) rows.push(...fieldRows(field, `${path}.`));
    if (field.items?.properties !== undefined) rows.push(...fieldRows(field.items, `${path}[].`));
    for (const member of field.anyOf ?? []) if (member.properties !== undefined) rows.push(...fieldRows(member, `${path}.`));
    if (typeof field.additionalProperties === 'object' && field.additionalProperties.properties !== undefined) {
      rows.push(...fieldRows(field.additionalProperties, `${path}.*.`));
    }
  }
  return rows;
}

const FIELD_HEADER = ['| Field | Type | Required | Notes |', '|---|---|---|---|'];

/** A schema as a reader needs it: its fields in a table, or its type in a sentence. */
function renderSchema(s: Schema): string[] {
  const lines: string[] = [];
  const notes = notesOf(s);
  if (s.if !== undefined && s.then !== undefined && s.else !== undefined) {
    const key = s.if.required?.join(', ') ?? 'the condition';
    if (notes) lines.push(notes, '');
    lines.push(`With ${code(key)}:`, '', ...renderSchema(s.then), `Without ${code(key)}: ${typeOf(s.else)}.`, '');
    return lines;
  }
  const rules = [
    s.additionalProperties === false ? 'no other fields' : undefined,
    s.minProperties !== undefined && s.minProperties === s.maxProperties ? `exactly ${s.minProperties} of these fields` : undefined,
    s.minProperties !== undefined && s.minProperties !== s.maxProperties ? `at least ${s.minProperties} field` : undefined,
  ].filter((r) => r !== undefined);
  const items = s.type === 'array' && s.items?.properties !== undefined ? s.items : undefined;
  if (s.properties === undefined && items === undefined) {
    lines.push(`${typeOf(s)}${notes ? ` — ${notes}` : ''}`, '');
    return lines;
  }
  if (notes) lines.push(notes, '');
  if (items) lines.push(`An array of (${items.minItems ?? s.minItems ?? 0} or more):`, '');
  lines.push(...FIELD_HEADER, ...fieldRows(items ?? s));
  if (rules.length > 0) lines.push('', `${rules.join('; ')[0]?.toUpperCase()}${rules.join('; ').slice(1)}.`);
  lines.push('');
  return lines;
}

function authOf(op: Operation, schemes: NonNullable<OpenApiDocument['components']>['securitySchemes']): string {
  const names = (op.security ?? []).flatMap((r) => Object.keys(r));
  if (names.length === 0) return 'none';
  const admin = /\*\*Admin only\*\*/.test(op.description ?? '') ? ', with the `admin` role' : '';
  return names.map((n) => (schemes?.[n]?.scheme === 'bearer' ? `bearer token${admin}` : code(n))).join(' or ');
}

function renderOperation(method: string, path: string, op: Operation, doc: OpenApiDocument, commonErrors: Map<string, string>): string[] {
  const lines = [`### \`${method.toUpperCase()} ${path}\``, ''];
  if (op.summary) lines.push(`${op.summary}.`.replace(/\.\.$/, '.'), '');
  lines.push(`**Auth:** ${authOf(op, doc.components?.securitySchemes)}.`, '');
  if (op.description) lines.push(op.description, '');
  if (op.parameters && op.parameters.length > 0) {
    lines.push('| Parameter | In | Type | Required | Notes |', '|---|---|---|---|---|');
    const ordered = [...op.parameters].sort((a, b) => Number(b.in === 'path') - Number(a.in === 'path'));
    for (const p of ordered) {
      const notes = [p.description !== p.schema.description ? p.description : undefined, notesOf(p.schema)].filter((n) => n).join(' — ');
      lines.push(`| ${code(p.name)} | ${p.in} | ${cell(typeOf(p.schema))} | ${p.required ? 'yes' : 'no'} | ${cell(notes)} |`);
    }
    lines.push('');
  }
  const body = op.requestBody;
  const bodySchema = body?.content ? Object.values(body.content)[0]?.schema : undefined;
  if (body?.content && bodySchema) {
    const types = Object.keys(body.content).map(code).join(', ');
    lines.push(`**Request body** (${types}${body.required ? '' : ', optional'}):`, '', ...renderSchema(bodySchema));
    // The body the docs page pre-fills for "Try it out".
    const example = Object.values(body.content)[0]?.example;
    if (example !== undefined) lines.push('Example:', '', '```json', JSON.stringify(example, null, 2), '```', '');
  }
  lines.push('**Responses:**', '', '| Status | Meaning |', '|---|---|');
  const usual: string[] = [];
  const bodies = new Map<string, string[]>();
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    const [type, media] = Object.entries(response.content ?? {})[0] ?? [];
    if (isProblem(media?.schema) && response.description === commonErrors.get(status)) {
      usual.push(status);
      continue;
    }
    lines.push(`| ${status} | ${cell(response.description ?? '')}${isProblem(media?.schema) ? ' (Problem Details)' : ''} |`);
    if (media?.schema === undefined || isProblem(media.schema)) continue;
    // One section for the statuses that answer the same body (200 and 201 of a PUT).
    const rendered = [`(${code(type ?? '')}):`, '', ...renderSchema(media.schema)].join('\n');
    bodies.set(rendered, [...(bodies.get(rendered) ?? []), status]);
  }
  if (usual.length > 0) lines.push('', `Also, as on every route (see [Errors](#errors)): ${usual.join(', ')}.`);
  lines.push('');
  for (const [rendered, statuses] of bodies) lines.push(`**${statuses.join(', ')} body** ${rendered}`, '');
  return lines;
}

const isProblem = (s: Schema | undefined): boolean => s?.$ref !== undefined && refName(s.$ref) === 'Problem';

/** The error statuses every operation that answers them describes alike, with that description. */
function usualErrors(operations: { op: Operation }[]): { usual: Map<string, string>; varied: string[] } {
  const texts = new Map<string, Set<string>>();
  for (const { op } of operations) {
    for (const [status, response] of Object.entries(op.responses ?? {})) {
      const media = Object.values(response.content ?? {})[0];
      if (isProblem(media?.schema)) texts.set(status, (texts.get(status) ?? new Set()).add(response.description ?? ''));
    }
  }
  const usual = new Map<string, string>();
  const varied: string[] = [];
  for (const status of [...texts.keys()].sort()) {
    const [only, ...others] = texts.get(status) ?? [];
    if (only !== undefined && others.length === 0) usual.set(status, only);
    else varied.push(status);
  }
  return { usual, varied };
}

/** docs/api.md from the service's OpenAPI document. */
export function renderApiMarkdown(doc: OpenApiDocument, generator: string): string {
  const lines = [
    `# ${doc.info.title} — HTTP API v${doc.info.version}`,
    '',
    `<!-- Generated by ${generator} from the OpenAPI document the service publishes at /openapi.json; do not edit. -->`,
    '',
    'The running service publishes this contract as OpenAPI 3.1 at `GET /openapi.json`, with an interactive page at `GET /docs` (`GET /` leads there).',
    '',
    doc.info.description ?? '',
    '',
  ];
  const schemes = Object.entries(doc.components?.securitySchemes ?? {});
  if (schemes.length > 0) {
    lines.push('## Authentication', '');
    for (const [name, scheme] of schemes) {
      const kind = scheme.type === 'http' && scheme.scheme === 'bearer' ? `\`Authorization: Bearer <${scheme.bearerFormat ?? 'token'}>\`` : scheme.type;
      lines.push(`- **${name}**: ${kind}. ${scheme.description ?? ''}`.trimEnd());
    }
    lines.push('');
  }
  const operations = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
    METHODS.filter((m) => byMethod[m] !== undefined).map((m) => ({ method: m, path, op: byMethod[m] as Operation })),
  );
  const tags = [...(doc.tags ?? [])];
  for (const { op } of operations) {
    for (const tag of op.tags ?? ['other']) if (!tags.some((t) => t.name === tag)) tags.push({ name: tag });
  }
  const { usual: commonErrors, varied } = usualErrors(operations);
  const others = varied.length > 0 ? `; the others (${varied.join(', ')}) are described with each operation` : '';
  lines.push('## Errors', '', `Every error is a [Problem](#schema-problem) (\`application/problem+json\`). These statuses mean the same on every operation that answers them${others}.`, '');
  lines.push('| Status | Meaning |', '|---|---|', ...[...commonErrors].map(([status, text]) => `| ${status} | ${cell(text)} |`), '');
  lines.push('## Contents', '');
  for (const tag of tags) {
    const ops = operations.filter((o) => (o.op.tags ?? ['other']).includes(tag.name));
    lines.push(`- **${tag.name}**: ${ops.map((o) => `\`${o.method.toUpperCase()} ${o.path}\``).join(', ')}`);
  }
  lines.push('');
  for (const tag of tags) {
    const ops = operations.filter((o) => (o.op.tags ?? ['other']).includes(tag.name));
    if (ops.length === 0) continue;
    lines.push(`## ${tag.name[0]?.toUpperCase()}${tag.name.slice(1)}`, '');
    if (tag.description) lines.push(tag.description, '');
    for (const { method, path, op } of ops) lines.push(...renderOperation(method, path, op, doc, commonErrors));
  }
  const shared = Object.entries(doc.components?.schemas ?? {});
  if (shared.length > 0) {
    lines.push('## Schemas', '');
    for (const [name, schema] of shared) lines.push(`<a id="${anchor(name)}"></a>`, '', `### ${name}`, '', ...renderSchema(schema));
  }
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
