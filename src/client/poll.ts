import { WatchError } from './types.js';
import type { TokenSource } from './urls.js';
import { isTerminalEvent, RESET_EVENT } from './vocabulary.js';

export interface PollOptions {
  waitSeconds: number;
  credentials: RequestCredentials;
  tokens: TokenSource;
  /** Each event, in order, with its parsed data and its id (`''` for one without: the whole output, a reset). */
  onEvent: (event: string, data: unknown, id: string) => void;
  /** Polling gave up: a 4xx answer, or the server unreachable for too long. */
  onError: (error: WatchError) => void;
}

interface PollAnswer {
  events: Array<{ id?: string; event: string; data: unknown }>;
  reset?: boolean;
}

/** How many failed requests in a row (network errors, 5xx) before giving up; the waits between them grow to 8 s. */
const MAX_FAILURES = 6;

/**
 * Follows a task with `GET <taskUrl>?wait=&after=` until a terminal event, passing the last id it got as the next
 * `after`, so nothing is lost between requests. A refused token is renewed once. Returns the function that stops it.
 */
export function pollTask(taskUrl: URL, after: string | undefined, options: PollOptions): () => void {
  const controller = new AbortController();
  const run = async (): Promise<void> => {
    let failures = 0;
    let renewed = false;
    while (!controller.signal.aborted) {
      let response: Response | undefined;
      let answer: PollAnswer | undefined;
      try {
        const url = await options.tokens.sign(taskUrl, { wait: String(options.waitSeconds), after });
        response = await fetch(url, { credentials: options.credentials, signal: controller.signal });
        if (response.ok) answer = (await response.json()) as PollAnswer;
      } catch {
        if (controller.signal.aborted) return;
      }
      if (response?.status === 403 && options.tokens.renewable && !renewed) {
        renewed = true;
        options.tokens.renew();
        continue;
      }
      if (response !== undefined && response.status >= 400 && response.status < 500) {
        return options.onError(errorFor(response.status));
      }
      if (answer === undefined) {
        if (++failures >= MAX_FAILURES) {
          return options.onError(new WatchError('unreachable', 'The server cannot be reached', response?.status));
        }
        await sleep(Math.min(500 * 2 ** failures, 8000), controller.signal);
        continue;
      }
      failures = 0;
      renewed = false;
      if (answer.reset === true) options.onEvent(RESET_EVENT, {}, '');
      for (const { id, event, data } of answer.events) {
        if (id !== undefined) after = id;
        options.onEvent(event, data, id ?? '');
        if (isTerminalEvent(event)) return;
      }
    }
  };
  void run();
  return () => controller.abort();
}

function errorFor(status: number): WatchError {
  if (status === 404) return new WatchError('not_found', 'The task no longer exists on the server', status);
  if (status === 403) return new WatchError('forbidden', 'You may not follow this task', status);
  return new WatchError('http_error', `The server answered ${status}`, status);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
