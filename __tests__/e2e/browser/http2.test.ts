// HTTP/2 with TLS, as deployed: http2.createSecureServer({ allowHTTP1: true }) with a self-signed certificate made
// by openssl, followed by node's http2 client and by each browser engine, many streams on one connection.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { createParser } from 'eventsource-parser';
import { sseTasks, TaskRunner } from '../../../src';
import { ENGINES, LAUNCH_TIMEOUT_MS, launch } from '../../helpers/browsers';
import { clientPage } from '../../helpers/client-page';
import { http2Request } from '../../helpers/http2';
import { defineControlled } from '../../helpers/controlled';

const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'];

describe('over HTTP/2 with TLS (createSecureServer, allowHTTP1)', () => {
  let dir: string;
  let cert: Buffer;
  let server: http2.Http2SecureServer;
  let base: string;
  let runner: TaskRunner;
  let controlled: ReturnType<typeof defineControlled>;
  let sessions = 0;
  /** The HTTP/2 session of each event-stream request (`undefined`: one that came over HTTP/1.1). */
  const streamSessions: Array<http2.Http2Session | undefined> = [];
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
  let setHeader: jest.SpyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'h2-cert-'));
    const [key, crt] = [path.join(dir, 'k'), path.join(dir, 'c')];
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt],
        ...['-days', '1', '-subj', '/CN=localhost'],
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(crt);
    process.on('warning', onWarning);
    setHeader = jest.spyOn(http2.Http2ServerResponse.prototype, 'setHeader');
    runner = new TaskRunner({ concurrency: 20 });
    controlled = defineControlled(runner);
    const app = new Koa();
    app.silent = true;
    app.use(async (ctx, next) => {
      // Under http2.createSecureServer, ctx.req is an Http2ServerRequest (with its stream) or, over HTTP/1.1, not.
      const { stream } = ctx.req as unknown as { stream?: http2.Http2Stream };
      if (ctx.path.endsWith('/events')) streamSessions.push(stream?.session);
      await next();
    });
    app.use(sseTasks({ runner }));
    app.use(clientPage);
    server = http2.createSecureServer({ allowHTTP1: true, key: readFileSync(key), cert }, app.callback());
    server.on('session', () => sessions++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    setHeader.mockRestore();
    process.off('warning', onWarning);
    await new Promise((resolve) => server.close(resolve));
    await runner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function expectNoConnectionHeaders(): void {
    const named = setHeader.mock.calls.map(([name]) => String(name).toLowerCase());
    expect(named).toContain('content-type');
    expect(named.filter((name) => CONNECTION_SPECIFIC.includes(name))).toEqual([]);
    expect(warnings).toEqual([]);
  }

  it("serves node's http2 client: a task stream and a multiplexed stream side by side on one connection", async () => {
    sessions = 0;
    const client = http2.connect(base, { ca: cert, checkServerIdentity: () => undefined });
    const request = (headers: http2.OutgoingHttpHeaders, body?: string) => http2Request(client, headers, body);
    try {
      const post = () =>
        request({ ':method': 'POST', ':path': '/tasks', 'content-type': 'application/json' }, '{"type":"controlled"}');
      const ids = [(await post()).body, (await post()).body].map((b) => (JSON.parse(b) as { id: string }).id);
      const jobs = await Promise.all(ids.map((id) => controlled.running(id)));
      const single = request({ ':path': `/tasks/${ids[0]}/events` });
      const set = request({ ':path': `/tasks/events?ids=${ids.join(',')}` });
      await new Promise((r) => setTimeout(r, 100));
      jobs[0]!.job.progress(50);
      jobs.forEach((running) => running.complete('ok'));
      const responses = await Promise.all([single, set]);
      const names = responses.map((response) => {
        expect(response.headers[':status']).toBe(200);
        expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
        for (const name of CONNECTION_SPECIFIC) expect(response.headers[name]).toBeUndefined();
        const events: string[] = [];
        createParser({ onEvent: (e) => events.push(e.event ?? 'message') }).feed(response.body);
        return events;
      });
      expect(names[0]).toEqual(['status', 'progress', 'complete']);
      expect(names[1]!.filter((n) => n === 'complete')).toHaveLength(2);
      expect(sessions).toBe(1);
      expectNoConnectionHeaders();
    } finally {
      client.close();
    }
  });

  it.each(ENGINES)(
    'serves %s over h2: ten EventSources on one page share a connection, all complete',
    async (engine) => {
      // The certificate is self-signed: each engine is told to accept it (DEVELOPERS.md says how).
      const browser = await launch(engine, { acceptInsecureCerts: true });
      try {
        const page = await browser.newPage();
        streamSessions.length = 0;
        await page.goto(`${base}/page`);
        await page.waitFor(() => 'client' in window);
        const protocol = await page.evaluate(
          () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
        );
        expect(protocol).toBe('h2');
        const ids = await page.evaluate(async () => {
          const started = await Promise.all(
            Array.from({ length: 10 }, () =>
              fetch('/tasks', {
                method: 'POST',
                headers: { 'Content-Type': 'application/json' },
                body: '{"type":"controlled"}',
              }),
            ),
          );
          return Promise.all(started.map(async (r) => ((await r.json()) as { id: string }).id));
        });
        const jobs = await Promise.all(ids.map((id) => controlled.running(id)));
        await page.evaluate((taskIds) => {
          type Client = { watchTask: (url: string, handlers: Record<string, (d: unknown) => void>) => void };
          const w = window as unknown as { client: Client; done: string[]; statuses: number };
          w.done = [];
          w.statuses = 0;
          for (const id of taskIds) {
            // One EventSource per task: over HTTP/1.1 the seventh would wait for a free connection.
            w.client.watchTask(`/tasks/${id}/events`, {
              onStatus: () => w.statuses++,
              onComplete: () => w.done.push(id),
            });
          }
        }, ids);
        await page.waitFor(() => (window as unknown as { statuses: number }).statuses === 10);
        jobs.forEach((running) => running.complete('ok'));
        await page.waitFor(() => (window as unknown as { done: string[] }).done.length === 10);
        // One connection for the ten streams. Not for the whole page: WebKit (libsoup) sends each POST on a new
        // connection (docs/browsers.md), and the engines' own requests (a favicon...) may take one more.
        expect(streamSessions).toHaveLength(10);
        expect(streamSessions[0]).toBeDefined();
        expect(new Set(streamSessions).size).toBe(1);
        expectNoConnectionHeaders();
      } finally {
        await browser.close();
      }
    },
    LAUNCH_TIMEOUT_MS,
  );
});
