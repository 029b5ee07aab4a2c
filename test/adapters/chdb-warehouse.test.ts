import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ChdbWarehouse } from '../../src/adapters/warehouse/chdb-warehouse.ts';
import { toBackendError } from '../../src/adapters/warehouse/clickhouse-errors.ts';
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

warehouseContract('chdb', (database) => {
  const warehouse = new ChdbWarehouse({ path, database });
  // The directory goes with the file; closing the session is all a test leaves behind.
  return Promise.resolve({ warehouse, cleanup: () => warehouse.close() });
});

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
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, stderr);

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
