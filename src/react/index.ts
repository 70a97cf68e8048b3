// koa-sse-tasks/react: React hooks over the browser client. React is an optional peer dependency: only this entry
// imports it; the root entry and koa-sse-tasks/client never do.
export type { Connection, TaskState } from './state.js';
export { useTask, type UseTaskOptions } from './use-task.js';
export { useOwnerTasks, useTasks, type TaskStates } from './use-tasks.js';
export { useStartTask, type StartError, type StartTask } from './use-start-task.js';
