// The browser client's copy of the server's vocabulary (src/vocabulary.ts): the client ships alone, as ES modules,
// so it cannot import the server's module. `__tests__/client/vocabulary.test.ts` checks that the two agree.

/** The events after which a task's streams end. */
export const TERMINAL_EVENTS: readonly string[] = ['complete', 'failed', 'cancelled'];

/** The event carrying what the job wrote to its output: `{ offset, text }`. */
export const OUTPUT_EVENT = 'output';

/** Every built-in event of a task, on its own stream or a multiplexed one. */
export const TASK_EVENTS: readonly string[] = ['status', 'progress', OUTPUT_EVENT, ...TERMINAL_EVENTS];

/** The event an idle stream gets every `heartbeatMs`. */
export const HEARTBEAT_EVENT = 'heartbeat';

/** The event before a fresh start when the client's position could not be resumed from. */
export const RESET_EVENT = 'reset';

/** The names a custom event never takes. */
export const RESERVED_EVENTS: readonly string[] = [...TASK_EVENTS, HEARTBEAT_EVENT, RESET_EVENT, 'error', 'message'];

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_EVENTS);

/** True for `complete`, `failed` and `cancelled`. */
export function isTerminalEvent(event: string): boolean {
  return TERMINAL.has(event);
}
