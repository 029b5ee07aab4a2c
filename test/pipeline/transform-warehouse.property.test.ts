import { join } from 'node:path';
import { ChdbWarehouse } from '../../src/adapters/warehouse/chdb-warehouse.ts';
import { storedAsSentContract } from '../contracts/stored-as-sent.contract.ts';
import { makeTempDir } from '../helpers/tmp.ts';

/** The property on chDB (`npm test`); etl-clickhouse.engines.test.ts runs it on the server. */
storedAsSentContract('chdb', async (database) => {
  const tmp = await makeTempDir('ugc-property-');
  return { warehouse: new ChdbWarehouse({ path: join(tmp.dir, 'chdb'), database }), cleanup: () => tmp.cleanup() };
});
