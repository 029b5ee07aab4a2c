/**
 * The text after `[time] LEVEL:` on a terminal: the message and the few fields a person reads,
 * on one line. pino-pretty prints time and level and calls this for the rest (its `messageFormat`);
 * everything else of the entry is left to the JSON format (`LOG_FORMAT=json`), stacks included.
 *
 * - a request (`request completed`): `GET /api/v1/events 202 3.2 ms user=user_123`;
 * - an entry with `listen_url` (the start-up line): `... on URL`, then `docs_url` and `token_command`;
 * - an error (`err`): the message, then `: <the error's message>`;
 * - anything else: the message, then the entry's own fields as `key=value`.
 */
export function consoleLine(entry: Record<string, unknown>, messageKey: string): string {
  // A line break inside a value would start what looks like another entry.
  return compose(entry, messageKey).replace(/\s*[\r\n]+\s*/g, ' ');
}

function compose(entry: Record<string, unknown>, messageKey: string): string {
  const component = typeof entry.component === 'string' ? `${entry.component}: ` : '';
  const message = show(entry[messageKey] ?? '', true);
  if (message === 'request completed' && entry['http.request.method'] !== undefined) return component + requestLine(entry);

  let line = component + message;
  if (typeof entry.listen_url === 'string') line += ` on ${entry.listen_url}`;
  if (typeof entry.docs_url === 'string') line += ` — API docs: ${entry.docs_url}`;
  if (typeof entry.token_command === 'string') line += ` — a token: ${entry.token_command}`;
  const err = entry.err as { message?: unknown } | undefined;
  if (err && typeof err.message === 'string') line += `: ${firstLine(err.message)}`;
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN.has(key) && key !== messageKey && value !== undefined)
    .map(([key, value]) => `${key}=${show(value)}`);
  return fields.length > 0 ? `${line} ${fields.join(' ')}` : line;
}

/** pino's own fields, what the line already shows, and what only a log search needs. */
const HIDDEN = new Set([
  'level',
  'time',
  'pid',
  'hostname',
  'component',
  'err',
  'listen_url',
  'docs_url',
  'token_command',
  'http.request.id',
  'event.kind',
  'event.category',
  'client.ip',
  'user_agent.original',
  'ugc.route',
]);

function requestLine(entry: Record<string, unknown>): string {
  const ns = typeof entry['event.duration'] === 'number' ? entry['event.duration'] : undefined;
  const ms = ns === undefined ? '' : ` ${(ns / 1e6).toFixed(1)} ms`;
  const user = typeof entry['user.id'] === 'string' ? ` user=${entry['user.id']}` : '';
  return `${String(entry['http.request.method'])} ${String(entry['url.path'])} ${String(entry['http.response.status_code'])}${ms}${user}`;
}

const MAX_VALUE = 200;

/**
 * A value as it reads on one line: a plain word as it is, anything else as compact JSON, cut at
 * 200 characters; a message (any string) as it is, whole.
 */
function show(value: unknown, message = false): string {
  const plain = typeof value === 'string' && (message || /^[^\s"=]+$/.test(value));
  const text = plain ? value : (JSON.stringify(value) ?? typeof value);
  return !message && text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
