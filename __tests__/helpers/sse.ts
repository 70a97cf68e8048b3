import http from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { waitUntil } from './app';

export interface ParsedEvent {
  event: string | undefined;
  id: string | undefined;
  data: string;
}

/** A raw SSE response read over a real socket and parsed by an independent parser (eventsource-parser). */
export interface OpenStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: ParsedEvent[];
  retry: number | undefined;
  raw: string;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  hasEnded(): boolean;
  /** Waits until `count` events (heartbeats excluded unless asked) have arrived. */
  waitForEvents(count: number, options?: { heartbeats?: boolean; timeoutMs?: number }): Promise<ParsedEvent[]>;
  /** Drops the connection from the client side. */
  destroy(): void;
  /** Drops the connection with a TCP reset, as a crashed client or a killed proxy does. */
  reset(): void;
}

export function openStream(url: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      const events: ParsedEvent[] = [];
      let ended = false;
      const stream: OpenStream = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        events,
        retry: undefined,
        raw: '',
        ended: new Promise<void>((done) => {
          const finish = (): void => {
            ended = true;
            done();
          };
          response.on('end', finish);
          response.on('close', finish);
        }),
        hasEnded: () => ended,
        async waitForEvents(count, { heartbeats = false, timeoutMs = 5000 } = {}) {
          const counted = (): ParsedEvent[] => (heartbeats ? events : events.filter((e) => e.event !== 'heartbeat'));
          await waitUntil(() => counted().length >= count, timeoutMs, `${count} events (got ${counted().length})`);
          return counted();
        },
        destroy: () => request.destroy(),
        reset: () => request.socket?.resetAndDestroy(),
      };
      const parser = createParser({
        onEvent: (message: EventSourceMessage) =>
          events.push({ event: message.event, id: message.id, data: message.data }),
        onRetry: (ms: number) => (stream.retry = ms),
      });
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        stream.raw += chunk;
        parser.feed(chunk);
      });
      response.on('error', () => {});
      resolve(stream);
    });
    request.on('error', reject);
  });
}

export function withoutHeartbeats(events: ParsedEvent[]): ParsedEvent[] {
  return events.filter((e) => e.event !== 'heartbeat');
}

export function dataOf<T = Record<string, unknown>>(event: ParsedEvent | undefined): T {
  if (event === undefined) throw new Error('no event');
  return JSON.parse(event.data) as T;
}

/** Every event and retry an independent parser (eventsource-parser) reads from `text`. */
export function parseSse(text: string): { events: EventSourceMessage[]; retries: number[] } {
  const events: EventSourceMessage[] = [];
  const retries: number[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms) });
  parser.feed(text);
  return { events, retries };
}
