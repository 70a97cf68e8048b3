import { pollTask } from './poll.js';
import { followStream } from './stream.js';
import { TaskView } from './task-view.js';
import { WatchError, type TaskSetHandlers, type TransportOptions, type WithTaskId } from './types.js';
import { taskUrlOf, TokenSource, urlOf } from './urls.js';
import { isTerminalEvent } from './vocabulary.js';

/** Options of `watchTasks()`: the handlers, and how to connect (`transport` and polling apply to `?ids=` only). */
export type WatchTasksOptions<T = unknown> = TaskSetHandlers<T> & TransportOptions;

/**
 * Follows a set of tasks on one stream: `/tasks/events?ids=a,b,c`, or `/tasks/events` for every task of the current
 * owner. Each handler is told which task an event concerns, and each task's output is assembled on its own. With
 * `ids`, following stops once every task has ended, and falls back to long-polling each task not ended yet, from
 * where the stream had it, as `watchTask()` does. The owner feed stays open until the returned function is called;
 * it has no long-poll fallback (long-polls follow tasks by id).
 */
export function watchTasks<T = unknown>(url: string, options: WatchTasksOptions<T> = {}): () => void {
  const { withCredentials = false, transport = 'auto', maxStreamFailures = 3, pollWaitSeconds = 25 } = options;
  const tokens = new TokenSource(options.token);
  const ids = urlOf(url).searchParams.get('ids')?.split(',');
  /** With `ids`: each task not ended yet, by id, with its index in `ids` (its key in the stream's event ids). */
  const pending = new Map(ids?.map((id, index) => [id, String(index)]));
  /** Where the stream had each task: the id of its last event, by key (the multiplexed id, see docs/protocol.md). */
  let positions = new URLSearchParams();
  const views = new Map<string, TaskView>();
  let stopped = false;
  let closeStream = (): void => {};
  const stopPolls: Array<() => void> = [];

  type Handler = ((data: never) => void) | undefined;
  const viewOf = (taskId: string): TaskView => {
    let view = views.get(taskId);
    if (view !== undefined) return view;
    view = new TaskView({
      snapshot: (event, snapshot) => {
        const handler: Handler = {
          status: options.onStatus,
          complete: options.onComplete,
          failed: options.onFailed,
          cancelled: options.onCancelled,
        }[event];
        (handler as ((data: unknown) => void) | undefined)?.(snapshot);
      },
      progress: (progress) => options.onProgress?.(progress as WithTaskId<{ percent: number }>),
      output: (text, delta) => options.onOutput?.(taskId, text, delta),
      custom: (name, data) =>
        (options.on as Record<string, ((data: unknown) => void) | undefined> | undefined)?.[name]?.(data),
      reset: () => options.onReset?.(taskId),
    });
    views.set(taskId, view);
    return view;
  };
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
    viewOf(data.taskId).receive(event, data);
    // The owner feed forgets a task once it has ended; so does this client.
    if (isTerminalEvent(event) && ids === undefined) views.delete(data.taskId);
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
        tokens,
        onEvent: (event, data) => dispatch(event, { ...(data as object), taskId }),
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
  closeStream = followStream(urlOf(url), {
    withCredentials,
    // The owner feed has no long-poll to fall back to: the browser keeps reconnecting it.
    maxFailures: ids === undefined ? Infinity : maxStreamFailures,
    customEvents: Object.keys(options.on ?? {}),
    tokens,
    onEvent: (event, data, id) => {
      if (ids !== undefined && id !== '') positions = new URLSearchParams(id);
      dispatch(event, data as WithTaskId<object>);
    },
    onConnection: (state) => options.onConnection?.(state),
    onGiveUp: poll,
  });
  return stop;
}
