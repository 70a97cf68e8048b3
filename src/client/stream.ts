import { HEARTBEAT_EVENT, TASK_EVENTS } from './vocabulary.js';

export interface StreamOptions {
  withCredentials: boolean;
  /** After how many failed connections in a row, with no event between them, to give up (`Infinity`: never). */
  maxFailures: number;
  /** Each task event, in order, with its parsed data and its id. */
  onEvent: (event: string, data: unknown, id: string) => void;
  onConnection: (state: 'streaming' | 'reconnecting') => void;
  /** The server refused the stream, or it failed `maxFailures` times in a row: it is closed, long-poll instead. */
  onGiveUp: () => void;
}

/**
 * Follows an event stream with the browser's EventSource, which reconnects by itself with Last-Event-ID, until it
 * gives up or the returned function closes it.
 */
export function followStream(url: string, options: StreamOptions): () => void {
  const stream = new EventSource(url, { withCredentials: options.withCredentials });
  let closed = false;
  let failures = 0;
  const close = (): void => {
    closed = true;
    stream.close();
  };
  for (const name of TASK_EVENTS) {
    stream.addEventListener(name, (message) => {
      failures = 0;
      options.onEvent(name, JSON.parse(message.data as string) as unknown, message.lastEventId);
    });
  }
  stream.addEventListener(HEARTBEAT_EVENT, () => (failures = 0));
  stream.addEventListener('open', () => !closed && options.onConnection('streaming'));
  stream.addEventListener('error', () => {
    if (closed) return;
    // CLOSED: the server refused the stream (an error status, a wrong type); CONNECTING: the browser retries.
    if (stream.readyState === EventSource.CLOSED || ++failures >= options.maxFailures) {
      close();
      options.onGiveUp();
    } else {
      options.onConnection('reconnecting');
    }
  });
  return close;
}
