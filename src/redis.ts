// The `koa-sse-tasks/redis` entry: the only module that loads ioredis, so apps that never use Redis never need it.
export { RedisStore } from './store/redis/store';
export { REDIS_STORE_DEFAULTS } from './store/redis/options';
export type { RedisStoreLogger, RedisStoreOptions } from './store/redis/options';
export type { Logger } from './util/logger';
