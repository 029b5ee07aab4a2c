import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { murmur2, partitionForKey, toPositive } from '../../src/adapters/event-log/partitioner.ts';
import { SqliteEventLog, toStorageError } from '../../src/adapters/event-log/sqlite-event-log.ts';
import type { SqliteEventLogOptions } from '../../src/adapters/event-log/sqlite-event-log.ts';
import { openSqlite } from '../../src/adapters/sqlite.ts';
import { BackendError, UnavailableError, ValidationError } from '../../src/domain/errors.ts';
import type { EventLogConsumer, LogRecord } from '../../src/ports/event-log.ts';
import { eventLogContract } from '../contracts/event-log.contract.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import type { TempDir } from '../helpers/tmp.ts';

const defaults = { defaultPartitions: 3, maxPendingRecords: 100_000, retentionMs: 7 * 24 * 3600_000 };

eventLogContract('sqlite', async () => {
  const tmp = await makeTempDir();
  // A long interval proves in-process appends wake polls by themselves, not by the re-check.
  const log = new SqliteEventLog({ ...defaults, path: join(tmp.dir, 'log.db'), pollIntervalMs: 5_000 });
  await log.start();
  return { log, cleanup: async () => { await log.close(); await tmp.cleanup(); } };
});

async function drain(consumer: EventLogConsumer, count: number): Promise<LogRecord[]> {
  const got: LogRecord[] = [];
  const deadline = Date.now() + 10_000;
  while (got.length < count && Date.now() < deadline) got.push(...(await consumer.poll({ maxRecords: 1000, maxWaitMs: 100 })));
  return got;
}

void describe('SqliteEventLog', () => {
  let tmp: TempDir;
  let path: string;
  const opened: SqliteEventLog[] = [];
  const open = async (options: Partial<SqliteEventLogOptions> = {}): Promise<SqliteEventLog> => {
    const log = new SqliteEventLog({ ...defaults, path, ...options });
    opened.push(log);
    await log.start();
    return log;
  };
  const value = (s: string): Buffer => Buffer.from(s);
  const group = (): string => `g-${randomUUID()}`;

  beforeEach(async () => {
    tmp = await makeTempDir();
    path = join(tmp.dir, 'log.db');
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
    await tmp.cleanup();
  });

  void it('murmur2 matches the vectors of Kafka UtilsTest.testMurmur2', () => {
    const vectors: [string, number][] = [
      ['21', -973932308], ['foobar', -790332482], ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829], ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, key);
    assert.equal(toPositive(-2147483648), 0);
    // toPositive(-973932308) = 1173551340; toPositive(-790332482) = 1357151166
    assert.equal(partitionForKey('21', 3), 1173551340 % 3);
    assert.equal(partitionForKey('foobar', 12), 6);
    assert.equal(partitionForKey('abc', 12), 479470107 % 12);
  });

  void it('places each record in the partition Kafka would choose', async () => {
    const log = await open();
    await log.createStream('placed', { partitions: 12 });
    const keys = ['21', 'foobar', 'abc', 'user_123', 'фильм'];
    await log.append('placed', keys.map((key) => ({ key, value: value(key) })));
    const got = await drain(log.consumer({ group: group(), stream: 'placed' }), keys.length);
    for (const r of got) assert.equal(r.partition, partitionForKey(r.key, 12), r.key);
  });

  void it('keeps records and committed offsets across a reopen', async () => {
    let log = await open();
    await log.createStream('durable', { partitions: 2 });
    await log.append('durable', ['a', 'b', 'c', 'd'].map((k) => ({ key: k, value: value(k), headers: { h: k } })));
    const g = group();
    const first = log.consumer({ group: g, stream: 'durable' });
    const got = await drain(first, 4);
    const committed = got.filter((r) => r.key === 'a' || r.key === 'b');
    await first.commit(committed);
    await log.close();

    log = await open();
    assert.deepEqual((await log.listStreams()).map((s) => [s.name, s.partitions, s.replicationFactor]), [['durable', 2, 1]]);
    const again = await drain(log.consumer({ group: g, stream: 'durable' }), 4 - committed.length);
    const expected = got.filter((r) => !committed.some((c) => c.partition === r.partition && c.offset >= r.offset));
    assert.deepEqual(again.map((r) => r.key).sort(), expected.map((r) => r.key).sort());
    const all = await drain(log.consumer({ group: group(), stream: 'durable' }), 4);
    assert.deepEqual(all.map((r) => [r.key, r.headers.h]).sort(), [['a', 'a'], ['b', 'b'], ['c', 'c'], ['d', 'd']]);
  });

  void it('keeps a record acknowledged by a process that is then killed with SIGKILL', async () => {
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../src/adapters/event-log/sqlite-event-log.ts')).href;
    const script = `
      import { SqliteEventLog } from ${JSON.stringify(moduleUrl)};
      const log = new SqliteEventLog({ path: ${JSON.stringify(path)}, defaultPartitions: 1, maxPendingRecords: 10, retentionMs: -1 });
      await log.start();
      await log.ensureStream('crash');
      await log.append('crash', [{ key: 'k', value: Buffer.from('survives') }]);
      process.stdout.write('acked\\n');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    for await (const chunk of child.stdout) {
      out += String(chunk);
      if (out.includes('acked')) break;
    }
    assert.ok(out.includes('acked'), 'the child never acknowledged');
    child.kill('SIGKILL');
    await once(child, 'exit');

    const log = await open();
    const got = await drain(log.consumer({ group: group(), stream: 'crash' }), 1);
    assert.deepEqual(got.map((r) => r.value.toString()), ['survives']);
  });

  void it('rejects appends beyond maxPendingRecords at once and writes nothing for them', async () => {
    const log = await open({ maxPendingRecords: 10 });
    await log.createStream('bounded', { partitions: 1 });
    const records = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ key: 'k', value: value(`${tag}${i}`) }));
    await assert.rejects(log.append('bounded', records(11, 'big')), (err: unknown) =>
      err instanceof UnavailableError && err.retryAfterSeconds === 1);
    const results = await Promise.allSettled([log.append('bounded', records(6, 'x')), log.append('bounded', records(6, 'y'))]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
    const consumer = log.consumer({ group: group(), stream: 'bounded' });
    const got = await drain(consumer, 6);
    assert.deepEqual(got.map((r) => r.value.toString()), ['x0', 'x1', 'x2', 'x3', 'x4', 'x5']);
    assert.deepEqual(await consumer.poll({ maxRecords: 100, maxWaitMs: 50 }), []);
  });

  void it('fails every append of a group whose transaction fails, and writes none of them', async () => {
    const log = await open();
    await log.createStream('doomed', { partitions: 1 });
    // Another connection plants a failure in the middle of the next group commit.
    const saboteur = openSqlite(path);
    saboteur.exec(`CREATE TRIGGER boom BEFORE INSERT ON records WHEN NEW.key = 'boom'
      BEGIN SELECT RAISE(ABORT, 'planted failure'); END`);
    const results = await Promise.allSettled(['ok-1', 'boom', 'ok-2'].map((key) => log.append('doomed', [{ key, value: value(key) }])));
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof BackendError), 'all three fail');
    saboteur.exec('DROP TRIGGER boom');
    saboteur.close();
    await log.append('doomed', [{ key: 'k', value: value('after') }]);
    const got = await drain(log.consumer({ group: group(), stream: 'doomed' }), 1);
    assert.deepEqual(got.map((r) => [r.offset, r.value.toString()]), [[0, 'after']], 'no offset was used by the failed group');
  });

  void it('maps transient SQLite failures to UnavailableError and others to BackendError', () => {
    const sqliteError = (errcode: number) => Object.assign(new Error('sqlite'), { code: 'ERR_SQLITE_ERROR', errcode });
    for (const code of [5, 261, 13, 10, 3338]) { // BUSY, BUSY_RECOVERY, FULL, IOERR, IOERR_FSYNC
      const err = toStorageError(sqliteError(code), 'append records');
      assert.ok(err instanceof UnavailableError && err.retryAfterSeconds === 1 && err.cause !== undefined, String(code));
    }
    assert.ok(toStorageError(sqliteError(11), 'read records') instanceof BackendError); // CORRUPT
    const unrelated = new TypeError('bug');
    assert.equal(toStorageError(unrelated, 'read records'), unrelated);
  });

  void it('deletes records older than retention.ms, per stream, without reusing offsets', async () => {
    const log = await open({ retentionMs: 3_600_000 });
    await log.createStream('short', { partitions: 1, config: { 'retention.ms': '1000' } });
    await log.createStream('long', { partitions: 1 });
    await log.createStream('forever', { partitions: 1, config: { 'retention.ms': '-1' } });
    for (const s of ['short', 'long', 'forever']) await log.append(s, [{ key: 'k', value: value('old') }]);
    assert.equal(log.purgeExpired(Date.now() + 60_000), 1);
    await log.append('short', [{ key: 'k', value: value('new') }]);
    const short = await drain(log.consumer({ group: group(), stream: 'short' }), 1);
    assert.deepEqual(short.map((r) => [r.offset, r.value.toString()]), [[1, 'new']]);
    assert.equal((await drain(log.consumer({ group: group(), stream: 'long' }), 1)).length, 1);
    assert.equal(log.purgeExpired(Date.now() + 365 * 24 * 3600_000), 2, 'default retention applies to long');
  });

  void it('applies retention once at start', async () => {
    const first = await open();
    await first.createStream('expiring', { partitions: 1 });
    await first.append('expiring', [{ key: 'k', value: value('old') }]);
    await first.close();
    const appended = Date.now();
    while (Date.now() <= appended + 2) { /* let the record age past a 1 ms retention */ }
    const log = await open({ retentionMs: 1 });
    assert.deepEqual(await log.consumer({ group: group(), stream: 'expiring' }).poll({ maxRecords: 10, maxWaitMs: 0 }), []);
  });

  void it('validates stream options with JSON pointers', async () => {
    const log = await open();
    const pathsOf = async (promise: Promise<void>): Promise<string[]> => {
      const err = await promise.then(() => null, (e: unknown) => e);
      assert.ok(err instanceof ValidationError);
      return err.errors.map((e) => e.path);
    };
    assert.deepEqual(await pathsOf(log.createStream('rf', { replicationFactor: 3 })), ['/replication_factor']);
    assert.deepEqual(await pathsOf(log.createStream('p0', { partitions: 0 })), ['/partitions']);
    assert.deepEqual(await pathsOf(log.createStream('p1001', { partitions: 1001 })), ['/partitions']);
    assert.deepEqual(await pathsOf(log.createStream('bad name!')), ['/name']);
    assert.deepEqual(await pathsOf(log.createStream('ret', { config: { 'retention.ms': 'soon' } })), ['/config/retention.ms']);
    assert.deepEqual(await log.listStreams(), []);
  });

  void it('never moves a committed offset backwards', async () => {
    const log = await open();
    await log.createStream('forward', { partitions: 1 });
    await log.append('forward', ['0', '1', '2', '3'].map((v) => ({ key: 'k', value: value(v) })));
    const g = group();
    const consumer = log.consumer({ group: g, stream: 'forward' });
    const got = await drain(consumer, 4);
    await consumer.commit(got.slice(0, 3));
    await consumer.commit(got.slice(0, 1));
    assert.deepEqual((await drain(log.consumer({ group: g, stream: 'forward' }), 1)).map((r) => r.offset), [3]);
  });

  void it('sees records appended by another instance on the same file within pollIntervalMs', async () => {
    const reader = await open({ pollIntervalMs: 20 });
    const writer = await open();
    await writer.createStream('shared', { partitions: 1 });
    const consumer = reader.consumer({ group: group(), stream: 'shared' });
    assert.deepEqual(await consumer.poll({ maxRecords: 1, maxWaitMs: 0 }), []);
    const started = performance.now();
    const waiting = consumer.poll({ maxRecords: 10, maxWaitMs: 5_000 });
    await writer.append('shared', [{ key: 'k', value: value('from afar') }]);
    assert.deepEqual((await waiting).map((r) => r.value.toString()), ['from afar']);
    assert.ok(performance.now() - started < 1_000);
  });

  void it('wakes a waiting poll of another instance in this process at once, also across threads', async () => {
    // Polling the file would take a minute here: only the in-process wake-up can deliver in time.
    const reader = await open({ pollIntervalMs: 60_000 });
    const writer = await open();
    await writer.createStream('woken', { partitions: 1 });
    const consumer = reader.consumer({ group: group(), stream: 'woken' });
    assert.deepEqual(await consumer.poll({ maxRecords: 1, maxWaitMs: 0 }), []);
    const woken = async (poll: Promise<LogRecord[]>): Promise<string[] | 'still waiting after 5 s'> =>
      Promise.race([poll.then((rs) => rs.map((r) => r.value.toString())), sleep(5_000, 'still waiting after 5 s' as const)]);
    const sameThread = consumer.poll({ maxRecords: 10, maxWaitMs: 30_000 });
    await writer.append('woken', [{ key: 'k', value: value('same thread') }]);
    assert.deepEqual(await woken(sameThread), ['same thread']);

    const otherThread = consumer.poll({ maxRecords: 10, maxWaitMs: 30_000 });
    const source = `
      import { SqliteEventLog } from ${JSON.stringify(new URL('../../src/adapters/event-log/sqlite-event-log.ts', import.meta.url).href)};
      const log = new SqliteEventLog(${JSON.stringify({ ...defaults, path })});
      await log.start();
      await log.append('woken', [{ key: 'k', value: Buffer.from('other thread') }]);
      await log.close();`;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`));
    const [code] = (await once(worker, 'exit')) as [number];
    assert.equal(code, 0);
    assert.deepEqual(await woken(otherThread), ['other thread']);
  });

  void it('close finishes queued appends, wakes polls and refuses further work', async () => {
    const log = await open();
    await log.createStream('closing', { partitions: 1 });
    const consumer = log.consumer({ group: group(), stream: 'closing' });
    await consumer.poll({ maxRecords: 1, maxWaitMs: 0 });
    const waiting = consumer.poll({ maxRecords: 10, maxWaitMs: 10_000 });
    const queued = log.append('closing', [{ key: 'k', value: value('in flight') }]);
    await Promise.all([log.close(), log.close()]);
    await queued;
    assert.ok((await waiting).length <= 1);
    await assert.rejects(log.append('closing', [{ key: 'k', value: value('late') }]), UnavailableError);
    await assert.rejects(log.ping(), UnavailableError);

    const reopened = await open();
    await reopened.ping();
    const got = await drain(reopened.consumer({ group: group(), stream: 'closing' }), 1);
    assert.deepEqual(got.map((r) => r.value.toString()), ['in flight']);
  });

  void it('returns [] to a poll waiting when the log closes', async () => {
    const log = await open();
    await log.createStream('idle', { partitions: 1 });
    const waiting = log.consumer({ group: group(), stream: 'idle' }).poll({ maxRecords: 10, maxWaitMs: 10_000 });
    const started = performance.now();
    await log.close();
    assert.deepEqual(await waiting, []);
    assert.ok(performance.now() - started < 1_000);
  });
});
