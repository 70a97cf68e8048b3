import type { RedisCommitter } from './commit';
import type { RedisConnections } from './connections';
import type { RedisKeys } from './keys';

/** What the Redis store lends its parts (log, queue, owner index): its connections, key names and commit script. */
export interface RedisContext {
  /** The connections: `redis.command`, `redis.reader`, and `redis.timed()` for reads. */
  readonly redis: RedisConnections;
  readonly keys: RedisKeys;
  readonly committer: RedisCommitter;
}
