import type { ProgressData, TaskSnapshot } from '../types.js';

/** How a task is being followed: on a live stream, waiting for the browser to reconnect it, or by long-polling. */
export type ConnectionState = 'streaming' | 'reconnecting' | 'polling';

/** Why following stopped before a terminal event. */
export class WatchError extends Error {
  /**
   * `not_found` (404: the task expired, or the server restarted), `forbidden` (403), `unreachable`, `http_error`,
   * `stream_closed`, `unsupported` (the owner feed without EventSource, or with `transport: 'poll'`).
   */
  readonly code: string;
  /** The HTTP status that stopped it, if one did. */
  readonly status: number | undefined;
  /** The task it concerns, when `watchTasks()` long-polls a set task by task: the others go on. */
  readonly taskId: string | undefined;

  constructor(code: string, message: string, status: number | undefined, taskId?: string) {
    super(message);
    this.name = 'WatchError';
    this.code = code;
    this.status = status;
    this.taskId = taskId;
  }
}

/** One handler per event name, each given the event's parsed data. */
export interface EventHandlers<Snapshot, Progress> {
  /** `status`: the task's snapshot, first on every fresh connection and when it starts running. */
  onStatus?: (snapshot: Snapshot) => void;
  /** `progress`: `{ percent, message? }`. */
  onProgress?: (progress: Progress) => void;
  /** `complete`: the final snapshot, with `result`. */
  onComplete?: (snapshot: Snapshot) => void;
  /** `failed`: the final snapshot, with `error.message`. */
  onFailed?: (snapshot: Snapshot) => void;
  /** `cancelled`: the final snapshot. */
  onCancelled?: (snapshot: Snapshot) => void;
  /** Following stopped for good without a terminal event. */
  onError?: (error: WatchError) => void;
  /** The connection changed: `streaming`, `reconnecting` (the browser retries by itself) or `polling`. */
  onConnection?: (state: ConnectionState) => void;
}

/** The handlers of `watchTask()`: payloads exactly as the server sends them. */
export type TaskHandlers<Result = unknown> = EventHandlers<TaskSnapshot<Result>, ProgressData>;

/** A payload of the multiplexed stream: the single-task payload plus the `taskId` it belongs to. */
export type WithTaskId<T> = T & { taskId: string };

/** How `watchTask()` and `watchTasks()` connect. */
export interface TransportOptions {
  /** Send cookies to another origin (`new EventSource(url, { withCredentials })`, `fetch(..., { credentials })`). */
  withCredentials?: boolean;
  /** `'auto'`: stream, and long-poll when EventSource is missing or fails; `'poll'`: long-poll only. @default 'auto' */
  transport?: 'auto' | 'poll';
  /** After how many failed stream connections in a row, with no event between them, to long-poll. @default 3 */
  maxStreamFailures?: number;
  /** The `wait` of each long-poll request, in seconds (0 to 30). @default 25 */
  pollWaitSeconds?: number;
}

/** The handlers of `watchTasks()`, whose payloads carry `taskId`. */
export interface TaskSetHandlers<Result = unknown> extends EventHandlers<
  WithTaskId<TaskSnapshot<Result>>,
  WithTaskId<ProgressData>
> {
  /** Send cookies to another origin. @default false */
  withCredentials?: boolean;
}
