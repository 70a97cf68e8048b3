import type { Logger, LoggerAware } from '../../util/logger';
import { ComposedStore } from '../composed';
import { RedisCommitter } from './commit';
import { RedisConnections } from './connections';
import type { RedisContext } from './context';
import { RedisKeys } from './keys';
import { RedisTaskLog } from './log';
import { resolveRedisStoreOptions, type RedisStoreOptions } from './options';
import { RedisOwnerIndex } from './owners';
import { RedisJobQueue } from './queue';

/**
 * A store in Redis, shared by every process that uses the same Redis and key prefix: any instance serves any task's
 * events, workers in other processes run the jobs, and tasks survive a restart of the app.
 *
 * Per process it holds two connections, however many clients and tasks: one for commands, and one that reads every
 * followed task stream with a single blocking XREAD. On a Redis Cluster (`client: new Cluster(...)`), one command
 * connection per master and one subscriber connection (docs/redis-cluster.md). The README ("Running several
 * instances") lists the keys and their TTLs.
 *
 * Its parts: the log (`log.ts`), the queue and its leases (`queue.ts`) and the owner index (`owners.ts`), which share
 * (`context.ts`) the connections and outage reports (`connections.ts`), the key names (`keys.ts`) and the commit
 * script's call (`commit.ts`).
 */
export class RedisStore extends ComposedStore implements LoggerAware {
  readonly shared = true;
  /** The prefix of every key this store writes. */
  readonly keyPrefix: string;
  /** The base of the client names this store's connections carry (`CLIENT LIST`): `<name>:cmd` and `<name>:reader`. */
  readonly connectionName: string;
  readonly #connections: RedisConnections;

  constructor(options: RedisStoreOptions = {}) {
    const resolved = resolveRedisStoreOptions(options);
    const redis = new RedisConnections(resolved);
    const keys = new RedisKeys(resolved.keyPrefix, redis.cluster);
    const context: RedisContext = { redis, keys, committer: new RedisCommitter(redis, keys) };
    super({ log: new RedisTaskLog(context), queue: new RedisJobQueue(context), owners: new RedisOwnerIndex(context) });
    this.keyPrefix = resolved.keyPrefix;
    this.connectionName = resolved.connectionName;
    this.#connections = redis;
  }

  /** How many task streams (and queue wake-ups) this process follows: the XREAD's width, not a connection count. */
  get followedStreams(): number {
    return this.#connections.reader.size;
  }

  /** The runner's logger (`new TaskRunner({ logger })` calls this), unless the store was given a `logger` of its own. */
  useLogger(logger: Logger): void {
    this.#connections.useLogger(logger);
  }

  /** Closes the connections; pending writes are sent first when Redis is reachable. Idempotent. */
  close(): Promise<void> {
    return this.#connections.close();
  }
}
