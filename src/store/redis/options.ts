import type { Cluster, Redis } from 'ioredis';
import { loggerOption, type Logger } from '../../util/logger';
import { integerOption, optionError } from '../../util/validate';

/** The Redis store's logger: a `Logger`, with pino's shape `level(fields, message)` since 0.2.0. */
export type RedisStoreLogger = Logger;

/** Options of `new RedisStore()`. */
export interface RedisStoreOptions {
  /** The Redis server, e.g. `redis://:secret@redis.internal:6379/0`. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /**
   * An ioredis client to copy the connection settings from (TLS, Sentinel, password...): a `Redis`, or a `Cluster`
   * for a Redis Cluster (docs/redis-cluster.md). The store opens its own connections with `client.duplicate()`; the
   * client itself is neither used nor closed. Not with `url`.
   */
  client?: Redis | Cluster;
  /** Prepended to every key the store writes; instances that share tasks must use the same one. @default 'sse-tasks:' */
  keyPrefix?: string;
  /** Names the store's connections in `CLIENT LIST`: `<name>:cmd` and `<name>:reader`. @default 'koa-sse-tasks' */
  connectionName?: string;
  /** How long a read (an HTTP request's lookup) waits for Redis before it fails, in ms. @default 5_000 */
  readTimeoutMs?: number;
  /**
   * Where a lost connection (once per outage, `error`), its recovery (`info`) and a failed read of events (`error`)
   * are reported, as `logger.level(fields, message)`. @default the runner's `logger` (given through `useLogger()`),
   * else `console` as before
   */
  logger?: Logger;
}

export const REDIS_STORE_DEFAULTS = {
  url: 'redis://127.0.0.1:6379',
  keyPrefix: 'sse-tasks:',
  connectionName: 'koa-sse-tasks',
  readTimeoutMs: 5_000,
} as const;

export interface ResolvedRedisStoreOptions {
  url: string | undefined;
  client: Redis | Cluster | undefined;
  keyPrefix: string;
  connectionName: string;
  readTimeoutMs: number;
  /** `undefined`: the runner's, once it calls `useLogger()`, else `console`. */
  logger: Logger | undefined;
}

export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const { url, client, keyPrefix = REDIS_STORE_DEFAULTS.keyPrefix } = options;
  const { connectionName = REDIS_STORE_DEFAULTS.connectionName } = options;
  if (url !== undefined && client !== undefined) {
    throw new TypeError('koa-sse-tasks: give `url` or `client` to RedisStore, not both');
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw optionError('url', "a Redis URL such as 'redis://127.0.0.1:6379'", url);
  }
  if (
    client !== undefined &&
    (typeof client !== 'object' || client === null || typeof client.duplicate !== 'function')
  ) {
    throw optionError('client', 'an ioredis client (new Redis() or new Cluster())', client);
  }
  if (typeof keyPrefix !== 'string' || /\s/.test(keyPrefix)) {
    throw optionError('keyPrefix', "a string without spaces, such as 'sse-tasks:'", keyPrefix);
  }
  if (client?.isCluster === true && /[{}]/.test(keyPrefix)) {
    // The store's hash tags must be the first braces of each key (RedisKeys).
    throw optionError('keyPrefix', "a string without braces on a Redis Cluster, such as 'sse-tasks:'", keyPrefix);
  }
  if (typeof connectionName !== 'string' || !/^[!-~]{1,64}$/.test(connectionName)) {
    throw optionError('connectionName', 'up to 64 printable characters without spaces', connectionName);
  }
  return {
    url: client === undefined ? (url ?? REDIS_STORE_DEFAULTS.url) : undefined,
    client,
    keyPrefix,
    connectionName,
    readTimeoutMs: integerOption('readTimeoutMs', options.readTimeoutMs ?? REDIS_STORE_DEFAULTS.readTimeoutMs, 1),
    logger: loggerOption('logger', options.logger),
  };
}
