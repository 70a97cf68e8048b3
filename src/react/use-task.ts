import { useEffect, useMemo, useReducer, useRef } from 'react';
import { watchTask, type TransportOptions, type WatchTaskOptions } from '../client/index.js';
import { initialState, reduceTask, type TaskAction, type TaskState } from './state.js';

/** Options of `useTask()`. Handlers and `token` may be written inline: a new one each render reopens nothing. */
export interface UseTaskOptions<T = unknown> extends TransportOptions {
  /** Where the task API is mounted: a path (`'/tasks'`), or a full URL for an API on another origin. @default '/tasks' */
  prefix?: string;
  /** Handlers of the task's custom events, by name: each called once per event, never for a replayed duplicate. */
  on?: WatchTaskOptions<T>['on'];
  /** Called when the server could not resume from where the hook was: rebuild what was built from events. */
  onReset?: () => void;
}

interface Keyed<T> {
  /** The task the state is of: a state of another task is never shown. */
  taskId: string | null;
  state: TaskState<T>;
}

type KeyedAction = { taskId: string | null; action: TaskAction | { type: 'start' } };

function reduceKeyed<T>(keyed: Keyed<T>, { taskId, action }: KeyedAction): Keyed<T> {
  if (action.type === 'start') return { taskId, state: initialState<T>(taskId !== null) };
  if (taskId !== keyed.taskId) return keyed; // a late event of the task followed before
  return { taskId, state: reduceTask(keyed.state, action) };
}

/** A stable key for what decides the stream's URL and how it opens; handlers and `token` are read when used. */
export function streamKey(options: UseTaskOptions<never>): string {
  const { prefix = '/tasks', transport, withCredentials, maxStreamFailures, pollWaitSeconds, on, token } = options;
  return JSON.stringify([
    prefix,
    transport,
    withCredentials,
    maxStreamFailures,
    pollWaitSeconds,
    Object.keys(on ?? {}),
    token !== undefined,
  ]);
}

/** The client options for `watchTask`/`watchTasks` from a hook's options, its handlers read from `latest` when called. */
export function transportOf<T>(latest: { current: UseTaskOptions<T> }): TransportOptions & {
  on: Record<string, (data: unknown) => void>;
} {
  const { transport, withCredentials, maxStreamFailures, pollWaitSeconds, on, token } = latest.current;
  const handlers: Record<string, (data: unknown) => void> = {};
  for (const name of Object.keys(on ?? {})) {
    handlers[name] = (data) =>
      (latest.current.on as Record<string, ((data: unknown) => void) | undefined>)?.[name]?.(data);
  }
  return {
    ...(transport === undefined ? {} : { transport }),
    ...(withCredentials === undefined ? {} : { withCredentials }),
    ...(maxStreamFailures === undefined ? {} : { maxStreamFailures }),
    ...(pollWaitSeconds === undefined ? {} : { pollWaitSeconds }),
    ...(token === undefined ? {} : { token: () => latest.current.token!() }),
    on: handlers,
  };
}

/**
 * Follows one task and returns its state (`snapshot`, `status`, `progress`, `message`, `output`, `result`, `error`,
 * `connection`). `taskId` may be `null` or `undefined` (nothing is opened: `connection` is `closed`) and may change
 * (the old stream closes, the new one opens). The stream opens in an effect, so server-side rendering opens none,
 * and closes on unmount; under StrictMode's double mount, the first stream is closed before it is even opened.
 */
export function useTask<T = unknown>(taskId: string | null | undefined, options: UseTaskOptions<T> = {}): TaskState<T> {
  const id = taskId ?? null;
  const latest = useRef(options);
  latest.current = options;
  const key = streamKey(options);
  const [keyed, dispatch] = useReducer(reduceKeyed<T>, { taskId: id, state: initialState<T>(id !== null) });

  useEffect(() => {
    if (id === null) return undefined;
    const send = (action: TaskAction): void => dispatch({ taskId: id, action });
    dispatch({ taskId: id, action: { type: 'start' } });
    const prefix = (latest.current.prefix ?? '/tasks').replace(/\/$/, '');
    const { on, ...transport } = transportOf(latest);
    return watchTask<T>(`${prefix}/${encodeURIComponent(id)}/events`, {
      ...transport,
      on: on,
      onStatus: (snapshot) => send({ type: 'snapshot', snapshot }),
      onComplete: (snapshot) => send({ type: 'snapshot', snapshot }),
      onFailed: (snapshot) => send({ type: 'snapshot', snapshot }),
      onCancelled: (snapshot) => send({ type: 'snapshot', snapshot }),
      onProgress: ({ percent, message }) => send({ type: 'progress', percent, message }),
      onOutput: (text) => send({ type: 'output', text }),
      onReset: () => latest.current.onReset?.(),
      onError: (error) => send({ type: 'error', error }),
      onConnection: (connection) => send({ type: 'connection', connection }),
    });
  }, [id, key]);

  // Before the effect has run for a new task id, the state of the old one is never shown.
  return useMemo(() => (keyed.taskId === id ? keyed.state : initialState<T>(id !== null)), [keyed, id]);
}
