import { sseTasks, TaskRunner, type SseTasksOptions } from '../../src';

describe('sseTasks options', () => {
  const runner = new TaskRunner();
  afterAll(() => runner.close());

  it.each([
    [undefined, 'expected `options` to be an object with a `runner`, got undefined (undefined)'],
    [{}, 'expected `runner` to be a TaskRunner (new TaskRunner()), got undefined (undefined)'],
    [
      { runner, prefix: 'tasks' },
      'expected `prefix` to be a path such as \'/tasks\' (leading slash, no trailing slash), got "tasks" (string)',
    ],
    [{ runner, prefix: '/tasks/' }, 'expected `prefix` to be a path'],
    [{ runner, heartbeatMs: 0 }, 'expected `heartbeatMs` to be an integer from 1 to 2147483647, got 0 (number)'],
    [{ runner, retryMs: -5 }, 'expected `retryMs` to be an integer from 0'],
    [{ runner, bodyLimit: '64kb' }, 'expected `bodyLimit` to be an integer from 1 to 1073741824, got "64kb" (string)'],
    [{ runner, owner: 'ada' }, 'expected `owner` to be a function, got "ada" (string)'],
    [{ runner, authorize: true }, 'expected `authorize` to be a function, got true (boolean)'],
    [{ runner, cors: true }, 'expected `cors` to be @koa/cors options or false, got true (boolean)'],
  ])('explains %p', (options, message) => {
    expect(() => sseTasks(options as unknown as SseTasksOptions)).toThrow(`koa-sse-tasks: ${message}`);
  });

  it('returns a named middleware, so stack traces show it', () => {
    expect(sseTasks({ runner }).name).toBe('sseTasks');
  });

  it('accepts a nested prefix', () => {
    expect(() => sseTasks({ runner, prefix: '/api/v1/jobs' })).not.toThrow();
  });
});
