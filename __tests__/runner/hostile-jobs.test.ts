// Every way a handler can end ends its task: with `failed` and a string `error.message` when nothing better can be
// said, on each store, never a task left `running` (with Redis, its lease renewed forever).
import { MemoryStore, TaskRunner, type TaskStore } from '../../src';
import { RedisStore } from '../../src/redis';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { finished } from '../helpers/tasks';

const keyPrefix = uniquePrefix('hostile-jobs');
afterAll(() => deleteKeys(keyPrefix));

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function errorWithThrowingMessage(): Error {
  const error = new Error('hidden');
  Object.defineProperty(error, 'message', {
    get() {
      throw new Error('the message getter throws');
    },
  });
  return error;
}

function cycle(): object {
  const value: Record<string, unknown> = {};
  value.self = value;
  return value;
}

/** How a handler ends, and the `error.message` its task must end with. */
const THROWN: Array<[string, () => unknown, string | RegExp]> = [
  ['an Error', () => new Error('No sales data'), 'No sales data'],
  ['an Error with an empty message', () => new TypeError(''), 'TypeError'],
  ['a string', () => 'out of paper', 'out of paper'],
  ['a number', () => 42, 'The task failed'],
  ['undefined', () => undefined, 'The task failed'],
  ['null', () => null, 'The task failed'],
  ['a symbol', () => Symbol('x'), 'The task failed'],
  ['an object with a message', () => ({ message: 'plain object' }), 'plain object'],
  ['an Error whose message is an object', () => Object.assign(new Error(), { message: { nested: 1 } }), 'Error'],
  ['an Error whose message getter throws', errorWithThrowingMessage, 'Error'],
  ['a revoked Proxy', revokedProxy, 'The task failed'],
];

const RETURNED: Array<[string, () => unknown, RegExp]> = [
  ['a BigInt', () => 10n, /^The task's result is not JSON-serializable: .*BigInt/],
  ['a cycle', cycle, /^The task's result is not JSON-serializable: .*circular/i],
  [
    'a value whose toJSON throws',
    () => ({
      toJSON: () => {
        throw new Error('no JSON for you');
      },
    }),
    /no JSON for you/,
  ],
  [
    'a value whose toJSON throws a revoked Proxy',
    () => ({
      toJSON: () => {
        throw revokedProxy();
      },
    }),
    /^The task's result is not JSON-serializable/,
  ],
  // Resolving a promise with it reads its `then`, which throws: the job rejects.
  ['a revoked Proxy', revokedProxy, /proxy that has been revoked/],
  [
    'a thenable whose then throws',
    () => ({
      then: () => {
        throw new Error('bad then');
      },
    }),
    /^bad then$/,
  ],
];

describe.each<[string, () => TaskStore]>([
  ['MemoryStore', () => new MemoryStore()],
  ['RedisStore', () => new RedisStore({ url: REDIS_URL, keyPrefix })],
])('%s: a job that ends in a hostile way', (_name, makeStore) => {
  let runner: TaskRunner;
  const reported: unknown[] = [];
  beforeAll(() => {
    runner = new TaskRunner({ store: makeStore(), leaseMs: 300 });
    runner.on('error', (error) => reported.push(error));
  });
  afterAll(() => runner.close());

  it.each(THROWN)('fails its task when it throws %s', async (_what, value, message) => {
    const type = `throws-${Math.random().toString(36).slice(2)}`;
    runner.define(type, () => {
      throw value();
    });
    const { id } = await runner.start(type);
    const done = await finished(runner, id);
    expect(done.status).toBe('failed');
    expect(typeof done.error?.message).toBe('string');
    expect(done.error?.message).toEqual(message);
  });

  it.each(THROWN)('fails its task when it rejects with %s', async (_what, value, message) => {
    const type = `rejects-${Math.random().toString(36).slice(2)}`;
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rejecting with non-Errors is the test
    runner.define(type, () => Promise.reject(value()));
    const { id } = await runner.start(type);
    expect((await finished(runner, id)).error).toEqual({ message });
  });

  it.each(RETURNED)('fails its task when it returns %s', async (_what, value, message) => {
    const type = `returns-${Math.random().toString(36).slice(2)}`;
    runner.define(type, () => value());
    const { id } = await runner.start(type);
    const done = await finished(runner, id);
    expect(done.status).toBe('failed');
    expect(done.error?.message).toMatch(message);
    expect(done).not.toHaveProperty('result');
  });

  it('reports nothing to `error`: a hostile job is the job failing, not the store', () => {
    expect(reported).toEqual([]);
  });
});
