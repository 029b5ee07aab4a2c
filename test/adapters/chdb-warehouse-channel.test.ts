import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ChdbWarehouse } from '../../src/adapters/warehouse/chdb-warehouse.ts';
import { BackendError } from '../../src/domain/errors.ts';
import { borrowedChdbWarehouse } from '../../src/adapters/warehouse/executor-channel.ts';
import { warehouseContract } from '../contracts/warehouse.contract.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import type { TempDir } from '../helpers/tmp.ts';

/**
 * `serve` keeps chDB's one session on the main thread and lends it to the ETL thread over a
 * MessagePort. The warehouse on the far side of the port must behave exactly like the one that
 * owns the session: the whole contract runs through a port, and a worker thread loads through one.
 */
let tmp: TempDir;
let owner: ChdbWarehouse;

before(async () => {
  tmp = await makeTempDir('ugc-chdb-channel-');
  // One session for the file: a second session on the directory would crash the process.
  owner = new ChdbWarehouse({ path: join(tmp.dir, 'chdb'), database: 'owner' });
  await owner.start();
});
after(async () => {
  await owner.close();
  await tmp.cleanup();
});

function lend(): MessageChannel {
  const channel = new MessageChannel();
  owner.share(channel.port1);
  return channel;
}

warehouseContract('chdb through a MessagePort', (database) => {
  const channel = lend();
  const warehouse = borrowedChdbWarehouse(channel.port2, { database });
  return Promise.resolve({ warehouse, cleanup: () => Promise.resolve(channel.port1.close()) });
});

void describe('ChdbWarehouse lent to another thread', () => {
  const range = { from: new Date(Date.UTC(2026, 0, 1)), to: new Date(Date.UTC(2027, 0, 1)) };

  // A thread that loads the chDB addon and exits leaves the owner's session hanging: were the
  // borrowing side to load chDB, this test would time out instead of reading the rows back.
  void it('loads rows from a worker thread that the owning thread then answers for', { timeout: 30_000 }, async () => {
    const database = `t_${randomBytes(6).toString('hex')}`;
    const user = `u-${randomUUID()}`;
    const channel = lend();
    const moduleUrl = new URL('../../src/adapters/warehouse/executor-channel.ts', import.meta.url).href;
    const source = `
      import { workerData } from 'node:worker_threads';
      import { borrowedChdbWarehouse } from ${JSON.stringify(moduleUrl)};
      const w = borrowedChdbWarehouse(workerData.port, { database: ${JSON.stringify(database)} });
      await w.start();
      await w.migrate();
      const row = (type) => ({ event_id: crypto.randomUUID(), user_id: ${JSON.stringify(user)}, type, element_kind: '', element_id: '',
        film_id: null, description: '', occurred_at: '2026-05-01T10:00:00.000Z', received_at: '2026-05-01T10:00:01.000Z',
        started_at: null, ended_at: null, duration_ms: null, properties: {} });
      await w.insertEvents([row('click'), row('page_view')]);
      await w.close();`;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
      workerData: { port: channel.port2 },
      transferList: [channel.port2],
    });
    const [code] = (await once(worker, 'exit')) as [number];
    assert.equal(code, 0, 'the worker exits on its own once its warehouse is closed');

    const mine = borrowedChdbWarehouse(lend().port2, { database });
    await mine.start();
    assert.deepEqual((await mine.userEvents(user, range, 10)).map((e) => e.type).sort(), ['click', 'page_view']);
    await owner.ping();
    await mine.close();
  });

  void it('fails its calls retriably once the owner stops serving', async () => {
    const channel = lend();
    const remote = borrowedChdbWarehouse(channel.port2, { database: 'gone' });
    await remote.start();
    channel.port1.close();
    await assert.rejects(remote.ping(), (err: unknown) => err instanceof BackendError && err.retriable);
    await remote.close();
  });
});
