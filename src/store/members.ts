/** The members of each store interface, as one table, so a store is checked whole when it is given, not at first use. */
import { optionError } from '../util/validate';
import type { JobQueue, OwnerIndex, StoreLifecycle, TaskLog } from './types';

/** What `typeof` gives for each member of `T`: a method is a `function`, a flag a `boolean`. */
type MemberKinds<T> = {
  readonly [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? 'function' : 'boolean';
};

/**
 * Every member of every store interface, with its kind. `satisfies` makes TypeScript fail when a member is added to
 * an interface and not here (or listed here and not there).
 */
export const STORE_MEMBERS = {
  TaskLog: {
    commit: 'function',
    read: 'function',
    readWithOutput: 'function',
    eventsAfter: 'function',
    subscribe: 'function',
    compareEventIds: 'function',
    onFinished: 'function',
  } satisfies MemberKinds<TaskLog>,
  JobQueue: {
    enqueue: 'function',
    enqueueOnce: 'function',
    claim: 'function',
    renew: 'function',
    reapExpired: 'function',
    queuedCount: 'function',
    onQueued: 'function',
  } satisfies MemberKinds<JobQueue>,
  OwnerIndex: {
    tasksOf: 'function',
    onOwnerTask: 'function',
  } satisfies MemberKinds<OwnerIndex>,
  StoreLifecycle: {
    shared: 'boolean',
    close: 'function',
  } satisfies MemberKinds<StoreLifecycle>,
} as const;

/** The name of a store interface. */
export type StoreInterface = keyof typeof STORE_MEMBERS;

/** The interfaces a `TaskStore` is made of. */
export const TASK_STORE_INTERFACES = Object.keys(STORE_MEMBERS) as readonly StoreInterface[];

/** The members of `interfaces` that `store` lacks (or has of the wrong kind), as `Interface.member()`. */
export function missingMembers(store: object, interfaces: readonly StoreInterface[]): string[] {
  const missing: string[] = [];
  for (const name of interfaces) {
    for (const [member, kind] of Object.entries(STORE_MEMBERS[name])) {
      const value: unknown = Reflect.get(store, member);
      if (typeof value !== kind) missing.push(`${name}.${member}${kind === 'function' ? '()' : ' (a boolean)'}`);
    }
  }
  return missing;
}

/**
 * Checks that the option `option` is a store with every member of `interfaces` (all of them unless told), and throws
 * a `TypeError` that names the store, what it lacks and the fix otherwise. `example` says what to give.
 */
export function checkStore(
  option: string,
  value: unknown,
  example: string,
  interfaces: readonly StoreInterface[] = TASK_STORE_INTERFACES,
): void {
  const expected = interfaces === TASK_STORE_INTERFACES ? 'a TaskStore' : `a ${interfaces.join(' & ')}`;
  if (typeof value !== 'object' || value === null) throw optionError(option, `${expected} (${example})`, value);
  const missing = missingMembers(value, interfaces);
  if (missing.length === 0) return;
  const constructor: unknown = Reflect.get(value, 'constructor');
  const name = typeof constructor === 'function' && constructor !== Object ? constructor.name : '';
  throw new TypeError(
    `koa-sse-tasks: expected \`${option}\` to be ${expected} (${example}), got ${name === '' ? 'an object' : name}, ` +
      `which lacks ${list(missing)}. A store implements every member of ${list(interfaces)} (their TSDoc says ` +
      'what each promises) and passes the conformance suite (__tests__/store/conformance.ts in the repository)',
  );
}

/** `a`, `a and b`, `a, b and c`. */
function list(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}
