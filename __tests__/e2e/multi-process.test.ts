import { REDIS_URL, deleteKeys } from '../helpers/redis';
import { describeMultiProcess } from './multi-process';

jest.setTimeout(60_000);

describeMultiProcess('several processes sharing a RedisStore', () => ({ REDIS_URL }), deleteKeys);
