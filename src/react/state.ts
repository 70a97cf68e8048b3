import type { WatchError } from '../client/index.js';
import type { ResultOf, TaskSnapshot, TaskStatus } from '../types.js';

/** How a hook follows its task: opening, live, waiting for the browser to reconnect, long-polling, or done. */
export type Connection = 'connecting' | 'streaming' | 'reconnecting' | 'polling' | 'closed';

/** What `useTask()` returns: the task as the page knows it now. `T` is the result type, or a `TaskType`. */
export interface TaskState<T = unknown> {
  /** The latest snapshot (`status` or terminal event); `undefined` before the first. */
  snapshot: TaskSnapshot<ResultOf<T, T>> | undefined;
  status: TaskStatus | undefined;
  /** Percent done, 0..100, from the snapshot and every `progress` event. */
  progress: number;
  /** The latest progress message. */
  message: string | undefined;
  /** The task's whole output so far (`job.write()`), exactly as the server keeps it. */
  output: string;
  /** What the job returned, once `completed`. */
  result: ResultOf<T, T> | undefined;
  /** Why it failed (`failed`), or why following stopped (a `WatchError`, such as `not_found`). */
  error: { message: string } | WatchError | undefined;
  connection: Connection;
}

/** What the client tells a hook about its task. */
export type TaskAction =
  | { type: 'snapshot'; snapshot: TaskSnapshot }
  | { type: 'progress'; percent: number; message: string | undefined }
  | { type: 'output'; text: string }
  | { type: 'connection'; connection: Connection }
  | { type: 'error'; error: WatchError };

/** The state before anything is known: `connecting` when there is a task to follow, `closed` when there is none. */
export function initialState<T>(following: boolean): TaskState<T> {
  return {
    snapshot: undefined,
    status: undefined,
    progress: 0,
    message: undefined,
    output: '',
    result: undefined,
    error: undefined,
    connection: following ? 'connecting' : 'closed',
  };
}

/** The next state: a pure function, so a burst of events (many in one tick) reaches the final state whole. */
export function reduceTask<T>(state: TaskState<T>, action: TaskAction): TaskState<T> {
  switch (action.type) {
    case 'snapshot': {
      const snapshot = action.snapshot as TaskSnapshot<ResultOf<T, T>>;
      const ended = snapshot.status === 'completed' || snapshot.status === 'failed' || snapshot.status === 'cancelled';
      return {
        ...state,
        snapshot,
        status: snapshot.status,
        progress: snapshot.progress,
        message: snapshot.message ?? state.message,
        result: snapshot.result,
        error: snapshot.error,
        connection: ended ? 'closed' : state.connection,
      };
    }
    case 'progress':
      return { ...state, progress: action.percent, message: action.message ?? state.message };
    case 'output':
      return { ...state, output: action.text };
    case 'connection':
      return state.connection === 'closed' ? state : { ...state, connection: action.connection };
    case 'error':
      return { ...state, error: action.error, connection: 'closed' };
  }
}
