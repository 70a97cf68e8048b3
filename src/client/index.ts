// koa-sse-tasks/client: follow tasks from a browser. Browser code only (EventSource, fetch), plain ES modules.
export type { OutputData, ProgressData, TaskSnapshot, TaskType } from '../types.js';
export { WatchError } from './types.js';
export type {
  ConnectionState,
  CustomHandlers,
  TaskHandlers,
  TaskSetHandlers,
  TransportOptions,
  WithTaskId,
} from './types.js';
export { watchTask, type WatchTaskOptions } from './watch.js';
export { watchTasks, type WatchTasksOptions } from './watch-set.js';
