// The `koa-sse-tasks/bullmq` entry: the only module that loads bullmq.
export { bridgeBullMQ } from './bullmq/bridge';
export type { BullMQBridge, BullMQBridgeOptions } from './bullmq/bridge';
