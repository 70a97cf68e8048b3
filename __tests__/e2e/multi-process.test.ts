import { compareEventIds } from '../../src/store/postgres/ids';
import { PG_URL, dropSchemas, uniqueSchema } from '../helpers/postgres';
import { REDIS_URL, deleteKeys } from '../helpers/redis';
import { describeMultiProcess } from './multi-process';

jest.setTimeout(60_000);

describeMultiProcess('several processes sharing a RedisStore', () => ({ REDIS_URL }), deleteKeys);

// The same cases on PostgreSQL: every instance migrates the schema as it boots, all at once.
const schema = uniqueSchema('multi');
describeMultiProcess(
  'several processes sharing a PostgresStore',
  () => ({ STORE: 'postgres', PG_URL, PG_SCHEMA: schema }),
  () => dropSchemas([schema]),
  compareEventIds,
);
