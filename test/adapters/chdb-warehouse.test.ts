import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ChdbWarehouse } from '../../src/adapters/warehouse/chdb-warehouse.ts';
import { toBackendError } from '../../src/adapters/warehouse/clickhouse-errors.ts';
import { warehouseInsightsContract } from '../contracts/warehouse-insights.contract.ts';
import { warehouseContract } from '../contracts/warehouse.contract.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import type { TempDir } from '../helpers/tmp.ts';

// One session directory for the whole file: tests run one after another and each opens (and
// closes) its own session on a database of its own.
let tmp: TempDir;
let path: string;

before(async () => {
  tmp = await makeTempDir('ugc-chdb-');
  path = join(tmp.dir, 'chdb');
});
after(async () => {
  await tmp.cleanup();
});

const makeChdb = (database: string) => {
  const warehouse = new ChdbWarehouse({ path, database });
  // The directory goes with the file; closing the session is all a test leaves behind.
  return Promise.resolve({ warehouse, cleanup: () => warehouse.close() });
};

warehouseContract('chdb', makeChdb);
warehouseInsightsContract('chdb', makeChdb);

/**
 * Runs an ES module `script` in another Node process (chDB allows one session per process, and
 * these tests need a database built by other code) and returns its stdout; fails on a non-zero exit.
 */
async function runScript(script: string): Promise<string> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, stderr);
  return stdout;
}

void describe('ChdbWarehouse', () => {
  const range = { from: new Date(Date.UTC(2026, 0, 1)), to: new Date(Date.UTC(2027, 0, 1)) };

  void it('keeps loaded data once the process that loaded it has exited', async () => {
    const database = `t_${randomBytes(6).toString('hex')}`;
    const filmId = randomUUID();
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../src/adapters/warehouse/chdb-warehouse.ts')).href;
    const script = `
      import { ChdbWarehouse } from ${JSON.stringify(moduleUrl)};
      const w = new ChdbWarehouse({ path: ${JSON.stringify(path)}, database: ${JSON.stringify(database)} });
      await w.start();
      await w.migrate();
      const row = (type, ms) => ({ event_id: crypto.randomUUID(), user_id: 'survivor', type, element_kind: '', element_id: '',
        film_id: ${JSON.stringify(filmId)}, description: '', occurred_at: '2026-05-01T10:00:00.000Z', received_at: '2026-05-01T10:00:01.000Z',
        started_at: '2026-05-01T09:00:00.000Z', ended_at: new Date(Date.parse('2026-05-01T09:00:00.000Z') + ms).toISOString(),
        duration_ms: ms, properties: {} });
      await w.insertEvents([row('view', 1500), row('playback_stop', 250), row('click', 0)]);
      await w.close();`;
    await runScript(script);

    const w = new ChdbWarehouse({ path, database });
    try {
      await w.start();
      assert.deepEqual(await w.migrate(), []);
      assert.deepEqual(await w.summary(range), { events: 3, users: 1, by_type: { view: 1, playback_stop: 1, click: 1 } });
      assert.deepEqual(await w.topFilms(range, 'watch_seconds', 1), [{ film_id: filmId, views: 1, watch_seconds: 1.75 }]);
    } finally {
      await w.close();
    }
  });

  void it('upgrades a database loaded before load-time dedup: keys and rollups are backfilled, and its events are not loaded again', async () => {
    const database = `t_${randomBytes(6).toString('hex')}`;
    const [id, user] = [randomUUID(), "o'neil\\x"];
    const src = (file: string) => JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../src/adapters/warehouse', file)).href);
    // Another process builds the version-1 schema and loads an event the way the old ETL did (twice: a replay).
    const script = `
      import { ChdbExecutor } from ${src('chdb-warehouse.ts')};
      import { dialectFor } from ${src('clickhouse-dialect.ts')};
      import { MIGRATIONS, migrationsTable } from ${src('migrations.ts')};
      const exec = new ChdbExecutor(${JSON.stringify(path)});
      await exec.open();
      const ctx = { db: ${JSON.stringify(database)}, d: dialectFor('26.1'), cluster: undefined };
      await exec.command('CREATE DATABASE ' + ctx.db);
      await exec.command(migrationsTable(ctx));
      for (const statement of MIGRATIONS[0].statements(ctx)) await exec.command(statement);
      await exec.command("INSERT INTO " + ctx.db + ".schema_migrations (version, name) VALUES (1, 'events table')");
      const row = JSON.stringify({ event_id: ${JSON.stringify(id)}, user_id: ${JSON.stringify(user)}, type: 'view', element_kind: '', element_id: '',
        film_id: null, description: '', occurred_at: '2026-05-01 10:00:00.000', received_at: '2026-05-01 10:00:01.000', started_at: null,
        ended_at: null, duration_ms: 0, properties: '{}' });
      await exec.insertJsonEachRow(ctx.db + '.events', row + '\\n' + row);
      await exec.close();`;
    await runScript(script);

    const w = new ChdbWarehouse({ path, database });
    try {
      await w.start();
      assert.deepEqual(await w.migrate(), [2, 3]);
      assert.deepEqual(await w.summary(range), { events: 1, users: 1, by_type: { view: 1 } }, 'the rollup holds the old event once');
      const again = {
        event_id: id, user_id: user, type: 'click', element_kind: '', element_id: '', film_id: null, description: '',
        occurred_at: '2026-05-01T11:00:00.000Z', received_at: '2026-05-01T11:00:00.000Z', started_at: null, ended_at: null, duration_ms: 0, properties: {},
      };
      await w.insertEvents([again]); // the backfilled key (hashed by SQL) is found by its JavaScript hash
      assert.deepEqual(await w.summary(range), { events: 1, users: 1, by_type: { view: 1 } });
    } finally {
      await w.close();
    }
  });

  void it('trims the dedup window by whole load-days that ended before the window began, and keeps the rest', async () => {
    const database = `t_${randomBytes(6).toString('hex')}`;
    const src = (file: string) => JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../src/adapters/warehouse', file)).href);
    const script = `
      import { ChdbExecutor } from ${src('chdb-warehouse.ts')};
      import { SqlWarehouse } from ${src('sql-warehouse.ts')};
      import { dialectFor } from ${src('clickhouse-dialect.ts')};
      import { trimKeys } from ${src('dedup-keys.ts')};
      const exec = new ChdbExecutor(${JSON.stringify(path)});
      const w = new SqlWarehouse(exec, { database: ${JSON.stringify(database)} });
      await w.start();
      await w.migrate();
      const now = new Date('2026-05-10T12:00:00Z');
      for (const day of ['2026-05-06', '2026-05-07', '2026-05-08', '2026-05-09', '2026-05-10']) {
        await exec.command("INSERT INTO ${database}.event_keys (h, user_id, event_id, occurred_at, loaded_at) VALUES (1, 'u', generateUUIDv4(), now64(3), toDateTime('" + day + " 23:59:59', 'UTC'))");
      }
      const ctx = { db: ${JSON.stringify(database)}, d: dialectFor('26.1'), cluster: undefined };
      const dropped = await trimKeys(exec, ctx, 48 * 3600000, now);
      const { data } = await exec.select('SELECT groupArray(d) AS days FROM (SELECT DISTINCT toString(toDate(loaded_at)) AS d FROM ${database}.event_keys ORDER BY d)');
      console.log(JSON.stringify({ dropped: dropped.sort(), kept: data[0].days }));
      await w.close();`;
    const stdout = await runScript(script);
    // 48 h before 2026-05-10 12:00 is 05-08 12:00: the load-days 05-06 and 05-07 ended before it, 05-08 did not.
    assert.deepEqual(JSON.parse(stdout.trim()), { dropped: ['20260506', '20260507'], kept: ['2026-05-08', '2026-05-09', '2026-05-10'] });
  });

  void it('classifies ClickHouse errors: data (never retried), infrastructure (retried), anything else unknown', () => {
    const chdbError = (code: number, name: string): Error => new Error(`Code: ${code}. DB::Exception: something. (${name})`);
    const fault = (err: unknown): [string, boolean] => {
      const mapped = toBackendError(err, 'insert');
      return [mapped.fault, mapped.retriable];
    };
    for (const [code, name] of [[6, 'CANNOT_PARSE_TEXT'], [25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'], [26, 'CANNOT_PARSE_QUOTED_STRING'],
      [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'], [38, 'CANNOT_PARSE_DATE'], [41, 'CANNOT_PARSE_DATETIME'], [53, 'TYPE_MISMATCH'],
      [69, 'ARGUMENT_OUT_OF_BOUND'], [70, 'CANNOT_CONVERT_TYPE'], [72, 'CANNOT_PARSE_NUMBER'], [117, 'INCORRECT_DATA'],
      [130, 'CANNOT_READ_ARRAY_FROM_TEXT'], [131, 'TOO_LARGE_STRING_SIZE'], [321, 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE'],
      [376, 'CANNOT_PARSE_UUID']] as const) {
      assert.deepEqual(fault(chdbError(code, name)), ['data', false], name);
    }
    for (const [code, name] of [[159, 'TIMEOUT_EXCEEDED'], [209, 'SOCKET_TIMEOUT'], [210, 'NETWORK_ERROR'], [241, 'MEMORY_LIMIT_EXCEEDED'],
      [252, 'TOO_MANY_PARTS'], [164, 'READONLY'], [242, 'TABLE_IS_READ_ONLY'], [225, 'NO_ZOOKEEPER'], [999, 'KEEPER_EXCEPTION'],
      [60, 'UNKNOWN_TABLE'], [81, 'UNKNOWN_DATABASE'], [516, 'AUTHENTICATION_FAILED']] as const) {
      assert.deepEqual(fault(chdbError(code, name)), ['infrastructure', true], name);
    }
    // The chDB client's own field, and the HTTP client's string code.
    assert.deepEqual(fault(Object.assign(new Error('boom'), { clickhouseCode: 25 })), ['data', false]);
    assert.deepEqual(fault(Object.assign(new Error('boom'), { code: '252' })), ['infrastructure', true]);
    // Node's network failures carry no ClickHouse code.
    assert.deepEqual(fault(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' })), ['infrastructure', true]);
    assert.deepEqual(fault(new Error('socket hang up')), ['infrastructure', true]);
    assert.deepEqual(fault(new Error('Timeout error.')), ['infrastructure', true]);
    // Nobody classified these: retried, and suspected by the ETL only while the warehouse answers.
    assert.deepEqual(fault(chdbError(1001, 'STD_EXCEPTION')), ['unknown', true]);
    assert.deepEqual(fault(chdbError(49, 'LOGICAL_ERROR')), ['unknown', true]);
    assert.deepEqual(fault(chdbError(123456, 'FROM_THE_FUTURE')), ['unknown', true]);
    assert.deepEqual(fault(new Error('something odd')), ['unknown', true]);
    const mapped = toBackendError(chdbError(41, 'CANNOT_PARSE_DATETIME'), 'warehouse insert');
    assert.match(mapped.message, /ClickHouse code 41/);
    assert.ok(mapped.cause instanceof Error);
  });
});
