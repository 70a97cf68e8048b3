import { RedisStore } from '../../src/redis';
import { startRedisCluster, type OwnCluster } from '../helpers/redis-cluster';
import { uniquePrefix } from '../helpers/redis';
import { describeTaskStore } from './conformance';

jest.setTimeout(30_000);

let cluster: OwnCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 60_000);
afterAll(() => cluster?.stop());

const keyPrefix = uniquePrefix('cluster');
let stores = 0;
describeTaskStore('RedisStore on a Redis Cluster', () =>
  new RedisStore({ client: cluster.client(), keyPrefix: `${keyPrefix}${++stores}:` }),
);
