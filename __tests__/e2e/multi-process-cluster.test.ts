import { startRedisCluster, type OwnCluster } from '../helpers/redis-cluster';
import { describeMultiProcess } from './multi-process';

jest.setTimeout(60_000);

let cluster: OwnCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 60_000);
afterAll(() => cluster?.stop());

describeMultiProcess('several processes sharing a RedisStore on a Redis Cluster', () => ({
  REDIS_CLUSTER: cluster.nodes.map(({ host, port }) => `${host}:${port}`).join(','),
}));
