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
  createdAt: string;
  updatedAt: string;
}

/** The SSE event names a task stream carries (besides `heartbeat`). Never `error`: EventSource owns that name. */
export type TaskEventName = (typeof TASK_EVENTS)[number];

/**
 * One event of a task, exactly as it goes on the wire: `id` is the SSE id, `data` the JSON text of the
 * payload (a {@link TaskSnapshot} for `status` and the terminal events, {@link ProgressData} for `progress`).
 */
export interface TaskEvent {
  id: string;
  event: TaskEventName;
  data: string;
}

/** The payload of a `progress` event. */
export interface ProgressData {
  percent: number;
  message?: string;
}

/** What a handler receives: its task's id and input, a cancellation signal and a way to report progress. */
export interface Job<Input = unknown> {
  readonly id: string;
  readonly type: string;
  readonly input: Input;
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
}

/** A task type's work. What it returns (JSON-serializable) becomes the `complete` event's `result`; a throw, `failed`. */
export type TaskHandler<Input = unknown, Result = unknown> = (job: Job<Input>) => Result | Promise<Result>;
