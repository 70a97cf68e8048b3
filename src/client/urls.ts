import type { TransportOptions } from './types.js';

/**
 * The stream token of one watcher: got from the app's `token()` once, kept while it works, and got anew when the
 * server refused it (expired), so every URL carries one and a reconnection goes on where it was.
 */
export class TokenSource {
  readonly #get: TransportOptions['token'];
  #current: Promise<string> | undefined;

  constructor(get: TransportOptions['token']) {
    this.#get = get;
  }

  /** Whether there is a token to renew: only then is a refused connection worth trying again. */
  get renewable(): boolean {
    return this.#get !== undefined;
  }

  /** `url` with the token (and `extra` parameters) added. */
  async sign(url: URL, extra: Record<string, string | undefined> = {}): Promise<string> {
    const signed = new URL(url);
    for (const [name, value] of Object.entries(extra)) if (value !== undefined) signed.searchParams.set(name, value);
    if (this.#get !== undefined) {
      this.#current ??= Promise.resolve(this.#get());
      signed.searchParams.set('token', await this.#current);
    }
    return signed.toString();
  }

  /** Forgets the token: the next URL gets a new one. */
  renew(): void {
    this.#current = undefined;
  }
}

/** A URL of the page's origin (or the absolute one given). */
export function urlOf(url: string): URL {
  return new URL(url, globalThis.location?.href);
}

/** `/tasks/:id` from `/tasks/:id/events`, or from `/tasks/events?ids=…` and a task id; keeping the origin. */
export function taskUrlOf(eventsUrl: string, taskId?: string): URL {
  const url = urlOf(eventsUrl);
  url.pathname = url.pathname.replace(/\/events\/?$/, taskId === undefined ? '' : `/${encodeURIComponent(taskId)}`);
  url.search = '';
  return url;
}
