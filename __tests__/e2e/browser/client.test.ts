// The browser client (koa-sse-tasks/client) in every engine against a real Koa server: a native EventSource that
// reconnects by itself, the long-poll fallback, and one stream for ten tasks over HTTP/1.1. What the page asked for
// is seen where it arrives, at the server, so no test depends on one engine's interception.
import type { Socket } from 'node:net';
import { startApp, startTask, waitUntil, type TestApp } from '../../helpers/app';
import { ENGINES, LAUNCH_TIMEOUT_MS, launch, type Browser, type Page } from '../../helpers/browsers';
import { clientPage } from '../../helpers/client-page';
import { defineControlled } from '../../helpers/controlled';

/** Runs in the page. What it records: `status`, each percent, then the terminal event's name; connection states apart. */
function installRecorder(): void {
  const w = window as unknown as { got: unknown[]; states: string[]; record: () => unknown };
  const got: unknown[] = (w.got = []);
  const states: string[] = (w.states = []);
  type Data = { taskId?: string; percent?: number; error?: { message: string } };
  w.record = () => ({
    onStatus: (s: Data) => got.push(s.taskId ? s.taskId + ':status' : 'status'),
    onProgress: (p: Data) => got.push(p.taskId ? `${p.taskId}:${p.percent!}` : p.percent),
    onComplete: (s: Data) => got.push(s.taskId ? s.taskId + ':complete' : 'complete'),
    onFailed: (s: Data) => got.push('failed: ' + s.error!.message),
    onCancelled: () => got.push('cancelled'),
    onError: (e: { code: string }) => got.push('error: ' + e.code),
    onConnection: (state: string) => states.push(state),
  });
}

describe.each(ENGINES)('the browser client in %s', (engine) => {
  let browser: Browser;
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  let page: Page;
  /** Server-side sockets of the event-stream requests, so a test can cut them. */
  const streamSockets = new Set<Socket>();
  /** Every URL the page requested (path and query), as the server received them. */
  let requested: string[] = [];
  /** Event-stream URLs the server answers at once with `retry: 50` and no event, as a proxy that cuts long responses. */
  const cutStreams = new Set<string>();

  beforeAll(async () => {
    [browser, t] = await Promise.all([
      launch(engine),
      startApp({
        runner: { concurrency: 20 },
        middleware: { retryMs: 200 },
        before: [
          async (ctx, next) => {
            requested.push(ctx.url);
            if (ctx.path.endsWith('/events')) streamSockets.add(ctx.req.socket);
            if (!cutStreams.has(ctx.url)) {
              await next();
              return;
            }
            ctx.type = 'text/event-stream';
            ctx.body = 'retry: 50\n\n';
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
    cutStreams.clear();
  });
  afterEach(() => page.close());

  async function openPage({ eventSource = true } = {}): Promise<void> {
    await page.goto(`${t.base}/page${eventSource ? '' : '?eventsource=none'}`);
    await page.waitFor(() => 'client' in window);
    await page.evaluate(installRecorder);
  }

  const got = (): Promise<unknown[]> => page.evaluate(() => (window as unknown as { got: unknown[] }).got);
  async function waitForGot(count: number): Promise<void> {
    await page.waitFor((n) => (window as unknown as { got: unknown[] }).got.length >= n, count);
  }

  /** Calls `window.client.watchTask` or `watchTasks` on the page for each url, with the recorder's handlers. */
  async function watch(name: 'watchTask' | 'watchTasks', ...urls: string[]): Promise<void> {
    await page.evaluate(
      ([fn, list]) => {
        const w = window as unknown as {
          client: Record<string, (u: string, h: unknown) => void>;
          record: () => unknown;
        };
        for (const url of list) w.client[fn]!(url, w.record());
      },
      [name, urls] as [string, string[]],
    );
  }
  const states = (): Promise<string[]> => page.evaluate(() => (window as unknown as { states: string[] }).states);

  it('keeps following across a connection the server drops: no gap, no duplicate', async () => {
    await openPage();
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    streamSockets.clear();
    await watch('watchTask', `/tasks/${id}/events`);
    await waitForGot(1);
    for (let p = 1; p <= 5; p++) job.progress(p);
    await waitForGot(6);
    for (const socket of streamSockets) socket.destroy();
    for (let p = 6; p <= 10; p++) job.progress(p); // while the page is disconnected
    await waitForGot(11);
    complete('ok');
    await waitForGot(12);
    expect(await got()).toEqual(['status', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 'complete']);
    expect(requested.filter((url) => url === `/tasks/${id}/events`)).toHaveLength(2);
    expect(await states()).toEqual(['streaming', 'reconnecting', 'streaming']);
  });

  it('long-polls when the browser has no EventSource, losing nothing', async () => {
    await openPage({ eventSource: false });
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    await watch('watchTask', `/tasks/${id}/events`);
    await waitForGot(1);
    for (let p = 1; p <= 20; p++) job.progress(p);
    await waitForGot(21);
    complete('ok');
    await waitForGot(22);
    expect(await got()).toEqual(['status', ...Array.from({ length: 20 }, (_, i) => i + 1), 'complete']);
    expect(requested.filter((url) => url.endsWith('/events'))).toEqual([]);
    expect(requested.filter((url) => url.startsWith(`/tasks/${id}?wait=`)).length).toBeGreaterThanOrEqual(2);
  });

  it('long-polls from where the stream was when the stream keeps failing (a proxy that cuts it)', async () => {
    await openPage();
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    await watch('watchTask', `/tasks/${id}/events`);
    await waitForGot(1);
    job.progress(1);
    await waitForGot(2);
    // From now on every stream request ends at once, as behind a proxy that breaks long responses.
    cutStreams.add(`/tasks/${id}/events`);
    for (const socket of streamSockets) socket.destroy();
    job.progress(2);
    await page.waitFor(() => (window as unknown as { states: string[] }).states.includes('polling'));
    job.progress(3);
    complete('ok');
    await waitForGot(5);
    expect(await got()).toEqual(['status', 1, 2, 3, 'complete']);
    const seen = await states();
    expect(seen.at(-1)).toBe('polling');
    expect(seen.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(1);
  });

  it('follows ten tasks on one page over HTTP/1.1 with one stream, and all of them complete', async () => {
    await openPage();
    const ids = await Promise.all(Array.from({ length: 10 }, () => startTask(t.base, 'controlled')));
    const jobs = await Promise.all(ids.map((id) => controlled.running(id)));
    await watch('watchTasks', `/tasks/events?ids=${ids.join(',')}`);
    await waitForGot(10);
    jobs.forEach((running, i) => running.job.progress(10 * (i + 1)));
    await waitForGot(20);
    jobs.forEach((running) => running.complete('ok'));
    await waitForGot(30);
    const events = (await got()) as string[];
    for (const [i, id] of ids.entries()) {
      expect(events.filter((e) => e.startsWith(`${id}:`))).toEqual([
        `${id}:status`,
        `${id}:${10 * (i + 1)}`,
        `${id}:complete`,
      ]);
    }
    expect(requested.filter((url) => url.includes('/events'))).toHaveLength(1);
    // The client closed the stream after the last task ended: the server holds no stream for it.
    await waitUntil(() => t.tasks.openStreams === 0, 5000, 'the stream to close');
  });

  it('long-polls each task of a set from where the stream had it, when the set stream keeps failing', async () => {
    await openPage();
    const ids = await Promise.all(Array.from({ length: 3 }, () => startTask(t.base, 'controlled')));
    const jobs = await Promise.all(ids.map((id) => controlled.running(id)));
    const setUrl = `/tasks/events?ids=${ids.join(',')}`;
    await watch('watchTasks', setUrl);
    await waitForGot(3);
    for (const running of jobs) running.job.progress(10);
    await waitForGot(6);
    // From now on every stream request ends at once, as behind a proxy that breaks long responses.
    cutStreams.add(setUrl);
    for (const socket of streamSockets) socket.destroy();
    jobs[0]!.job.progress(20); // while no stream is open
    await page.waitFor(() => (window as unknown as { states: string[] }).states.includes('polling'));
    for (const running of jobs.slice(1)) running.job.progress(20);
    for (const running of jobs) running.complete('ok');
    await waitForGot(12);
    const events = (await got()) as string[];
    for (const id of ids) {
      // No gap and no second `status`: each long-poll starts after the task's last event on the stream.
      expect(events.filter((e) => e.startsWith(`${id}:`))).toEqual([
        `${id}:status`,
        `${id}:10`,
        `${id}:20`,
        `${id}:complete`,
      ]);
    }
    for (const id of ids)
      expect(requested.some((url) => url.startsWith(`/tasks/${id}?wait=`) && url.includes('after='))).toBe(true);
  });

  it('long-polls each task of a set when the browser has no EventSource; the owner feed says it cannot', async () => {
    await openPage({ eventSource: false });
    const ids = await Promise.all(Array.from({ length: 2 }, () => startTask(t.base, 'controlled')));
    const jobs = await Promise.all(ids.map((id) => controlled.running(id)));
    await watch('watchTasks', `/tasks/events?ids=${ids.join(',')}`, '/tasks/events');
    await waitForGot(3); // two statuses, and the owner feed's error
    for (const running of jobs) running.job.progress(50);
    for (const running of jobs) running.complete('ok');
    await waitForGot(7);
    const events = (await got()) as string[];
    expect(events.filter((e) => e.startsWith('error'))).toEqual(['error: unsupported']);
    for (const id of ids) {
      expect(events.filter((e) => e.startsWith(`${id}:`))).toEqual([`${id}:status`, `${id}:50`, `${id}:complete`]);
    }
    expect(requested.filter((url) => url.includes('/events'))).toEqual([]);
  });
});
