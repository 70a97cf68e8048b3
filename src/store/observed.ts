import { STORE_MEMBERS } from './members';
import type { TaskStore } from './types';

type Members = { [I in keyof typeof STORE_MEMBERS]: keyof (typeof STORE_MEMBERS)[I] }[keyof typeof STORE_MEMBERS];

/**
 * The store operations that are timed: every method of `TaskStore` but `compareEventIds`, a pure comparison made
 * per event and per follower, too cheap and too frequent to time.
 */
export type StoreOperation = Exclude<Members, 'compareEventIds' | 'shared'>;

/**
 * Told of each store operation: its name, how long it took (until its promise settled), and, when it failed, with
 * what (a `TaskError` is an answer of the store, such as `QueueFullError`; anything else, a failure of it).
 */
export type StoreOperationListener = (op: StoreOperation, seconds: number, failed: boolean, error?: unknown) => void;

/** Every `StoreOperation`, from the one table of store members. */
export const STORE_OPERATIONS = Object.values(STORE_MEMBERS)
  .flatMap((members) => Object.entries(members))
  .filter(([member, kind]) => kind === 'function' && member !== 'compareEventIds')
  .map(([member]) => member as StoreOperation);

const TIMED: ReadonlySet<string | symbol> = new Set(STORE_OPERATIONS);

/**
 * `store` with its operations timed for `listeners` (the runner's observers, the metrics): every call of a
 * `TaskStore` method is reported once it settles, whichever store it is, so every store is measured with no code of
 * its own. Anything else on the store (a store's own extras) passes through, bound to the store. While `listeners`
 * is empty a call costs one length check more.
 */
export function observedStore(store: TaskStore, listeners: readonly StoreOperationListener[]): TaskStore {
  const wrapped = new Map<string | symbol, { original: unknown; call: unknown }>();
  return new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function' || key === 'constructor') return value;
      const known = wrapped.get(key);
      if (known?.original === value) return known.call;
      // Bound to the store itself: methods that use private fields (#x) fail with the proxy as `this`.
      const call = TIMED.has(key)
        ? timed(key as StoreOperation, value as (...args: unknown[]) => unknown, target, listeners)
        : (value as (...args: unknown[]) => unknown).bind(target);
      wrapped.set(key, { original: value, call });
      return call;
    },
  });
}

function timed(
  op: StoreOperation,
  method: (...args: unknown[]) => unknown,
  store: TaskStore,
  listeners: readonly StoreOperationListener[],
): (...args: unknown[]) => unknown {
  return (...args) => {
    if (listeners.length === 0) return method.apply(store, args);
    const started = performance.now();
    const tell = (failed: boolean, error?: unknown): void => {
      const seconds = (performance.now() - started) / 1000;
      for (const listener of listeners) listener(op, seconds, failed, error);
    };
    let result: unknown;
    try {
      result = method.apply(store, args);
    } catch (error) {
      tell(true, error);
      throw error;
    }
    if (!(result instanceof Promise)) {
      tell(false);
      return result;
    }
    return result.then(
      (value: unknown) => {
        tell(false);
        return value;
      },
      (error: unknown) => {
        tell(true, error);
        throw error;
      },
    );
  };
}
