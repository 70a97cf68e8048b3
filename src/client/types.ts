import type { EventsOf, OutputData, ProgressData, ResultOf, TaskSnapshot } from '../types.js';

/** How a task is being followed: on a live stream, waiting for the browser to reconnect it, or by long-polling. */
export type ConnectionState = 'streaming' | 'reconnecting' | 'polling';

/** Why following stopped before a terminal event. */
export class WatchError extends Error {
  /**
   * `not_found` (404: the task expired, or the server restarted), `forbidden` (403, `invalid_token` among them),
   * `unreachable`, `http_error`, `stream_closed`, `unsupported` (the owner feed without EventSource, or with
   * `transport: 'poll'`).
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

/**
 * The handlers of custom events, by name, each given the event's parsed data. A handler may declare a narrower data
 * type than a task type without declared events gives (`(data: { n: number }) => …`): its parameter is checked both
 * ways, as a method's is.
 */
export type CustomHandlers<Events, Extra = object> = {
  [Name in keyof Events]?: { handle(data: Events[Name] & Extra): void }['handle'];
};

/**
 * One handler per event, each given the event's parsed data. `T` is the result type, or a `TaskType` (whose
 * result and custom events then type `onComplete` and `on`).
 */
export interface TaskHandlers<T = unknown> {
  /** `status`: the task's snapshot, first on every fresh connection and when it starts running (or retries). */
  onStatus?: (snapshot: TaskSnapshot<ResultOf<T, T>>) => void;
  /** `progress`: `{ percent, message? }`. */
  onProgress?: (progress: ProgressData) => void;
  /**
   * The task's output changed: `text` is all of it so far, exactly as the server keeps it (after any drop, resume,
   * reset or retry), `delta` what was appended at its end (all of `text` when it was written anew).
   */
  onOutput?: (text: string, delta: string) => void;
  /** The custom events of the task (`job.emit()`), by name; each is called once per event. */
  on?: CustomHandlers<EventsOf<T>>;
  /**
   * The server could not resume from where this client was (its history no longer reached back that far): what was
   * built from events should be rebuilt; a fresh `status` (and the whole output) follow.
   */
  onReset?: () => void;
  /** `complete`: the final snapshot, with `result`. */
  onComplete?: (snapshot: TaskSnapshot<ResultOf<T, T>>) => void;
  /** `failed`: the final snapshot, with `error.message`. */
  onFailed?: (snapshot: TaskSnapshot<ResultOf<T, T>>) => void;
  /** `cancelled`: the final snapshot. */
  onCancelled?: (snapshot: TaskSnapshot<ResultOf<T, T>>) => void;
  /** Following stopped for good without a terminal event. */
  onError?: (error: WatchError) => void;
  /** The connection changed: `streaming`, `reconnecting` (the browser retries by itself) or `polling`. */
  onConnection?: (state: ConnectionState) => void;
}

/** A payload of the multiplexed stream: the single-task payload plus the `taskId` it belongs to. */
export type WithTaskId<T> = T & { taskId: string };

/** The handlers of `watchTasks()`: those of `watchTask()`, each told which task it concerns. */
export interface TaskSetHandlers<T = unknown> {
  onStatus?: (snapshot: WithTaskId<TaskSnapshot<ResultOf<T, T>>>) => void;
  onProgress?: (progress: WithTaskId<ProgressData>) => void;
  onOutput?: (taskId: string, text: string, delta: string) => void;
  on?: CustomHandlers<EventsOf<T>, { taskId: string }>;
  onReset?: (taskId: string) => void;
  onComplete?: (snapshot: WithTaskId<TaskSnapshot<ResultOf<T, T>>>) => void;
  onFailed?: (snapshot: WithTaskId<TaskSnapshot<ResultOf<T, T>>>) => void;
  onCancelled?: (snapshot: WithTaskId<TaskSnapshot<ResultOf<T, T>>>) => void;
  onError?: (error: WatchError) => void;
  onConnection?: (state: ConnectionState) => void;
}

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
  /**
   * Gets a stream token (from an endpoint of the app): added to every URL as `?token=`. After the server refuses an
   * expired one, the client gets a new one and resumes where it was, with no gap. @default none
   */
  token?: () => string | Promise<string>;
}

export type { OutputData, ProgressData };
