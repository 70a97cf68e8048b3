import type { TokenSource } from './urls.js';
import { HEARTBEAT_EVENT, RESET_EVENT, TASK_EVENTS } from './vocabulary.js';

export interface StreamOptions {
  withCredentials: boolean;
  /** After how many failed connections in a row, with no event between them, to give up (`Infinity`: never). */
  maxFailures: number;
  /** The custom event names to listen to, besides the task's own. */
  customEvents: readonly string[];
  /** Signs each URL with the stream token, if there is one. */
  tokens: TokenSource;
  /** Each event, in order, with its parsed data and the id of the last event with an id. */
  onEvent: (event: string, data: unknown, id: string) => void;
  onConnection: (state: 'streaming' | 'reconnecting') => void;
  /** The server refused the stream, or it failed `maxFailures` times in a row: it is closed, long-poll instead. */
  onGiveUp: () => void;
}

/**
 * Follows an event stream with the browser's EventSource, which reconnects by itself with Last-Event-ID, until it
 * gives up or the returned function closes it. With a stream token, a refused stream (its token expired) is opened
 * once more with a new token, from the last id it had (`lastEventId` in the URL: a new EventSource sends no
 * Last-Event-ID of its own).
 */
export function followStream(url: URL, options: StreamOptions): () => void {
  let source: EventSource | undefined;
  let closed = false;
  let failures = 0;
  let lastEventId: string | undefined;
  /** Set when the stream was reopened with a new token, until an event shows the new one works. */
  let reopened = false;
  const close = (): void => {
    closed = true;
    source?.close();
  };
  const giveUp = (): void => {
    close();
    options.onGiveUp();
  };
  const open = async (): Promise<void> => {
    const signed = await options.tokens.sign(url, { lastEventId });
    if (closed) return;
    const stream = new EventSource(signed, { withCredentials: options.withCredentials });
    source = stream;
    for (const name of [...TASK_EVENTS, RESET_EVENT, ...options.customEvents]) {
      stream.addEventListener(name, (message) => {
        failures = 0;
        reopened = false;
        if (message.lastEventId !== '') lastEventId = message.lastEventId;
        options.onEvent(name, JSON.parse(message.data as string) as unknown, message.lastEventId);
      });
    }
    stream.addEventListener(HEARTBEAT_EVENT, () => (failures = 0));
    stream.addEventListener('open', () => !closed && options.onConnection('streaming'));
    stream.addEventListener('error', () => {
      if (closed) return;
      // CLOSED: the server refused the stream (an error status, a wrong type); CONNECTING: the browser retries.
      if (stream.readyState === EventSource.CLOSED) {
        if (!options.tokens.renewable || reopened) return giveUp();
        reopened = true;
        options.tokens.renew();
        options.onConnection('reconnecting');
        open().catch(giveUp);
      } else if (++failures >= options.maxFailures) {
        giveUp();
      } else {
        options.onConnection('reconnecting');
      }
    });
  };
  open().catch(giveUp);
  return close;
}
