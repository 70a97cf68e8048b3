// The browser client assembles a job's output and dispatches its custom events in a real browser: the page's text
// equals the server's after a dropped connection, a reset, a retry or a fall back to long-polling, and a stream
// token that expires is renewed without a gap.
import type { Socket } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { deferred, startApp, startTask, waitUntil, type TestApp } from '../../helpers/app';
import { launchChromium } from '../../helpers/browser';
import { clientPage } from '../../helpers/client-page';
import { defineControlled } from '../../helpers/controlled';

/** What the page keeps: the text onOutput gave last, every call's delta, custom events, resets, the end. */
const RECORDER = `
  window.seen = { text: '', deltas: [], sources: [], resets: 0, ended: undefined };
  window.record = () => ({
    onOutput: (text, delta) => { seen.text = text; seen.deltas.push(delta); },
    on: { source: (data) => seen.sources.push(data.title) },
    onReset: () => seen.resets++,
    onComplete: (s) => (seen.ended = 'complete:' + s.outputLength),
    onFailed: (s) => (seen.ended = 'failed'),
    onError: (e) => (seen.ended = 'error: ' + e.code),
  });
`;

interface Seen {
  text: string;
  deltas: string[];
  sources: string[];
  resets: number;
  ended: string | undefined;
}

describe('the browser client follows a job’s output in Chromium', () => {
  let browser: Browser;
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  let context: BrowserContext;
  let page: Page;
  const streamSockets = new Set<Socket>();

  beforeAll(async () => {
    browser = await launchChromium();
    t = await startApp({
      runner: { concurrency: 10, historyLimit: 5 },
      middleware: { retryMs: 100, secret: 's'.repeat(32) },
      before: [
        async (ctx, next) => {
          if (ctx.path.endsWith('/events')) streamSockets.add(ctx.req.socket);
          if (ctx.path === '/token') {
            ctx.body = { token: t.tasks.streamToken({ taskId: ctx.query.id as string }, { ttlMs: 300 }) };
            return;
          }
          await next();
        },
      ],
      after: [clientPage],
      define: (runner) => (controlled = defineControlled(runner)),
    });
  });
  afterAll(async () => {
    await browser.close();
    await t.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(`${t.base}/page`);
    await page.waitForFunction(() => 'client' in window);
    await page.evaluate(RECORDER);
  });
  afterEach(() => context.close());

  const seen = (): Promise<Seen> => page.evaluate(() => (window as unknown as { seen: Seen }).seen);
  /** Calls `watchTask` on the page; `tokenUrl` becomes a `token()` that fetches a token from there. */
  async function watch(url: string, options: Record<string, unknown> = {}): Promise<void> {
    await page.evaluate(
      ([u, { tokenUrl, ...o }]) => {
        const w = window as unknown as {
          client: { watchTask: (u: string, h: unknown) => void };
          record: () => object;
        };
        const token =
          typeof tokenUrl === 'string'
            ? async () => ((await (await fetch(tokenUrl)).json()) as { token: string }).token
            : undefined;
        w.client.watchTask(u, { ...w.record(), ...o, ...(token === undefined ? {} : { token }) });
      },
      [url, options] as const,
    );
  }
  const serverOutput = async (id: string): Promise<string> => (await fetch(`${t.base}/tasks/${id}/output`)).text();
  const dropStreams = (): void => {
    for (const socket of streamSockets) socket.destroy();
    streamSockets.clear();
  };

  it('shows exactly the server’s text across a dropped connection, with every custom event once', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    await watch(`/tasks/${id}/events`);
    job.write('The quick ');
    job.emit('source', { title: 'first' });
    await page.waitForFunction(() => (window as unknown as { seen: Seen }).seen.text === 'The quick ');
    dropStreams();
    job.write('brown fox');
    await waitUntil(async () => (await seen()).text === 'The quick brown fox', 10_000, 'the text after the drop');
    job.emit('source', { title: 'second' });
    job.write(' jumps.');
    complete('done');
    await waitUntil(async () => (await seen()).ended !== undefined, 10_000, 'the end');
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
    await page.waitForFunction(() => (window as unknown as { seen: Seen }).seen.text === 'a');
    // The page cannot reconnect while the job commits more than historyLimit (5) events.
    await page.route('**/events*', (route) => route.abort());
    dropStreams();
    for (let i = 0; i < 8; i++) {
      job.write(String(i));
      await new Promise((r) => setTimeout(r, 15));
    }
    await page.unroute('**/events*');
    await waitUntil(async () => (await seen()).resets === 1, 10_000, 'the reset');
    complete('done');
    await waitUntil(async () => (await seen()).ended !== undefined, 10_000, 'the end');
    expect((await seen()).text).toBe('a01234567');
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
    await page.waitForFunction(() => (window as unknown as { seen: Seen }).seen.text === 'attempt 1');
    gate.resolve();
    await waitUntil(async () => (await seen()).ended !== undefined, 10_000, 'the end');
    expect((await seen()).text).toBe('attempt 2');
  });

  it('long-polls the same text and custom events when it cannot stream', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    job.write('before the page, ');
    await watch(`/tasks/${id}/events`, { transport: 'poll', pollWaitSeconds: 1 });
    await page.waitForFunction(() => (window as unknown as { seen: Seen }).seen.text !== '');
    job.emit('source', { title: 'polled' });
    job.write('after it');
    complete('done');
    await waitUntil(async () => (await seen()).ended !== undefined, 10_000, 'the end');
    expect((await seen()).text).toBe('before the page, after it');
    expect((await seen()).sources).toEqual(['polled']);
  });

  it('renews an expired stream token and resumes where it was, with no gap', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    const requested: string[] = [];
    page.on('request', (request) => requested.push(new URL(request.url()).pathname + new URL(request.url()).search));
    await watch(`/tasks/${id}/events`, { tokenUrl: `/token?id=${id}` });
    job.write('one ');
    await page.waitForFunction(() => (window as unknown as { seen: Seen }).seen.text === 'one ');
    await new Promise((r) => setTimeout(r, 400)); // the token (300 ms) has expired
    dropStreams(); // EventSource reconnects with it: 403, then the client gets a new one
    job.write('two');
    complete('done');
    await waitUntil(async () => (await seen()).ended !== undefined, 10_000, 'the end');
    expect((await seen()).text).toBe('one two');
    expect((await seen()).ended).toBe('complete:7');
    // Renewed on the stream (a second token, the stream reopened from its last id), never by long-polling.
    expect(requested.filter((url) => url.startsWith('/token'))).toHaveLength(2);
    expect(requested.some((url) => url.includes('/events?') && url.includes('lastEventId='))).toBe(true);
    expect(requested.some((url) => url.includes('wait='))).toBe(false);
  });
});
