// koa-sse-tasks/client: follow tasks from a browser. Browser code only (EventSource, fetch), one ES module.
import type { ProgressData, TaskSnapshot } from '../types.js';
import { pollTask } from './poll.js';
import { followStream } from './stream.js';
import { isTerminalEvent } from './vocabulary.js';
import {
  WatchError,
  type EventHandlers,
  type TaskHandlers,
  type TaskSetHandlers,
  type TransportOptions,
  type WithTaskId,
} from './types.js';

export type { ProgressData, TaskSnapshot };
export { WatchError };
export type {
  ConnectionState,
  EventHandlers,
  TaskHandlers,
  TaskSetHandlers,
  TransportOptions,
  WithTaskId,
} from './types.js';

/** Options of `watchTask()`: the handlers, and how to connect. */
export type WatchTaskOptions<Result = unknown> = TaskHandlers<Result> & TransportOptions;

/** Options of `watchTasks()`: the handlers, and how to connect (`transport` and polling apply to `?ids=` only). */
export type WatchTasksOptions<Result = unknown> = TaskSetHandlers<Result> & TransportOptions;

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
    if (isTerminalEvent(event)) stop();
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
  closeStream = followStream(url, {
    withCredentials,
    maxFailures: maxStreamFailures,
    onEvent: dispatch,
    onConnection: (state) => options.onConnection?.(state),
    onGiveUp: poll,
  });
  return stop;
}

/**
 * Follows a set of tasks on one stream: `/tasks/events?ids=a,b,c`, or `/tasks/events` for every task of the current
 * owner. Each event's data carries `taskId`. With `ids`, following stops once every task has ended, and falls back
 * to long-polling each task not ended yet, from where the stream had it, as `watchTask()` does. The owner feed stays
 * open until the returned function is called; it has no long-poll fallback (long-polls follow tasks by id).
 */
export function watchTasks<Result = unknown>(url: string, options: WatchTasksOptions<Result> = {}): () => void {
  const { withCredentials = false, transport = 'auto', maxStreamFailures = 3, pollWaitSeconds = 25 } = options;
  const ids = new URL(url, globalThis.location?.href).searchParams.get('ids')?.split(',');
  /** With `ids`: each task not ended yet, by id, with its index in `ids` (its key in the stream's event ids). */
  const pending = new Map(ids?.map((id, index) => [id, String(index)]));
  /** Where the stream had each task: the id of its last event, by key (the multiplexed id, see the README). */
  let positions = new URLSearchParams();
  let stopped = false;
  let closeStream = (): void => {};
  const stopPolls: Array<() => void> = [];

  const stop = (): void => {
    stopped = true;
    closeStream();
    for (const stopPoll of stopPolls) stopPoll();
  };
  const dispatch = (event: string, data: WithTaskId<object>): void => {
    if (stopped) return;
    if (isTerminalEvent(event) && ids !== undefined) {
      pending.delete(data.taskId);
      if (pending.size === 0) stop();
    }
    handle(options, event, data);
  };
  const fail = (error: WatchError): void => {
    stop();
    options.onError?.(error);
  };
  const poll = (): void => {
    closeStream();
    if (stopped) return;
    if (ids === undefined) {
      return fail(new WatchError('stream_closed', 'The server refused the event stream', undefined));
    }
    options.onConnection?.('polling');
    for (const [taskId, key] of pending) {
      const stopPoll = pollTask(taskUrlOf(url, taskId), positions.get(key) || undefined, {
        waitSeconds: pollWaitSeconds,
        credentials: withCredentials ? 'include' : 'same-origin',
        onEvent: (event, data) => dispatch(event, { taskId, ...(data as object) }),
        onError: (error) => {
          // This task cannot be followed any more; the others go on.
          pending.delete(taskId);
          if (pending.size === 0) stop();
          options.onError?.(new WatchError(error.code, error.message, error.status, taskId));
        },
      });
      stopPolls.push(stopPoll);
    }
  };

  if (transport === 'poll' || typeof EventSource === 'undefined') {
    if (ids !== undefined) poll();
    else fail(new WatchError('unsupported', 'The owner feed is a stream: long-polls follow tasks by id', undefined));
    return stop;
  }
  closeStream = followStream(url, {
    withCredentials,
    // The owner feed has no long-poll to fall back to: the browser keeps reconnecting it.
    maxFailures: ids === undefined ? Infinity : maxStreamFailures,
    onEvent: (event, data, id) => {
      if (ids !== undefined) positions = new URLSearchParams(id);
      dispatch(event, data as WithTaskId<object>);
    },
    onConnection: (state) => options.onConnection?.(state),
    onGiveUp: poll,
  });
  return stop;
}

/** `/tasks/:id` from `/tasks/:id/events`, or from `/tasks/events?ids=…` and a task id; keeping the origin. */
function taskUrlOf(eventsUrl: string, taskId?: string): URL {
  const url = new URL(eventsUrl, globalThis.location?.href);
  url.pathname = url.pathname.replace(/\/events\/?$/, taskId === undefined ? '' : `/${encodeURIComponent(taskId)}`);
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
