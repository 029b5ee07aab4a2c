import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { EventRow, TimeRange, Warehouse } from '../../src/ports/warehouse.ts';
import { engineConfig } from './engines.ts';

/**
 * Shared pieces of the ClickHouse engine suites: plain HTTP to the server, throwaway database
 * names, reproducible messy traffic and the comparison of every query against a reference
 * warehouse loaded with the same data.
 */

/**
 * Plain HTTP to the configured ClickHouse server, independent of the adapter under test: setup,
 * inspection, cleanup. Each request gives up after `timeoutMs`.
 */
export function clickhouseSql(timeoutMs: number): (query: string) => Promise<string> {
  const { url, username, password } = engineConfig.warehouse.clickhouse;
  return async (query) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'X-ClickHouse-User': username, 'X-ClickHouse-Key': password },
      body: query,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`ClickHouse answered ${response.status}: ${text}`);
    return text.trim();
  };
}

/** A database name of its own for one test. */
export const newDatabase = (): string => `t_${randomBytes(6).toString('hex')}`;

export interface MessyTrafficSpec {
  /** Seed of the generator: the same seed gives the same traffic (but for the random UUIDs). */
  seed: number;
  /** Users to spread the events over. */
  users: readonly string[];
  /** Events of the first batch. */
  count: number;
  /** How many of the first events are re-sent later with other content. */
  resent: number;
  /** `[start, end)` of the first batch's slice that is loaded a second time. */
  reloaded: readonly [number, number];
}

/**
 * Reproducible messy traffic: ties on occurred_at (whole seconds), missing films and intervals,
 * special characters, late re-sends of some events with other content, and part of the first
 * batch loaded twice. Three batches, to be loaded in order.
 */
export function messyTraffic(t0: number, spec: MessyTrafficSpec): EventRow[][] {
  let seed = spec.seed;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(xs: readonly T[], fallback: T): T => xs[Math.floor(random() * xs.length)] ?? fallback;
  const films = Array.from({ length: 8 }, () => randomUUID());
  const types = ['view', 'playback_start', 'playback_progress', 'playback_stop', 'click', 'search'];
  const iso = (ms: number): string => new Date(ms).toISOString();
  const first = Array.from({ length: spec.count }, (_, i): EventRow => {
    const occurred = t0 + Math.floor(random() * 40) * 1_000 - 20_000;
    const started = random() < 0.5 ? occurred - Math.floor(random() * 5_000) : null;
    const duration = started === null ? 0 : Math.floor(random() * 10_000);
    return {
      event_id: randomUUID(), user_id: pick(spec.users, 'u1'), type: pick(types, 'view'), element_kind: pick(['', 'film'], ''),
      element_id: pick(['', 'e1'], ''), film_id: random() < 0.3 ? null : pick(films, null), description: pick(['', 'd', 'Ж'], ''),
      occurred_at: iso(occurred), received_at: iso(occurred + Math.floor(random() * 3_000)),
      started_at: started === null ? null : iso(started), ended_at: started === null ? null : iso(started + duration),
      duration_ms: duration, properties: { i },
    };
  });
  const resent = first.slice(0, spec.resent).map((r) => ({
    ...r, type: pick(types, 'view'), duration_ms: 777, received_at: iso(Date.parse(r.received_at) + 1 + Math.floor(random() * 5_000)),
  }));
  return [first, resent, first.slice(...spec.reloaded)];
}

/**
 * The ranges the comparison queries, around `t0`: the traffic's whole span, a part of it, a
 * millisecond, a wider span and an empty range. The fourth (index 3) covers all messy traffic.
 */
export function messyRanges(t0: number): TimeRange[] {
  return [[-20_000, 20_000], [-5_000, 3_000], [0, 1], [-100_000, 100_000], [1_000, 1_000]]
    .map(([from = 0, to = 0]) => ({ from: new Date(t0 + from), to: new Date(t0 + to) }));
}

type Queried = Pick<Warehouse, 'insertEvents' | 'summary' | 'topFilms' | 'userEvents'>;

/**
 * Loads every batch into `subject` and `reference` (each batch into both, in order), then
 * asserts that every query — summary, topFilms for each metric and limit, userEvents for each
 * user and limit — answers exactly the same on each range.
 */
export async function assertSameAnswers(
  subject: Queried, reference: Queried, batches: readonly EventRow[][], ranges: readonly TimeRange[], users: readonly string[],
): Promise<void> {
  for (const batch of batches) {
    await subject.insertEvents(batch);
    await reference.insertEvents(batch);
  }
  for (const r of ranges) {
    assert.deepEqual(await subject.summary(r), await reference.summary(r));
    for (const metric of ['views', 'watch_seconds'] as const) {
      for (const limit of [1, 3, 100]) assert.deepEqual(await subject.topFilms(r, metric, limit), await reference.topFilms(r, metric, limit));
    }
    for (const user of users) {
      for (const limit of [5, 1_000]) assert.deepEqual(await subject.userEvents(user, r, limit), await reference.userEvents(user, r, limit));
    }
  }
}
