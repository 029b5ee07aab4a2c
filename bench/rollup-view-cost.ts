/**
 * What the rollups' materialized views cost an insert: `node bench/rollup-view-cost.ts`. One chDB
 * session, three databases migrated alike — all three views, only `events_15m`'s, none — and
 * 5,000-event batches shaped like the ETL benchmark's (1,000 users, 500 films, 10,000 trailers),
 * inserted into each in turn for 8 rounds; prints the median and fastest insert of each. Not part
 * of `bench/run.ts`: a probe behind the ETL figures in bench/README.md.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbExecutor } from '../src/adapters/warehouse/chdb-warehouse.ts';
import { SqlWarehouse } from '../src/adapters/warehouse/sql-warehouse.ts';
import { percentiles } from './lib/report.ts';

const dir = mkdtempSync(join(tmpdir(), 'ugc-bench-views-'));
const exec = new ChdbExecutor(dir);
const cases = { 'all three views': 'full', 'events_15m view only': 'only15m', 'no view': 'noviews' } as const;
for (const db of Object.values(cases)) {
  const w = new SqlWarehouse(exec, { database: db });
  await w.start();
  await w.migrate();
}
for (const view of ['films_daily_mv', 'elements_daily_mv']) await exec.command(`DETACH TABLE only15m.${view}`);
for (const view of ['events_15m_mv', 'films_daily_mv', 'elements_daily_mv']) await exec.command(`DETACH TABLE noviews.${view}`);

const now = Date.now();
function batch(): string {
  return Array.from({ length: 5_000 }, () => {
    const at = new Date(now - Math.floor(Math.random() * 7 * 86_400_000)).toISOString().replace('T', ' ').slice(0, 23);
    const k = Math.random();
    const film = k < 0.3 || (k >= 0.5 && k < 0.9) ? `00000000-0000-4000-8000-${String(Math.floor(Math.random() * 500)).padStart(12, '0')}` : null;
    return JSON.stringify({
      event_id: randomUUID(), user_id: `user_${Math.floor(Math.random() * 1000)}`,
      type: k < 0.3 ? 'click' : k < 0.5 ? 'page_view' : k < 0.65 ? 'view' : k < 0.9 ? 'playback_progress' : 'search',
      element_kind: k < 0.3 ? 'trailer' : k < 0.5 ? 'page' : '', element_id: k < 0.3 ? `tr-${Math.floor(Math.random() * 10_000)}` : k < 0.5 ? '/films' : '',
      film_id: film, description: '', occurred_at: at, received_at: at, started_at: null, ended_at: null, duration_ms: 1000, properties: '{"position_s":12}',
    });
  }).join('\n');
}

const ms = new Map<string, number[]>(Object.keys(cases).map((c) => [c, []]));
try {
  for (let round = 0; round < 8; round++) {
    for (const [label, db] of Object.entries(cases)) {
      const body = batch();
      const start = performance.now();
      await exec.insertJsonEachRow(`${db}.events`, body);
      ms.get(label)?.push(performance.now() - start);
    }
  }
  for (const [label, samples] of ms) {
    const [min = Number.NaN, p50 = Number.NaN] = percentiles(samples, [0, 50]);
    console.log(`${label.padEnd(22)} insert of 5,000 events: median ${p50.toFixed(1)} ms, fastest ${min.toFixed(1)} ms`);
  }
} finally {
  await exec.close();
  rmSync(dir, { recursive: true, force: true });
}
