/** Every metric's name starts with this. */
export const PREFIX = 'koa_sse_tasks_';
