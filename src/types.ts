import type { FINISHED_STATUSES, TASK_EVENTS, TASK_STATUSES } from './vocabulary';

/** Where a task is in its life. It only ever moves forward: queued -> running -> one finished status. */
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The statuses a task never leaves. */
export type FinishedStatus = (typeof FINISHED_STATUSES)[number];

/** A task as the HTTP API and `runner.get()` show it. Times are ISO 8601. */
export interface TaskSnapshot<Result = unknown> {
  id: string;
  type: string;
  status: TaskStatus;
  /** Percent done, 0..100. */
  progress: number;
  /** The latest message given to `job.progress()`. */
  message?: string;
  /** What the handler returned; only on `completed`. */
  result?: Result;
  /** Why the task failed; only on `failed`. */
  error?: { message: string };
  /** The attempt running now (2, 3...), once a retry has started; absent on the first. */
  attempt?: number;
  /** Who started the task, from the middleware's `owner(ctx)` or `runner.start(..., { owner })`. */
  owner?: string;
  /** The length of the task's output so far (`job.write()`), in JavaScript string length; `0` when none. */
  outputLength: number;
  createdAt: string;
  updatedAt: string;
}

/** The built-in SSE event names of a task stream (besides `heartbeat` and `reset`). Never `error`: EventSource owns it. */
export type BuiltInEventName = (typeof TASK_EVENTS)[number];

/** The name of a task's event: a built-in one, or a custom event's (`job.emit()`). */
export type TaskEventName = BuiltInEventName | (string & {});

/**
 * One event of a task, exactly as it goes on the wire: `id` is the SSE id, `data` the JSON text of the
 * payload (a {@link TaskSnapshot} for `status` and the terminal events, {@link ProgressData} for `progress`,
 * {@link OutputData} for `output`, the job's object for a custom event).
 */
export interface TaskEvent {
  id: string;
  event: TaskEventName;
  data: string;
}

/** The payload of an `output` event: `text`, appended to the task's output at `offset` (its length before it). */
export interface OutputData {
  offset: number;
  text: string;
}

/** A plain JSON object: what a custom event carries. */
export type JsonObject = { [key: string]: unknown };

/** A task type's custom events: each name with the type of its data. */
export type CustomEvents = Record<string, JsonObject>;

declare const TASK_TYPE: unique symbol;

/**
 * One declaration of a task type's input, result and custom events, for the server and the browser alike:
 * `type Summary = TaskType<{ topic: string }, { words: number }, { source: { url: string } }>`, then
 * `runner.define<Summary>(…)` and `watchTask<Summary>(url, { on: { source: (data) => … } })`.
 */
export interface TaskType<Input = unknown, Result = unknown, Events extends CustomEvents = CustomEvents> {
  /** Never set: it tells a task type from an input type where either may be given. */
  readonly [TASK_TYPE]: true;
  readonly input: Input;
  readonly result: Result;
  readonly events: Events;
}

/** Any task type (see {@link TaskType}). */
export type AnyTaskType = TaskType;

/** The input of `T`: a task type's, or `T` itself when it is an input type. */
export type InputOf<T> = T extends AnyTaskType ? T['input'] : T;

/** The result of `T`: a task type's, or `Result`. */
export type ResultOf<T, Result = unknown> = T extends AnyTaskType ? T['result'] : Result;

/** The custom events of `T`: a task type's, or any name with any object. */
export type EventsOf<T> = T extends AnyTaskType ? T['events'] : CustomEvents;

/** The payload of a `progress` event. */
export interface ProgressData {
  percent: number;
  message?: string;
}

/**
 * What a handler receives: its task's id and input, a cancellation signal, and ways to report progress, write
 * output and emit custom events. `T` is the input type, or a {@link TaskType}.
 */
export interface Job<T = unknown> {
  readonly id: string;
  readonly type: string;
  readonly input: InputOf<T>;
  /** 1 for the first attempt, 2 for the first retry... (see the type's `retries`). */
  readonly attempt: number;
  /**
   * Aborted when the task is cancelled, when the attempt times out (`timeoutMs`, a `TimeoutError`) or when the
   * runner closes; pass it on to fetch, streams and timers.
   */
  readonly signal: AbortSignal;
  /**
   * Reports progress: `percent` is a finite number in 0..100, `message` an optional step name.
   * Ignored once the task has finished (e.g. after a cancel).
   */
  progress(percent: number, message?: string): void;
  /**
   * Appends `text` to the task's output (`''` is ignored; anything but a string is a `TypeError`). The writes of
   * one event-loop turn (microtasks included) become one `output` event; pending output is committed before any
   * later event of the job. Past the runner's `maxOutputBytes`, a `RangeError` and nothing is appended. Ignored
   * once the task has finished.
   */
  write(text: string): void;
  /**
   * Commits a custom event: `name` 1 to 64 characters (`[A-Za-z][A-Za-z0-9_.:-]*`, not one the stream uses itself),
   * `data` a plain JSON object without a `taskId` key (a `TypeError` otherwise), at most the runner's
   * `maxEventBytes` of JSON (a `RangeError`). Ignored once the task has finished.
   */
  emit<Name extends keyof EventsOf<T> & string>(name: Name, data: EventsOf<T>[Name]): void;
}

/**
 * A task type's work. What it returns (JSON-serializable) becomes the `complete` event's `result`; a throw, `failed`.
 * `T` is the input type (then `Result` the result's), or a {@link TaskType}.
 */
export type TaskHandler<T = unknown, Result = unknown> = (
  job: Job<T>,
) => ResultOf<T, Result> | Promise<ResultOf<T, Result>>;
