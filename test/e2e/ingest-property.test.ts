import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SqliteEventLog } from '../../src/adapters/event-log/sqlite-event-log.ts';
import { mintToken } from '../../src/api/auth.ts';
import type { StoredEvent } from '../../src/ports/warehouse.ts';
import { eventually } from '../helpers/app.ts';
import { type RunningService, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

/**
 * Issue #7, invariant 1, "202 means loaded", as a property over generated input on the real
 * embedded pipeline (a `serve` process: SQLite event log -> ETL thread -> chDB). Every event
 * the schema accepts (any Unicode, lone surrogates included; RFC 3339 times of every shape:
 * offsets, lower-case separators, 0..9 fraction digits, leap seconds, far past and future;
 * any double; odd property keys) is either refused with a 400 naming exactly the fields an
 * independent oracle says are bad, or loaded: in the warehouse with the values sent (times as
 * the oracle computes them), and nothing dead-lettered.
 */
const DAY = 86_400_000;
const MIN_MS = 0;
const MAX_MS = Date.UTC(2300, 0, 1) - 1;
const NOW = Date.now();

// ---- generators, each carrying what it means (the oracle) beside what is sent ----

/** A character: any code point but a surrogate, often an odd one (control, astral, quote, ZWJ sequence). */
const char = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0x20, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)) },
  { weight: 3, arbitrary: fc.constantFrom('a', 'é', '中', '😀', '\u{1F468}\u200D\u{1F469}', '"', '\\', '\uFFFD', '\u2028', '\u0000') },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)) },
);
/** Text, now and then with a lone surrogate (half an emoji) somewhere in it. */
const text = (maxLength: number, minLength = 0) =>
  fc.oneof(
    { weight: 40, arbitrary: fc.string({ unit: char, minLength, maxLength }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.string({ unit: char, maxLength: maxLength - 1 }), fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\ud83d'), fc.nat())
        .map(([s, lone, at]) => {
          const cut = [...s].slice(0, at % (s.length + 1));
          return cut.join('') + lone + [...s].slice(cut.length).join('');
        }),
    },
  );

interface GenTime {
  text: string;
  /** The instant the text means, in epoch ms (a leap second is 23:59:59.999). */
  ms: number;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** An RFC 3339 rendering of a generated instant, and the instant as the API must read it. */
const time: fc.Arbitrary<GenTime> = fc
  .record({
    ms: fc.oneof(
      { weight: 10, arbitrary: fc.integer({ min: NOW - 30 * DAY, max: NOW + 3 * DAY }) },
      { weight: 1, arbitrary: fc.integer({ min: Date.UTC(1950, 0), max: Date.UTC(2400, 0) }) },
      { weight: 1, arbitrary: fc.constantFrom(MIN_MS, MIN_MS - 1, MAX_MS, MAX_MS + 1, NOW + DAY - 1000, NOW + DAY + 60_000) },
    ),
    offset: fc.oneof(fc.constant(0), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })),
    zulu: fc.constantFrom('Z', 'z', '+00:00', '-00:00'),
    separator: fc.constantFrom('T', 't', ' '),
    digits: fc.integer({ min: 0, max: 9 }),
    extra: fc.integer({ min: 0, max: 999_999 }),
    leap: fc.boolean(),
  })
  .map(({ ms: chosen, offset, zulu, separator, digits, extra, leap }) => {
    const unit = digits >= 3 ? 1 : 10 ** (3 - digits);
    let ms = Math.floor(chosen / unit) * unit;
    let leapSecond = false;
    // A leap second only where one can be: 23:59:60 UTC; its fraction is kept in the text only.
    if (leap && digits <= 3) {
      ms = Math.floor(ms / DAY) * DAY + DAY - 1000 + (ms % 1000);
      leapSecond = true;
    }
    const local = new Date(ms + offset * 60_000);
    const fraction = digits === 0 ? '' : `.${(pad(local.getUTCMilliseconds(), 3) + pad(extra, 6)).slice(0, digits)}`;
    const seconds = leapSecond ? 60 : local.getUTCSeconds();
    const zone = offset === 0 ? zulu : `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
    const text = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}${separator}${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(seconds)}${fraction}${zone}`;
    return { text, ms: leapSecond ? Math.floor(ms / 1000) * 1000 + 999 : ms };
  })
;

/** A property value: text, any double (1e309 and -1e309 reach the server as written), a boolean. */
type GenValue = { json: string; value: string | number | boolean; finite: boolean };
const propertyValue: fc.Arbitrary<GenValue> = fc.oneof(
  { weight: 12, arbitrary: text(20).map((s) => ({ json: JSON.stringify(s), value: s, finite: true })) },
  { weight: 12, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => ({ json: JSON.stringify(d), value: d, finite: true })) },
  { weight: 3, arbitrary: fc.constantFrom(-0, 5e-324, Number.MAX_VALUE, 2 ** 53 + 1, -(2 ** 63)).map((d) => ({ json: JSON.stringify(d), value: d, finite: true })) },
  { weight: 1, arbitrary: fc.constantFrom(Infinity, -Infinity).map((d) => ({ json: d > 0 ? '1e309' : '-1e309', value: d, finite: false })) },
  { weight: 6, arbitrary: fc.boolean().map((b) => ({ json: String(b), value: b, finite: true })) },
);
// `__proto__` is refused by the prototype-poisoning guard of the JSON parser, by design.
const propertyKey = text(12).filter((k) => k !== '__proto__' && k !== 'constructor');

const event = fc.record(
  {
    type: fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/),
    element: fc.record({ kind: fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), id: text(20, 1) }),
    film_id: fc.tuple(fc.uuid(), fc.boolean()).map(([u, upper]) => (upper ? u.toUpperCase() : u)),
    description: text(40),
    occurred_at: time,
    started_at: time,
    ended_at: time,
    properties: fc.array(fc.tuple(propertyKey, propertyValue), { maxLength: 5 }),
  },
  { requiredKeys: ['type'] },
);
/** Mostly a well-ordered interval (a client's usual), sometimes one that ends before it starts. */
const orderedEvent = fc.tuple(event, fc.integer({ min: 0, max: 9 })).map(([e, dice]) =>
  e.started_at && e.ended_at && dice > 0 && e.ended_at.ms < e.started_at.ms ? { ...e, started_at: e.ended_at, ended_at: e.started_at } : e,
);
const batch = fc.record({ events: fc.array(orderedEvent, { minLength: 1, maxLength: 4 }), skewMs: fc.option(fc.integer({ min: -2 * DAY, max: 2 * DAY })) });

type GenEvent = typeof event extends fc.Arbitrary<infer T> ? T : never;

function eventJson(e: GenEvent, id: string): string {
  const parts = [`"event_id":"${id}"`, `"type":"${e.type}"`];
  if (e.element) parts.push(`"element":${JSON.stringify(e.element)}`);
  if (e.film_id) parts.push(`"film_id":"${e.film_id}"`);
  if (e.description !== undefined) parts.push(`"description":${JSON.stringify(e.description)}`);
  for (const field of ['occurred_at', 'started_at', 'ended_at'] as const) {
    const t = e[field];
    if (t) parts.push(`"${field}":"${t.text}"`);
  }
  if (e.properties) parts.push(`"properties":{${e.properties.map(([k, v]) => `${JSON.stringify(k)}:${v.json}`).join(',')}}`);
  return `{${parts.join(',')}}`;
}

/** Client times within this of 1970 once corrected depend on the exact receive time: such cases are skipped. */
const AMBIGUOUS_MS = 10_000;

/**
 * The fields of `e` the API must refuse (JSON Pointers under `path`); empty when it must
 * accept; null when the answer depends on the exact receive time.
 */
function badFields(e: GenEvent, path: string, skew: number | null): string[] | null {
  const bad = new Set<string>();
  const ill = (s: string) => !s.isWellFormed();
  if (e.element && ill(e.element.id)) bad.add(`${path}/element/id`);
  if (e.description !== undefined && ill(e.description)) bad.add(`${path}/description`);
  const times = (['occurred_at', 'started_at', 'ended_at'] as const).filter((f) => e[f] !== undefined);
  // The schema states the years of the text (1970..2299); the rules judge the instants.
  const yearOk = (t: GenTime) => Number(t.text.slice(0, 4)) >= 1970 && Number(t.text.slice(0, 4)) <= 2299;
  const ruleBad = new Set<string>();
  for (const f of times) {
    const t = e[f];
    if (t && !yearOk(t)) bad.add(`${path}/${f}`);
    if (t && (t.ms < MIN_MS || t.ms > MAX_MS)) ruleBad.add(`${path}/${f}`);
  }
  if (e.started_at && e.ended_at && e.ended_at.ms < e.started_at.ms) ruleBad.add(`${path}/ended_at`);
  // Storable and in order, a time can still be moved before 1970 by the correction (sent_at,
  // or an interval ending over 24 h ahead moved back whole).
  if (ruleBad.size === 0) {
    const shifted = correct(e, skew ?? 0, Date.now());
    for (const f of times) {
      const t = shifted[f] ?? 0;
      if (Math.abs(t - MIN_MS) < AMBIGUOUS_MS) return null;
      if (t < MIN_MS) ruleBad.add(`${path}/${f}`);
    }
  }
  for (const f of ruleBad) bad.add(f);
  // A repeated key: JSON.parse keeps the last value.
  for (const [k, v] of new Map(e.properties ?? [])) {
    const at = `${path}/properties/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (ill(k) || !v.finite || (typeof v.value === 'string' && ill(v.value))) bad.add(at);
  }
  return [...bad].sort();
}

/** The times the warehouse must hold, given the receive time: skew applied, far future clamped. */
function correct(e: GenEvent, skew: number, received: number): Partial<Record<'occurred_at' | 'started_at' | 'ended_at', number>> {
  const out: Partial<Record<'occurred_at' | 'started_at' | 'ended_at', number>> = {};
  const latest = received + DAY;
  if (e.occurred_at) out.occurred_at = e.occurred_at.ms + skew > latest ? received : e.occurred_at.ms + skew;
  const s = e.started_at ? e.started_at.ms + skew : undefined;
  const t = e.ended_at ? e.ended_at.ms + skew : undefined;
  if (s !== undefined && t !== undefined && t >= s && t > latest) {
    out.started_at = s - (t - received);
    out.ended_at = received;
  } else {
    if (s !== undefined) out.started_at = s > latest ? received : s;
    if (t !== undefined) out.ended_at = t > latest ? received : t;
  }
  return out;
}

describe('property: every event the API accepts is loaded, every other is refused naming the field', () => {
  let tmp: TempDir;
  let svc: RunningService;
  let env: Record<string, string>;
  let admin: string;
  before(async () => {
    tmp = await makeTempDir('ugc-prop-');
    env = { DATA_DIR: tmp.dir, AUTH_JWT_SECRET: randomBytes(32).toString('hex'), ETL_BATCH_MAX_WAIT_MS: '50', RATE_LIMIT_MAX: '0' };
    svc = await startService(env);
    admin = await mintToken({ secret: env.AUTH_JWT_SECRET ?? '', userId: 'admin', admin: true, ttlSeconds: 3600 });
  });
  after(async () => {
    await stopAll();
    await tmp.cleanup();
  });

  it('holds for generated batches on the embedded pipeline (chDB)', async () => {
    let run = 0;
    let loaded = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(batch, async ({ events, skewMs }) => {
        const user = `prop-${run++}-😀-${randomUUID().slice(0, 8)}`;
        const ids = events.map(() => randomUUID());
        const sentAt = skewMs === null ? null : new Date(Date.now() - skewMs).toISOString();
        const body = `{${sentAt === null ? '' : `"sent_at":"${sentAt}",`}"events":[${events.map((e, i) => eventJson(e, ids[i] ?? '')).join(',')}]}`;
        const token = await mintToken({ secret: env.AUTH_JWT_SECRET ?? '', userId: user, admin: false, ttlSeconds: 600 });
        const res = await fetch(`${svc.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
        const answer = (await res.json()) as { errors?: { path: string }[] };
        const verdicts = events.map((e, i) => badFields(e, `/events/${i}`, skewMs));
        fc.pre(verdicts.every((v) => v !== null));
        const expectedBad = verdicts.flatMap((v) => v ?? []).sort();
        if (expectedBad.length > 0) {
          assert.equal(res.status, 400, `must refuse ${expectedBad.join(', ')}: ${body}`);
          assert.deepEqual([...new Set(answer.errors?.map((e) => e.path))].sort(), expectedBad, body);
          refused++;
          return;
        }
        assert.equal(res.status, 202, `${JSON.stringify(answer)} for ${body}`);
        const stored = await eventually(
          async () => {
            const r = await fetch(`${svc.url}/api/v1/analytics/users/${encodeURIComponent(user)}/events?from=1970-01-01T00:00:00Z&to=2299-12-31T23:59:59Z&limit=1000`, {
              headers: { authorization: `Bearer ${admin}` },
            });
            return ((await r.json()) as { items: StoredEvent[] }).items;
          },
          (items) => items.length >= events.length,
          20_000,
          `${events.length} events of ${user} loaded`,
        );
        assert.equal(stored.length, events.length);
        for (const [i, e] of events.entries()) {
          const row = stored.find((s) => s.event_id === ids[i]);
          assert.ok(row, `event ${i} loaded`);
          const received = Date.parse(row.received_at);
          const times = correct(e, sentAt === null ? 0 : received - Date.parse(sentAt), received);
          const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
          assert.deepEqual(
            { ...row, received_at: undefined },
            {
              event_id: ids[i],
              user_id: user,
              type: e.type,
              element: e.element ? { kind: e.element.kind, id: e.element.id } : null,
              film_id: e.film_id?.toLowerCase() ?? null,
              // The warehouse keeps "no description" as an empty string.
              description: e.description === undefined || e.description === '' ? null : e.description,
              occurred_at: iso(times.occurred_at) ?? row.received_at,
              received_at: undefined,
              started_at: iso(times.started_at),
              ended_at: iso(times.ended_at),
              properties: JSON.parse(JSON.stringify(Object.fromEntries((e.properties ?? []).map(([k, v]) => [k, v.value])))) as unknown,
            },
            body,
          );
        }
        loaded += events.length;
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 200), interruptAfterTimeLimit: 45_000, markInterruptAsFailure: false },
    );
    assert.ok(loaded > 0 && refused > 0, `both outcomes exercised (loaded ${loaded}, refused ${refused})`);

    // Nothing was dead-lettered, and the ETL is not behind: stop the service and read its log.
    svc.child.kill('SIGTERM');
    const exited = await svc.exited;
    const lastLines = svc.logs.slice(-15).map((l) => `${String(l['log.level'])} ${String(l.message)}`).join('\n');
    assert.equal(exited.code, 0, `serve exited ${JSON.stringify(exited)} after SIGTERM; its last log lines:\n${lastLines}`);
    const log = new SqliteEventLog({ path: `${tmp.dir}/event-log.sqlite`, defaultPartitions: 4, maxPendingRecords: 1000, retentionMs: 3_600_000 });
    await log.start();
    try {
      const dlq = log.consumer({ group: `check-${randomUUID()}`, stream: 'ugc.events.dlq' });
      const dead = await dlq.poll({ maxRecords: 100, maxWaitMs: 200 });
      await dlq.close();
      assert.deepEqual(dead.map((r) => r.value.toString()), [], 'the dead-letter stream is empty');
      const etl = log.consumer({ group: 'ugc-etl', stream: 'ugc.events' });
      assert.equal(await etl.lag(), 0, 'the ETL loaded everything');
      await etl.close();
    } finally {
      await log.close();
    }
  });
});
