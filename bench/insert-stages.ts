/**
 * Where `insertEvents` spends its time on chDB: `node bench/insert-stages.ts [BATCHES]`. Loads
 * BATCHES (default 40) batches of 5,000 new events, shaped like the ETL benchmark's (1,000 users,
 * 500 films, 10,000 trailers), through `SqlWarehouse` on a `ChdbExecutor` whose calls are timed,
 * and prints the mean per batch of the whole `insertEvents` and of each statement it runs (the key
 * lookup, the `event_keys` insert, the `events` insert with its rollup views); the difference is
 * JavaScript (hashes, JSONEachRow lines). Not part of `bench/run.ts`: a probe behind the ETL
 * figures in bench/README.md.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbExecutor } from '../src/adapters/warehouse/chdb-warehouse.ts';
import { SqlWarehouse } from '../src/adapters/warehouse/sql-warehouse.ts';
import type { EventRow } from '../src/ports/warehouse.ts';

const BATCHES = Number(process.argv[2] ?? 40);
const ROWS = 5_000;

/** The executor with each statement's wall time added up under a short label. */
class TimedExecutor extends ChdbExecutor {
  readonly ms = new Map<string, number>();
  async #timed<T>(label: string, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      this.ms.set(label, (this.ms.get(label) ?? 0) + performance.now() - start);
    }
  }
  override select<T>(sql: string): Promise<{ data: T[] }> {
    const label = sql.includes('event_keys') && sql.includes('h IN') ? 'key lookup (SELECT … h IN)' : `other SELECT: ${sql.slice(0, 30)}`;
    return this.#timed(label, () => super.select<T>(sql));
  }
  override insertJsonEachRow(table: string, body: string): Promise<void> {
    return this.#timed(`INSERT INTO ${table}`, () => super.insertJsonEachRow(table, body));
  }
}

const now = Date.now();
function batch(): EventRow[] {
  return Array.from({ length: ROWS }, () => {
    const k = Math.random();
    const at = new Date(now - Math.floor(Math.random() * 7 * 86_400_000)).toISOString();
    return {
      event_id: randomUUID(), user_id: `user_${Math.floor(Math.random() * 1000)}`,
      type: k < 0.3 ? 'click' : k < 0.5 ? 'page_view' : 'view',
      element_kind: k < 0.3 ? 'trailer' : '', element_id: k < 0.3 ? `tr-${Math.floor(Math.random() * 10_000)}` : '',
      film_id: k >= 0.5 ? `00000000-0000-4000-8000-${String(Math.floor(Math.random() * 500)).padStart(12, '0')}` : null,
      description: '', occurred_at: at, received_at: at, started_at: null, ended_at: null, duration_ms: 1000, properties: { position_s: 12 },
    };
  });
}

const dir = mkdtempSync(join(tmpdir(), 'ugc-bench-stages-'));
const exec = new TimedExecutor(dir);
const warehouse = new SqlWarehouse(exec, { database: 'stages' });
try {
  await warehouse.start();
  await warehouse.migrate();
  exec.ms.clear();
  let total = 0;
  for (let i = 0; i < BATCHES; i++) {
    const rows = batch();
    const start = performance.now();
    await warehouse.insertEvents(rows);
    total += performance.now() - start;
  }
  console.log(`insertEvents of ${ROWS.toLocaleString('en-US')} new events, mean of ${BATCHES} batches: ${(total / BATCHES).toFixed(1)} ms`);
  let engine = 0;
  for (const [label, ms] of exec.ms) {
    engine += ms;
    console.log(`  ${label.padEnd(40)} ${(ms / BATCHES).toFixed(1)} ms`);
  }
  console.log(`  ${'the rest (JavaScript)'.padEnd(40)} ${((total - engine) / BATCHES).toFixed(1)} ms`);
} finally {
  await warehouse.close();
  rmSync(dir, { recursive: true, force: true });
}
