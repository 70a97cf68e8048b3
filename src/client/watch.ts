import { pollTask } from './poll.js';
import { followStream } from './stream.js';
import { TaskView } from './task-view.js';
import type { TaskHandlers, TransportOptions } from './types.js';
import { taskUrlOf, TokenSource, urlOf } from './urls.js';
import { isTerminalEvent } from './vocabulary.js';

/** Options of `watchTask()`: the handlers, and how to connect. `T` is the result type, or a `TaskType`. */
export type WatchTaskOptions<T = unknown> = TaskHandlers<T> & TransportOptions;

/**
 * Follows one task. `url` is its event stream, `/tasks/:id/events` (or a full URL on another origin). Calls the
 * handler of each event with its parsed data, assembles the task's output for `onOutput`, closes after `complete`,
 * `failed` or `cancelled`, and falls back to long-polling `/tasks/:id?wait=&after=` (without losing an event) when
 * the browser has no EventSource or the stream keeps failing. Returns the function that stops following.
 */
export function watchTask<T = unknown>(url: string, options: WatchTaskOptions<T> = {}): () => void {
  const { withCredentials = false, transport = 'auto', maxStreamFailures = 3, pollWaitSeconds = 25 } = options;
  const tokens = new TokenSource(options.token);
  let stopped = false;
  let lastEventId: string | undefined;
  let closeStream = (): void => {};
  let stopPolling = (): void => {};
  const view = new TaskView({
    snapshot: (event, snapshot) => {
      const handler = {
        status: options.onStatus,
        complete: options.onComplete,
        failed: options.onFailed,
        cancelled: options.onCancelled,
      }[event];
      (handler as ((data: unknown) => void) | undefined)?.(snapshot);
    },
    progress: (progress) => options.onProgress?.(progress as Parameters<NonNullable<TaskHandlers['onProgress']>>[0]),
    output: (text, delta) => options.onOutput?.(text, delta),
    custom: (name, data) =>
      (options.on as Record<string, ((data: unknown) => void) | undefined> | undefined)?.[name]?.(data),
    reset: () => options.onReset?.(),
  });

  const dispatch = (event: string, data: unknown, id: string): void => {
    if (stopped) return;
    if (id !== '') lastEventId = id;
    if (isTerminalEvent(event)) stop();
    view.receive(event, data);
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
      tokens,
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
  closeStream = followStream(urlOf(url), {
    withCredentials,
    maxFailures: maxStreamFailures,
    customEvents: Object.keys(options.on ?? {}),
    tokens,
    onEvent: dispatch,
    onConnection: (state) => options.onConnection?.(state),
    onGiveUp: poll,
  });
  return stop;
}
