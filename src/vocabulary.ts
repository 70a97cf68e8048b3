/**
 * The one table of the words a task stream uses: its statuses, the events that announce them, and the other event
 * names on the wire. Everything else derives from it: the types in types.ts, the checks below, and the browser
 * client's copy in client/vocabulary.ts (a test checks that the copy agrees; the client ships alone, as ES modules).
 */

/** Where a task is in its life, in order: queued -> running -> one finished status, which it never leaves. */
export const TASK_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;

/**
 * The SSE event that announces each status. A finished status has its own terminal event (`completed` ->
 * `complete`); `queued` and `running` are announced by `status`. Never `error`: EventSource owns that name.
 */
export const EVENT_FOR_STATUS = {
  queued: 'status',
  running: 'status',
  completed: 'complete',
  failed: 'failed',
  cancelled: 'cancelled',
} as const satisfies Record<(typeof TASK_STATUSES)[number], string>;

/** The statuses a task never leaves. */
export const FINISHED_STATUSES = ['completed', 'failed', 'cancelled'] as const;

/** The events after which a task's streams end: the terminal events of the finished statuses. */
export const TERMINAL_EVENTS = FINISHED_STATUSES.map((status) => EVENT_FOR_STATUS[status]);

/** The event carrying what `job.write()` appended to the task's output: `{ "offset", "text" }`. */
export const OUTPUT_EVENT = 'output';

/** Every built-in event of a task, as stored and replayed: `status`, `progress`, `output` and the terminal events. */
export const TASK_EVENTS = ['status', 'progress', OUTPUT_EVENT, ...TERMINAL_EVENTS] as const;

/** The event every idle stream gets every `heartbeatMs`: `{}`, with no `id:`, never stored. */
export const HEARTBEAT_EVENT = 'heartbeat';

/**
 * The event that opens a stream (or a task's part of a multiplexed one) whose `Last-Event-ID` could not be
 * replayed from: `{}`, no `id:`, before the fresh `status`. A client that builds state from events rebuilds it.
 */
export const RESET_EVENT = 'reset';

/**
 * The names a custom event (`job.emit()`) may not take: the stream's own, and the two EventSource dispatches by
 * itself (`error` for a connection problem, `message` for an unnamed event). Compared exactly, as EventSource does.
 */
export const RESERVED_EVENTS: readonly string[] = [...TASK_EVENTS, HEARTBEAT_EVENT, RESET_EVENT, 'error', 'message'];

/** What a custom event's name is: 1 to 64 characters, a letter first, then letters, digits and `_ . : -`. */
export const CUSTOM_EVENT_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

const FINISHED: ReadonlySet<string> = new Set(FINISHED_STATUSES);
const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_EVENTS);

export function isFinished(status: (typeof TASK_STATUSES)[number]): status is (typeof FINISHED_STATUSES)[number] {
  return FINISHED.has(status);
}

/** True for `complete`, `failed` and `cancelled`: the last event of a task, after which its streams end. */
export function isTerminalEvent(event: string): boolean {
  return TERMINAL.has(event);
}
