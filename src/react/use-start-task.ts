import { useCallback, useRef, useState } from 'react';
import type { InputOf } from '../types.js';
import type { TaskState } from './state.js';
import { useTask, type UseTaskOptions } from './use-task.js';

/** Why `start()` did not start the task: the server's error (a 400's validation `issues` among it), or no answer. */
export interface StartError {
  /** One of the server's error codes (`invalid_input`, `queue_full`…), or `unreachable`. */
  code: string;
  message: string;
  /** With `invalid_input`: what the input's schema found, each with the path of the field. */
  issues?: Array<{ message: string; path: Array<string | number> }>;
  /** The HTTP status, when there was an answer. */
  status?: number;
}

/** What `useStartTask()` returns. */
export interface StartTask<T = unknown> {
  /**
   * POSTs a new task of the hook's type with `input`, with an `Idempotency-Key` (generated unless given: a retried
   * `start` with the same key never starts the task twice). Resolves with the task's id, or `undefined` when it was
   * refused (see `error`).
   */
  start(input: InputOf<T>, options?: { idempotencyKey?: string }): Promise<string | undefined>;
  /** The started task's state, as `useTask()` gives it; `null` before `start()` has succeeded. */
  task: TaskState<T> | null;
  /** True while the POST is in flight. */
  pending: boolean;
  /** Why the last `start()` failed; cleared by the next. */
  error: StartError | undefined;
}

/** Starts tasks of `type` (`POST /tasks`) and follows the latest one started. */
export function useStartTask<T = unknown>(type: string, options: UseTaskOptions<T> = {}): StartTask<T> {
  const [taskId, setTaskId] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<StartError | undefined>(undefined);
  const latest = useRef(options);
  latest.current = options;
  const task = useTask<T>(taskId, options);

  const start = useCallback(
    async (input: InputOf<T>, { idempotencyKey = crypto.randomUUID() }: { idempotencyKey?: string } = {}) => {
      setPending(true);
      setError(undefined);
      try {
        const prefix = (latest.current.prefix ?? '/tasks').replace(/\/$/, '');
        const response = await fetch(prefix, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
          body: JSON.stringify({ type, input }),
          credentials: latest.current.withCredentials === true ? 'include' : 'same-origin',
        });
        const body = (await response.json().catch(() => ({}))) as { id?: string; error?: Omit<StartError, 'status'> };
        if (!response.ok || body.id === undefined) {
          const refused = body.error ?? { code: 'http_error', message: `The server answered ${response.status}` };
          setError({ ...refused, status: response.status });
          return undefined;
        }
        setTaskId(body.id);
        return body.id;
      } catch (cause) {
        setError({ code: 'unreachable', message: (cause as Error).message || 'The server cannot be reached' });
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [type],
  );
  return { start, task: taskId === null ? null : task, pending, error };
}
