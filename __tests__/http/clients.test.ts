// Clients that are not EventSource, as apps use them: each follows a task to its end, hands the app only the task's
// events (never an empty message that `JSON.parse` would throw on), and, written as the docs say, stops after it.
import net from 'node:net';
import { fetchEventSource, type EventSourceMessage } from '@microsoft/fetch-event-source';
import { EventSource as ExtendedEventSource } from 'extended-eventsource';
import type Koa from 'koa';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { withoutHeartbeats } from '../helpers/sse';
import { createParser, type EventSourceMessage as ParsedMessage } from 'eventsource-parser';

const TERMINAL = ['complete', 'failed', 'cancelled'];

describe('clients that are not EventSource', () => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  /** The status of each request for an event stream, in order. */
  const requests: number[] = [];

  // fetch-event-source is written for browsers: it schedules retries with window.setTimeout and (un)listens to the
  // page's visibility on document. Node has neither; a page that is always visible is all it needs of them.
  const browserGlobals = globalThis as { window?: unknown; document?: unknown };
  beforeAll(() => {
    browserGlobals.window = globalThis;
    browserGlobals.document = { hidden: false, addEventListener: () => {}, removeEventListener: () => {} };
  });
  afterAll(() => {
    delete browserGlobals.window;
    delete browserGlobals.document;
  });
  beforeEach(async () => {
    requests.length = 0;
    const count: Koa.Middleware = async (ctx, next) => {
      await next();
      if (ctx.path.endsWith('/events')) requests.push(ctx.status);
    };
    t = await startApp({
      before: [count],
      middleware: { retryMs: 50, heartbeatMs: 60_000 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
  });
  afterEach(() => t.close());

  /** Starts a task, and once `connected()` is true, emits two progress events and completes it. */
  async function runTask(connected: () => boolean): Promise<string> {
    const id = await startTask(t.base, 'controlled');
    const running: ControlledJob = await controlled.running(id);
    void waitUntil(connected, 5000, 'the client to connect').then(() => {
      running.job.progress(30, 'one');
      running.job.progress(60, 'two');
      running.complete('done');
    });
    return id;
  }

  it('@microsoft/fetch-event-source gets only the task events, and stops after the end as the docs show', async () => {
    const messages: EventSourceMessage[] = [];
    const parsed: unknown[] = [];
    const id = await runTask(() => messages.length > 0);
    // The docs' example: a 204 is the end (the client already has the terminal event), not an error to retry.
    class Stop extends Error {}
    const controller = new AbortController();
    await fetchEventSource(`${t.base}/tasks/${id}/events`, {
      signal: controller.signal,
      openWhenHidden: true,
      onopen: async (response) => {
        if (response.status === 204) throw new Stop();
        if (!response.ok) throw new Error(`The server answered ${response.status}`);
      },
      onmessage: (message) => {
        messages.push(message);
        parsed.push(JSON.parse(message.data)); // throws on an empty message, as in most apps
        if (TERMINAL.includes(message.event)) controller.abort();
      },
      onerror: (error: unknown) => {
        throw error; // never retry forever
      },
    }).catch((error: unknown) => {
      if (!(error instanceof Stop)) throw error;
    });
    expect(messages.map((m) => m.event)).toEqual(['status', 'progress', 'progress', 'complete']);
    expect(parsed).toHaveLength(4);
    expect(requests).toEqual([200]);
  });

  it('@microsoft/fetch-event-source that reconnects when the stream closes is stopped by its onopen on the 204', async () => {
    const messages: EventSourceMessage[] = [];
    const id = await runTask(() => messages.length > 0);
    // fetch-event-source's own advice: throw in onclose to reconnect after the server ends the stream. The
    // reconnection carries the terminal event's id and gets 204, which only onopen can turn into a stop.
    class Retry extends Error {}
    class Stop extends Error {}
    await fetchEventSource(`${t.base}/tasks/${id}/events`, {
      openWhenHidden: true,
      onopen: async (response) => {
        if (response.status === 204) throw new Stop();
      },
      onmessage: (message) => void messages.push(message),
      onclose: () => {
        throw new Retry();
      },
      onerror: (error: unknown) => {
        if (error instanceof Retry) return 50; // reconnect after 50 ms
        throw error;
      },
    }).catch((error: unknown) => {
      if (!(error instanceof Stop)) throw error;
    });
    expect(withoutHeartbeats(messages).map((m) => m.event)).toEqual(['status', 'progress', 'progress', 'complete']);
    expect(requests).toEqual([200, 204]);
  });

  it('extended-eventsource dispatches the task events and no empty message', async () => {
    const received: Array<[string, string]> = [];
    const id = await runTask(() => received.length > 0);
    const source = new ExtendedEventSource(`${t.base}/tasks/${id}/events`, { retry: 50 });
    source.onmessage = (event: MessageEvent) => received.push(['message', event.data as string]);
    const ended = new Promise<void>((resolve) => {
      for (const name of ['status', 'progress', ...TERMINAL]) {
        source.addEventListener(name, (event: MessageEvent) => {
          received.push([name, event.data as string]);
          if (TERMINAL.includes(name)) resolve();
        });
      }
    });
    await ended;
    source.close();
    expect(received.map(([name]) => name)).toEqual(['status', 'progress', 'progress', 'complete']);
    for (const [, data] of received) expect(() => JSON.parse(data) as unknown).not.toThrow();
  });

  it('serves an HTTP/1.0 client without Connection: keep-alive, and ends the body by closing', async () => {
    const id = await runTask(() => requests.length > 0);
    const { port } = new URL(t.base);
    const raw = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET /tasks/${id}/events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const [head, body] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)];
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head.toLowerCase()).not.toContain('keep-alive');
    expect(head.toLowerCase()).not.toContain('transfer-encoding');
    const events: ParsedMessage[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event) });
    parser.feed(body);
    expect(events.map((e) => e.event)).toEqual(['status', 'progress', 'progress', 'complete']);
  });
});
