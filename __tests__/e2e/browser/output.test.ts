// The browser client assembles a job's output and dispatches its custom events, in every engine: the page's text
// equals the server's after a dropped connection, a reset, a retry or a fall back to long-polling, and a stream
// token that expires is renewed on the stream without a gap. What the page asked for is seen at the server.
import type { Socket } from 'node:net';
import { deferred, startApp, startTask, waitUntil, type TestApp } from '../../helpers/app';
import { ENGINES, LAUNCH_TIMEOUT_MS, launch, type Browser, type Page } from '../../helpers/browsers';
import { clientPage } from '../../helpers/client-page';
import { defineControlled } from '../../helpers/controlled';

interface Seen {
  /** How many snapshots (`status` events) the page got: it is connected once there is one. */
  statuses: number;
  text: string;
  deltas: string[];
  sources: string[];
  resets: number;
  ended: string | undefined;
}

/** Runs in the page: what it keeps of the task, and `watch(url, options)` calling watchTask with its handlers. */
function installRecorder(): void {
  const w = window as unknown as {
    seen: Seen;
    client: { watchTask: (url: string, options: object) => () => void };
    watch: (url: string, options: { tokenUrl?: string }) => void;
  };
  const seen: Seen = (w.seen = { statuses: 0, text: '', deltas: [], sources: [], resets: 0, ended: undefined });
  w.watch = (url, { tokenUrl, ...options }) => {
    const token =
      tokenUrl === undefined
        ? {}
        : { token: async () => ((await (await fetch(tokenUrl)).json()) as { token: string }).token };
    w.client.watchTask(url, {
      onOutput: (text: string, delta: string) => {
        seen.text = text;
        seen.deltas.push(delta);
      },
      onStatus: () => seen.statuses++,
      on: { source: (data: { title: string }) => seen.sources.push(data.title) },
      onReset: () => seen.resets++,
      onComplete: (s: { outputLength: number }) => (seen.ended = `complete:${s.outputLength}`),
      onFailed: () => (seen.ended = 'failed'),
      onError: (e: { code: string }) => (seen.ended = `error: ${e.code}`),
      ...options,
      ...token,
    });
  };
}

describe.each(ENGINES)('the browser client follows a job’s output in %s', (engine) => {
  let browser: Browser;
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  let page: Page;
  const streamSockets = new Set<Socket>();
  let requested: string[] = [];
  /** While set, event-stream requests wait for it before they are served (the page cannot reconnect meanwhile). */
  let held: Promise<void> | undefined;

  beforeAll(async () => {
    [browser, t] = await Promise.all([
      launch(engine),
      startApp({
        runner: { concurrency: 10, historyLimit: 5 },
        middleware: { retryMs: 100, secret: 's'.repeat(32) },
        before: [
          async (ctx, next) => {
            requested.push(ctx.url);
            if (ctx.path === '/token') {
              const taskId = new URLSearchParams(ctx.querystring).get('id') ?? '';
              ctx.body = { token: t.tasks.streamToken({ taskId }, { ttlMs: 300 }) };
              return;
            }
            if (ctx.path.endsWith('/events')) {
              streamSockets.add(ctx.req.socket);
              await held;
            }
            await next();
          },
        ],
        after: [clientPage],
        define: (runner) => (controlled = defineControlled(runner)),
      }),
    ]);
  }, LAUNCH_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });
  beforeEach(async () => {
    page = await browser.newPage();
    requested = [];
    await page.goto(`${t.base}/page`);
    await page.waitFor(() => 'client' in window);
    await page.evaluate(installRecorder);
  });
  afterEach(() => page.close());

  const seen = (): Promise<Seen> => page.evaluate(() => (window as unknown as { seen: Seen }).seen);
  const watch = (url: string, options: Record<string, unknown> = {}): Promise<void> =>
    page.evaluate(([u, o]) => (window as unknown as { watch: (u: string, o: object) => void }).watch(u, o), [
      url,
      options,
    ] as [string, Record<string, unknown>]);
  const until = (check: (now: Seen) => boolean, what: string): Promise<void> =>
    waitUntil(async () => check(await seen()), 15_000, what);
  const serverOutput = async (id: string): Promise<string> => (await fetch(`${t.base}/tasks/${id}/output`)).text();
  const dropStreams = (): void => {
    for (const socket of streamSockets) socket.destroy();
    streamSockets.clear();
  };

  it('shows exactly the server’s text across a dropped connection, with every custom event once', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    await watch(`/tasks/${id}/events`);
    // Connected first: a custom event emitted before the page joined is in its snapshot's past, never replayed.
    await until((now) => now.statuses > 0, 'the page to connect');
    job.write('The quick ');
    job.emit('source', { title: 'first' });
    await until((now) => now.text === 'The quick ' && now.sources.length === 1, 'the first text and event');
    dropStreams();
    job.write('brown fox');
    await until((now) => now.text === 'The quick brown fox', 'the text after the drop');
    job.emit('source', { title: 'second' });
    job.write(' jumps.');
    complete('done');
    await until((now) => Boolean(now.ended), 'the end');
    const { text, sources, resets, ended, deltas } = await seen();
    expect(text).toBe(await serverOutput(id));
    expect(text).toBe('The quick brown fox jumps.');
    expect(sources).toEqual(['first', 'second']);
    expect(resets).toBe(0);
    expect(deltas.join('')).toBe(text);
    expect(ended).toBe('complete:26');
  });

  it('rebuilds the text after a reset: the history no longer reached back to where the page was', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    await watch(`/tasks/${id}/events`);
    job.write('a');
    await until((now) => now.text === 'a', 'the first text');
    // The page's reconnection waits while the job commits more than historyLimit (5) events.
    const release = deferred();
    held = release.promise;
    dropStreams();
    for (let i = 0; i < 8; i++) {
      job.write(String(i));
      await new Promise((r) => setTimeout(r, 15));
    }
    held = undefined;
    release.resolve();
    await until((now) => now.resets === 1 && now.text === 'a01234567', 'the reset and the whole text');
    complete('done');
    await until((now) => Boolean(now.ended), 'the end');
    expect((await seen()).text).toBe(await serverOutput(id));
  });

  it('starts the text again for a retry', async () => {
    const gate = deferred();
    t.runner.define(
      'retried',
      async (job) => {
        job.write(`attempt ${job.attempt}`);
        if (job.attempt === 1) {
          await gate.promise;
          throw new Error('again');
        }
        await new Promise((r) => setTimeout(r, 50));
        return 'ok';
      },
      { retries: 1, backoffMs: 0 },
    );
    const id = await startTask(t.base, 'retried');
    await watch(`/tasks/${id}/events`);
    await until((now) => now.text === 'attempt 1', 'the first attempt');
    gate.resolve();
    await until((now) => Boolean(now.ended), 'the end');
    expect((await seen()).text).toBe('attempt 2');
  });

  it('long-polls the same text and custom events when it cannot stream', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    job.write('before the page, ');
    await watch(`/tasks/${id}/events`, { transport: 'poll', pollWaitSeconds: 1 });
    await until((now) => now.text !== '', 'the text so far');
    job.emit('source', { title: 'polled' });
    job.write('after it');
    complete('done');
    await until((now) => Boolean(now.ended), 'the end');
    expect((await seen()).text).toBe('before the page, after it');
    expect((await seen()).sources).toEqual(['polled']);
    expect(requested.some((url) => url.endsWith('/events'))).toBe(false);
  });

  it('renews an expired stream token and resumes where it was, on the stream, with no gap', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    await watch(`/tasks/${id}/events`, { tokenUrl: `/token?id=${id}` });
    job.write('one ');
    await until((now) => now.text === 'one ', 'the first text');
    await new Promise((r) => setTimeout(r, 400)); // the token (300 ms) has expired
    dropStreams(); // EventSource reconnects with it: 403, then the client gets a new one
    job.write('two');
    complete('done');
    await until((now) => Boolean(now.ended), 'the end');
    expect(await seen()).toMatchObject({ text: 'one two', ended: 'complete:7' });
    expect(requested.filter((url) => url.startsWith('/token'))).toHaveLength(2);
    expect(requested.some((url) => url.includes('/events?') && url.includes('lastEventId='))).toBe(true);
    expect(requested.some((url) => url.includes('wait='))).toBe(false);
  });
});
