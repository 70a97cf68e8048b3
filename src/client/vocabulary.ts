// The browser client's copy of the server's vocabulary (src/vocabulary.ts): the client ships alone, as ES modules,
// so it cannot import the server's module. `__tests__/client/vocabulary.test.ts` checks that the two agree.

/** The events after which a task's streams end. */
export const TERMINAL_EVENTS: readonly string[] = ['complete', 'failed', 'cancelled'];

/** Every event of a task, on its own stream or a multiplexed one. */
export const TASK_EVENTS: readonly string[] = ['status', 'progress', ...TERMINAL_EVENTS];

/** The event an idle stream gets every `heartbeatMs`. */
export const HEARTBEAT_EVENT = 'heartbeat';

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_EVENTS);

/** True for `complete`, `failed` and `cancelled`. */
export function isTerminalEvent(event: string): boolean {
  return TERMINAL.has(event);
}
