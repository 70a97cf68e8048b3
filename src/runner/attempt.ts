import type { Job, TaskHandler } from '../types';
import { integerOption, optionError } from '../util/validate';

/** Options of one task type: the third argument of `runner.define()`. */
export interface TaskTypeOptions {
  /**
   * How long one attempt may run, in ms. Past it the job's `signal` aborts (a `TimeoutError`) and the attempt fails
   * with "The task timed out after <n> ms"; its concurrency slot is freed even if the handler ignores the signal.
   * @default none
   */
  timeoutMs?: number;
  /** How many times a failed (or timed-out) attempt is tried again, in this runner, before the task fails. @default 0 */
  retries?: number;
  /** The wait before the first retry, in ms; it doubles for each later one. @default 1_000 */
  backoffMs?: number;
  /**
   * How long a running attempt may go without `job.progress()` before the runner emits `stalled` (once per
   * stall; the job goes on). @default none
   */
  stallMs?: number;
}

export const TASK_TYPE_DEFAULTS = { retries: 0, backoffMs: 1_000 } as const;

export interface ResolvedTaskTypeOptions {
  timeoutMs: number | undefined;
  retries: number;
  backoffMs: number;
  stallMs: number | undefined;
}

export function resolveTaskTypeOptions(options: TaskTypeOptions = {}): ResolvedTaskTypeOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const { timeoutMs, stallMs } = options;
  return {
    timeoutMs: timeoutMs === undefined ? undefined : integerOption('timeoutMs', timeoutMs, 1),
    retries: integerOption('retries', options.retries ?? TASK_TYPE_DEFAULTS.retries, 0, 100),
    backoffMs: integerOption('backoffMs', options.backoffMs ?? TASK_TYPE_DEFAULTS.backoffMs, 0),
    stallMs: stallMs === undefined ? undefined : integerOption('stallMs', stallMs, 1),
  };
}

/** How one attempt ended: its result, or its error's message and the error (a thrown value, or the timeout's). */
export type Outcome = { ok: true; result: unknown } | { ok: false; message: string; error: unknown };

/** What an attempt needs besides the handler: its job, the controller behind `job.signal`, the type's options. */
export interface Attempt {
  handler: TaskHandler;
  job: Job;
  controller: AbortController;
  options: ResolvedTaskTypeOptions;
}

/** A stall timer, re-armed by every `progress()` of the attempt; `stop()` clears it. */
export interface StallWatch {
  progressed(): void;
  stop(): void;
}

export function watchStall(stallMs: number | undefined, onStall: (idleMs: number) => void): StallWatch {
  if (stallMs === undefined) return { progressed: () => {}, stop: () => {} };
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => onStall(stallMs), stallMs);
    timer.unref();
  };
  arm();
  return { progressed: arm, stop: () => clearTimeout(timer) };
}

/**
 * Runs one attempt: the handler's result or error, or a timeout (which aborts the signal) if `timeoutMs` passes
 * first. A handler that ignores its signal is not awaited past the timeout.
 */
export function runAttempt({ handler, job, controller, options }: Attempt): Promise<Outcome> {
  const handled = new Promise((resolve) => resolve(handler(job))).then(
    (result): Outcome => ({ ok: true, result }),
    (error: unknown): Outcome => ({ ok: false, message: messageOf(error), error }),
  );
  const { timeoutMs } = options;
  if (timeoutMs === undefined) return handled;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      const message = `The task timed out after ${timeoutMs} ms`;
      const error = new DOMException(message, 'TimeoutError');
      controller.abort(error);
      resolve({ ok: false, message, error });
    }, timeoutMs);
  });
  return Promise.race([handled, timedOut]).finally(() => clearTimeout(timer));
}

/** Waits `ms`, or less if `signal` aborts. */
export function backoff(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The `error.message` of a failed task: always a string, whatever the handler threw, and never a throw itself (an
 * error whose `message` getter throws, or a revoked Proxy, would otherwise leave the task running forever).
 */
export function messageOf(error: unknown): string {
  if (typeof error === 'string' && error !== '') return error;
  if (typeof error !== 'object' || error === null) return 'The task failed';
  const message = read(error, 'message');
  if (typeof message === 'string' && message !== '') return message;
  const name = read(error, 'name');
  return isError(error) && typeof name === 'string' && name !== '' ? name : 'The task failed';
}

/** A property of something a handler threw, or `undefined` if reading it throws (a getter, a revoked Proxy). */
function read(value: object, key: 'message' | 'name'): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function isError(value: object): boolean {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}
