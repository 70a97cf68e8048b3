import { useEffect, useReducer, useRef } from 'react';
import { watchTasks } from '../client/index.js';
import type { TaskSnapshot } from '../types.js';
import { initialState, reduceTask, type Connection, type TaskAction, type TaskState } from './state.js';
import { streamKey, transportOf, type UseTaskOptions } from './use-task.js';

/** The state of every task a set follows, by task id. */
export type TaskStates<T = unknown> = Record<string, TaskState<T>>;

type SetAction =
  { type: 'start' } | { type: 'task'; taskId: string; action: TaskAction } | { type: 'all'; action: TaskAction };

function reduceSet<T>(states: TaskStates<T>, action: SetAction): TaskStates<T> {
  if (action.type === 'start') return {};
  if (action.type === 'all') {
    return Object.fromEntries(Object.entries(states).map(([id, state]) => [id, reduceTask(state, action.action)]));
  }
  const state = states[action.taskId] ?? initialState<T>(true);
  return { ...states, [action.taskId]: reduceTask(state, action.action) };
}

/** Follows `url` with `watchTasks`, keeping the state of each task it carries. */
function useTaskSet<T>(url: string | null, options: UseTaskOptions<T>): TaskStates<T> {
  const latest = useRef(options);
  latest.current = options;
  const key = streamKey(options);
  const [states, dispatch] = useReducer(reduceSet<T>, {});

  useEffect(() => {
    if (url === null) return undefined;
    dispatch({ type: 'start' });
    const send = (taskId: string, action: TaskAction): void => dispatch({ type: 'task', taskId, action });
    const snapshot = (snapshot: TaskSnapshot & { taskId: string }): void => {
      const { taskId, ...rest } = snapshot;
      send(taskId, { type: 'snapshot', snapshot: rest });
    };
    const { on, ...transport } = transportOf(latest);
    return watchTasks<T>(url, {
      ...transport,
      on: on,
      onStatus: snapshot,
      onComplete: snapshot,
      onFailed: snapshot,
      onCancelled: snapshot,
      onProgress: ({ taskId, percent, message }) => send(taskId, { type: 'progress', percent, message }),
      onOutput: (taskId, text) => send(taskId, { type: 'output', text }),
      onReset: () => latest.current.onReset?.(),
      onError: (error) => {
        if (error.taskId !== undefined) send(error.taskId, { type: 'error', error });
        else dispatch({ type: 'all', action: { type: 'error', error } });
      },
      onConnection: (connection: Connection) => dispatch({ type: 'all', action: { type: 'connection', connection } }),
    });
  }, [url, key]);
  return states;
}

/**
 * Follows a set of tasks on one stream (`/tasks/events?ids=`), and returns their states by task id, each as
 * `useTask()` gives it. The stream closes once every task has ended, on unmount, and when the set changes (a new
 * one opens).
 */
export function useTasks<T = unknown>(taskIds: readonly string[], options: UseTaskOptions<T> = {}): TaskStates<T> {
  const prefix = (options.prefix ?? '/tasks').replace(/\/$/, '');
  const ids = taskIds.join(',');
  return useTaskSet(
    ids === '' ? null : `${prefix}/events?ids=${ids.split(',').map(encodeURIComponent).join(',')}`,
    options,
  );
}

/**
 * Follows every task of the current owner (the owner feed, `/tasks/events`), those started later included, and
 * returns their states by task id. The stream stays open until unmount.
 */
export function useOwnerTasks<T = unknown>(options: UseTaskOptions<T> = {}): TaskStates<T> {
  const prefix = (options.prefix ?? '/tasks').replace(/\/$/, '');
  return useTaskSet(`${prefix}/events`, options);
}
