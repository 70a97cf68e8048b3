// The types of the runner's calls: what define(), start(), submit() and close() take and give, and its events.
import type { StandardSchemaV1 } from '../standard-schema';
import type { TaskEvent, TaskSnapshot } from '../types';
import type { TaskTypeOptions } from './attempt';
import type { StalledInfo } from './context';

/**
 * `runner.define()`'s options with an input schema: the type's options, and `input`, a Standard Schema v1 validator
 * (zod, valibot, arktype...) that every input is checked with before anything is stored. Its output is what the job
 * gets as `job.input`, and its type too.
 */
export interface TaskTypeOptionsWithInput<Schema extends StandardSchemaV1> extends TaskTypeOptions {
  input: Schema;
}

/** Options of `runner.start()` and `runner.submit()`. */
export interface StartOptions {
  /** Recorded as the task's `owner`; the middleware's default `authorize` compares it with `owner(ctx)`. */
  owner?: string;
  /**
   * Starts the task once per key and owner, while the task is kept: a repeat with the same key (from the same
   * `owner`, or again with none) gets the task the first call started, even if it has finished, and starts nothing.
   * A repeat with another type or input rejects with `IdempotencyKeyReusedError`. 1 to 255 characters from 0x21 to
   * 0x7E; the same keys as the `Idempotency-Key` header of `POST /tasks`. @default none
   */
  idempotencyKey?: string;
  /**
   * The app's open transaction: a `pg` client inside `BEGIN` (with `PostgresStore`, on the same database). The task is
   * created in it: it exists, is announced (`runner.on('event')`) and runs once the transaction commits, and never
   * existed if it rolls back. A store that cannot honour it (memory, Redis) throws a `TypeError`. @default none
   */
  transaction?: unknown;
}

/** What `runner.submit()` resolves with: the task, and whether its idempotency key had already started it. */
export interface Submission {
  /** The new task's first (`queued`) snapshot, or the current snapshot of the task its key already started. */
  snapshot: TaskSnapshot;
  /** True when the idempotency key had already started the task: nothing was started now. */
  replayed: boolean;
}

/** Options of `runner.close()`. */
export interface CloseOptions {
  /**
   * How long the jobs running here may go on to finish by themselves, in ms, before their signals abort and they
   * end `failed`. No new task starts and nothing more is claimed meanwhile. @default 0 (abort at once)
   */
  graceMs?: number;
}

/**
 * The runner's events: `event` for every event committed by this runner, `error` for a failed store write (or an
 * input schema that threw), `stalled` when a job of a type with `stallMs` has gone that long without `job.progress()`.
 */
export interface TaskRunnerEvents {
  event: [taskId: string, event: TaskEvent];
  error: [error: unknown];
  stalled: [taskId: string, info: StalledInfo];
}
