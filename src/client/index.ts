// koa-sse-tasks/client: follow tasks from a browser. Browser code only (EventSource, fetch), one ES module.
import type { ProgressData, TaskSnapshot } from '../types.js';
import { pollTask } from './poll.js';
import { WatchError, type EventHandlers, type TaskHandlers, type TaskSetHandlers } from './types.js';

export type { ProgressData, TaskSnapshot };
export { WatchError };
export type { ConnectionState, EventHandlers, TaskHandlers, TaskSetHandlers, WithTaskId } from './types.js';

/** Options of `watchTask()`: the handlers, and how to connect. */
export interface WatchTaskOptions<Result = unknown> extends TaskHandlers<Result> {
  /** Send cookies to another origin (`new EventSource(url, { withCredentials })`, `fetch(..., { credentials })`). */
  withCredentials?: boolean;
  /** `'auto'`: stream, and long-poll when EventSource is missing or fails; `'poll'`: long-poll only. @default 'auto' */
  transport?: 'auto' | 'poll';
  /** After how many failed stream connections in a row, with no event between them, to long-poll. @default 3 */
  maxStreamFailures?: number;
  /** The `wait` of each long-poll request, in seconds (0 to 30). @default 25 */
  pollWaitSeconds?: number;
}

const TERMINAL = new Set(['complete', 'failed', 'cancelled']);
const TASK_EVENTS = ['status', 'progress', 'complete', 'failed', 'cancelled'] as const;

/**
 * Follows one task. `url` is its event stream, `/tasks/:id/events`. Calls the handler of each event with its parsed
 * data, closes after `complete`, `failed` or `cancelled`, and falls back to long-polling `/tasks/:id?wait=&after=`
 * (without losing an event) when the browser has no EventSource or the stream keeps failing. Returns the function
 * that stops following.
 */
export function watchTask<Result = unknown>(url: string, options: WatchTaskOptions<Result> = {}): () => void {
  const { withCredentials = false, transport = 'auto', maxStreamFailures = 3, pollWaitSeconds = 25 } = options;
  let stopped = false;
  let lastEventId: string | undefined;
  let closeStream = (): void => {};
  let stopPolling = (): void => {};

  const dispatch = (event: string, data: unknown, id: string): void => {
    if (stopped) return;
    if (id !== '') lastEventId = id;
    if (TERMINAL.has(event)) stop();
    handle(options, event, data);
  };
  const stop = (): void => {
    stopped = true;
    closeStream();
    stopPolling();
  };
  const poll = (): void => {
    closeStream();
    if (stopped) return;
    options.onConnection?.('polling');
    stopPolling = pollTask(taskUrlOf(url), lastEventId, {
      waitSeconds: pollWaitSeconds,
      credentials: withCredentials ? 'include' : 'same-origin',
      onEvent: dispatch,
      onError: (error) => {
        stopped = true;
        options.onError?.(error);
      },
    });
  };

  if (transport === 'poll' || typeof EventSource === 'undefined') {
    poll();
    return stop;
  }
  const stream = new EventSource(url, { withCredentials });
  closeStream = () => stream.close();
  let failures = 0;
  for (const name of TASK_EVENTS) {
    stream.addEventListener(name, (message) => {
      failures = 0;
      dispatch(name, JSON.parse(message.data as string) as unknown, message.lastEventId);
    });
  }
  stream.addEventListener('heartbeat', () => (failures = 0));
  stream.addEventListener('open', () => !stopped && options.onConnection?.('streaming'));
  stream.addEventListener('error', () => {
    if (stopped) return;
    // CLOSED: the server refused the stream (an error status, a wrong type); CONNECTING: the browser retries.
    if (stream.readyState === EventSource.CLOSED || ++failures >= maxStreamFailures) poll();
    else options.onConnection?.('reconnecting');
  });
  return stop;
}

/**
 * Follows a set of tasks on one stream: `/tasks/events?ids=a,b,c`, or `/tasks/events` for every task of the current
 * owner. Each event's data carries `taskId`. With `ids`, the stream closes once every task has ended; the owner feed
 * stays open until the returned function is called. There is no long-poll fallback for a set.
 */
export function watchTasks<Result = unknown>(url: string, options: TaskSetHandlers<Result> = {}): () => void {
  const source = new EventSource(url, { withCredentials: options.withCredentials ?? false });
  const ids = new URL(url, globalThis.location?.href).searchParams.get('ids');
  const pending = ids === null ? undefined : new Set(ids.split(','));
  for (const name of TASK_EVENTS) {
    source.addEventListener(name, (message) => {
      const data = JSON.parse(message.data as string) as { taskId: string };
      if (TERMINAL.has(name) && pending !== undefined) {
        pending.delete(data.taskId);
        if (pending.size === 0) source.close();
      }
      handle(options, name, data);
    });
  }
  source.addEventListener('open', () => options.onConnection?.('streaming'));
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.CLOSED) return options.onConnection?.('reconnecting');
    options.onError?.(new WatchError('stream_closed', 'The server refused the event stream', undefined));
  });
  return () => source.close();
}

/** `/tasks/:id` from `/tasks/:id/events`, keeping the origin. */
function taskUrlOf(eventsUrl: string): URL {
  const url = new URL(eventsUrl, globalThis.location?.href);
  url.pathname = url.pathname.replace(/\/events\/?$/, '');
  url.search = '';
  return url;
}

function handle<S, P>(handlers: EventHandlers<S, P>, event: string, data: unknown): void {
  const snapshot = data as S;
  if (event === 'status') handlers.onStatus?.(snapshot);
  else if (event === 'progress') handlers.onProgress?.(data as P);
  else if (event === 'complete') handlers.onComplete?.(snapshot);
  else if (event === 'failed') handlers.onFailed?.(snapshot);
  else if (event === 'cancelled') handlers.onCancelled?.(snapshot);
}
