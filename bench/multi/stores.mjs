// The shared stores the multi-instance benchmark runs on, each under a name of its own that `dropAll` removes.
// `postgres` and `cluster` load their entries only when asked for, so a checkout without them runs the rest.
import Redis, { Cluster } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL || 'postgres://root@127.0.0.1:5432/test';
/** Every key or schema of a run starts with this, and the run's id. */
export const NAMESPACE = 'bench_multi';

/** A store of `kind` for run `runId`: every process of the run passes the same id, so they share it. */
export async function createStore(kind, runId) {
  if (kind === 'redis') {
    const { RedisStore } = await import('koa-sse-tasks/redis');
    return new RedisStore({ url: REDIS_URL, keyPrefix: `${NAMESPACE}:${runId}:` });
  }
  if (kind === 'cluster') {
    const { RedisStore } = await import('koa-sse-tasks/redis');
    const client = new Cluster(clusterNodes(), { lazyConnect: true });
    return new RedisStore({ client, keyPrefix: `${NAMESPACE}:${runId}:` });
  }
  if (kind === 'postgres') {
    const { PostgresStore } = await import('koa-sse-tasks/postgres');
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema: `${NAMESPACE}_${runId}` });
    await store.migrate();
    return store;
  }
  throw new Error(`unknown store ${kind} (redis, cluster, postgres)`);
}

/** The cluster's startup nodes: BENCH_CLUSTER_NODES, `host:port,...` (run.mjs starts one and sets it). */
function clusterNodes() {
  const nodes = process.env.BENCH_CLUSTER_NODES;
  if (!nodes) throw new Error('the cluster store needs BENCH_CLUSTER_NODES');
  return nodes.split(',').map((node) => ({ host: node.split(':')[0], port: Number(node.split(':')[1]) }));
}

/** Removes what run `runId` left in `kind` (a cluster of the run's own goes with the run). */
export async function dropAll(kind, runId) {
  if (kind === 'redis') {
    const redis = new Redis(REDIS_URL);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${NAMESPACE}:${runId}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  } else if (kind === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${NAMESPACE}_${runId} CASCADE`);
    } finally {
      await client.end();
    }
  }
}
