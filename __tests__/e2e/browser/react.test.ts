// The React hooks (koa-sse-tasks/react) in every engine, with React 18 and 19, under <StrictMode>: at most one open
// stream per mounted hook once effects settle (counted at the server), closed on unmount and when the task changes,
// a burst of events whole in the final state and the `on` handlers once each, the output, sets and the owner feed,
// starting tasks (with a 400's issues), and a server render that opens nothing, hydrated without a mismatch.
import { z } from 'zod';
import { startApp, startTask, waitUntil, type TestApp } from '../../helpers/app';
import { ENGINES, LAUNCH_TIMEOUT_MS, launch, type Browser, type Page } from '../../helpers/browsers';
import { defineControlled } from '../../helpers/controlled';
import { bundleHarness, REACT_VERSIONS, type ReactVersion } from '../../helpers/react-bundle';

interface Harness {
  version: string;
  renders: Array<Record<string, unknown>>;
  ticks: number[];
  errors: string[];
}

const VERSIONS = Object.keys(REACT_VERSIONS).map(Number) as ReactVersion[];
const userOf = (ctx: { get(name: string): string }): string | undefined => ctx.get('Cookie').match(/user=(\w+)/)?.[1];

describe.each(ENGINES)('the React hooks in %s', (engine) => {
  let browser: Browser;
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  const bundles = new Map<ReactVersion, string>();
  /** The most event streams the server held at once since the last `resetMax()`. */
  let maxOpen = 0;
  let watching: NodeJS.Timeout | undefined;
  let slowPosts = false;

  beforeAll(async () => {
    const built = await Promise.all(VERSIONS.map(async (v) => [v, await bundleHarness(v)] as const));
    for (const [version, code] of built) bundles.set(version, code);
    [browser, t] = await Promise.all([
      launch(engine),
      startApp({
        runner: { concurrency: 20 },
        middleware: { retryMs: 100, owner: userOf, authorize: () => true },
        before: [
          async (ctx, next) => {
            // A POST in flight long enough for a render to show it.
            if (slowPosts && ctx.method === 'POST') await new Promise((resolve) => setTimeout(resolve, 300));
            await next();
          },
        ],
        after: [
          async (ctx, next) => {
            const bundle = /^\/react-(\d+)\.js$/.exec(ctx.path);
            if (bundle !== null) {
              ctx.type = 'text/javascript; charset=utf-8';
              ctx.body = bundles.get(Number(bundle[1]) as ReactVersion);
              return;
            }
            if (ctx.path !== '/react') {
              await next();
              return;
            }
            ctx.type = 'text/html; charset=utf-8';
            ctx.set('Set-Cookie', 'user=ada; Path=/');
            const version = new URLSearchParams(ctx.querystring).get('v');
            ctx.body = `<!doctype html><meta charset="utf-8"><div id="root"></div><script type="module" src="/react-${version}.js"></script>`;
          },
        ],
        define: (runner) => {
          controlled = defineControlled(runner);
          runner.define('checked', async () => 'ok', { input: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/) }) });
        },
      }),
    ]);
    watching = setInterval(() => (maxOpen = Math.max(maxOpen, t.tasks.openStreams)), 1);
  }, LAUNCH_TIMEOUT_MS);
  afterAll(async () => {
    clearInterval(watching);
    await browser?.close();
    await t?.close();
  });

  describe.each(VERSIONS)('React %d', (version) => {
    let page: Page;
    beforeEach(async () => {
      page = await browser.newPage();
      await page.goto(`${t.base}/react?v=${version}`);
      await page.waitFor(() => 'harness' in window);
      maxOpen = 0;
    });
    afterEach(() => page.close());

    const harness = (): Promise<Harness> => page.evaluate(() => (window as unknown as { harness: Harness }).harness);
    const latest = async (): Promise<Record<string, unknown>> => (await harness()).renders.at(-1) ?? {};
    const call = (method: string, ...args: unknown[]): Promise<unknown> =>
      page.evaluate(
        ([m, a]) => (window as unknown as { harness: Record<string, (...x: unknown[]) => unknown> }).harness[m]!(...a),
        [method, args] as [string, unknown[]],
      );
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 150));

    it('runs this React', async () => {
      expect((await harness()).version.split('.')[0]).toBe(String(version));
    });

    it('follows a task with one stream under StrictMode, whole after a burst, and closes it on unmount', async () => {
      const id = await startTask(t.base, 'controlled');
      const { job, complete } = await controlled.running(id);
      await call('mount', 'useTask', { taskId: id });
      await waitUntil(async () => (await latest()).connection === 'streaming', 10_000, 'streaming');
      await waitUntil(() => t.tasks.openStreams === 1, 5_000, 'one stream');
      await settle();
      expect(t.tasks.openStreams).toBe(1);
      // 100 events in one tick: the final state has them all, and `on` is called once for each.
      for (let n = 1; n <= 100; n++) {
        job.progress(n, `step ${n}`);
        job.emit('tick', { n });
      }
      job.write('done writing');
      await waitUntil(async () => (await latest()).progress === 100, 10_000, 'the burst');
      await waitUntil(async () => (await harness()).ticks.length >= 100, 10_000, 'the handlers');
      expect((await harness()).ticks).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(await latest()).toMatchObject({ message: 'step 100', status: 'running', connection: 'streaming' });
      await waitUntil(async () => (await latest()).output === 'done writing', 10_000, 'the output');
      expect(maxOpen).toBe(1); // the double mount never held two
      await call('unmount');
      await waitUntil(() => t.tasks.openStreams === 0, 5_000, 'the stream to close');
      complete('ok');
    });

    it('ends with the task: result, connection closed, no stream left', async () => {
      const id = await startTask(t.base, 'controlled');
      const { complete } = await controlled.running(id);
      await call('mount', 'useTask', { taskId: id });
      await waitUntil(async () => (await latest()).connection === 'streaming', 10_000, 'streaming');
      complete({ rows: 3 });
      await waitUntil(async () => (await latest()).connection === 'closed', 10_000, 'closed');
      expect(await latest()).toMatchObject({ status: 'completed', result: { rows: 3 }, progress: 100 });
      await waitUntil(() => t.tasks.openStreams === 0, 5_000, 'no stream');
      expect(maxOpen).toBe(1);
    });

    it('opens nothing for no task, and moves to a new task when the id changes (old stream closed)', async () => {
      await call('mount', 'useTask', { taskId: null });
      await settle();
      expect((await latest()).connection).toBe('closed');
      expect((await latest()).status ?? undefined).toBeUndefined();
      expect(maxOpen).toBe(0);
      const [a, b] = [await startTask(t.base, 'controlled'), await startTask(t.base, 'controlled')];
      await Promise.all([controlled.running(a), controlled.running(b)]);
      await call('update', { taskId: a });
      await waitUntil(async () => (await latest()).connection === 'streaming', 10_000, 'streaming a');
      expect(((await latest()).snapshot as { id: string }).id).toBe(a);
      await call('update', { taskId: b });
      await waitUntil(async () => ((await latest()).snapshot as { id?: string } | null)?.id === b, 10_000, 'b');
      await settle();
      expect(t.tasks.openStreams).toBe(1);
      expect(maxOpen).toBeLessThanOrEqual(2); // a and b overlap for at most the moment of the switch
      // No render ever showed a's state under b's id.
      const renders = (await harness()).renders as Array<{ snapshot?: { id: string } | null }>;
      const switched = renders.findIndex((r) => r.snapshot?.id === b);
      expect(renders.slice(switched).every((r) => r.snapshot?.id !== a)).toBe(true);
      await call('unmount');
      await waitUntil(() => t.tasks.openStreams === 0, 5_000, 'no stream');
    });

    it('follows a set on one stream, and the owner feed with tasks started later', async () => {
      const [a, b] = [await startTask(t.base, 'controlled'), await startTask(t.base, 'controlled')];
      const [jobA, jobB] = await Promise.all([controlled.running(a), controlled.running(b)]);
      await call('mount', 'useTasks', { taskIds: [a, b] });
      await waitUntil(async () => Object.keys(await latest()).length === 2, 10_000, 'both tasks');
      jobA.job.progress(40);
      jobB.job.write('b says hi');
      await waitUntil(
        async () => {
          const states = (await latest()) as Record<string, { progress: number; output: string }>;
          return states[a]?.progress === 40 && states[b]?.output === 'b says hi';
        },
        10_000,
        'their events',
      );
      expect(t.tasks.openStreams).toBe(1);
      await call('unmount');
      await waitUntil(() => t.tasks.openStreams === 0, 5_000, 'no stream');
      jobA.complete('a');
      jobB.complete('b');

      await call('mount', 'useOwnerTasks', {});
      await waitUntil(() => t.tasks.openStreams === 1, 5_000, 'the feed');
      const later = await page.evaluate(async () => {
        const response = await fetch('/tasks', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ type: 'controlled' }),
        });
        return ((await response.json()) as { id: string }).id;
      });
      await waitUntil(async () => later in (await latest()), 10_000, 'the later task');
      await call('unmount');
      (await controlled.running(later)).complete('later');
    });

    it('starts a task (keyed, pending while it posts), follows it, and gives a refusal its issues', async () => {
      await call('mount', 'useStartTask', {});
      await waitUntil(async () => (await harness()).renders.length > 0, 10_000, 'the first render');
      slowPosts = true;
      const id = (await call('start', {}).finally(() => (slowPosts = false))) as string;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      await waitUntil(
        async () => ((await latest()).task as { connection?: string } | null)?.connection === 'streaming',
        10_000,
        'the task',
      );
      const renders = (await harness()).renders as Array<{ pending: boolean }>;
      expect(renders.some((r) => r.pending)).toBe(true);
      expect((await latest()).pending).toBe(false);
      (await controlled.running(id)).complete('done');
      await waitUntil(
        async () => ((await latest()).task as { status?: string } | null)?.status === 'completed',
        10_000,
        'done',
      );
      await call('unmount');
    });

    it('gives a start the schema refuses its issues, starting nothing', async () => {
      await call('mount', 'useStartTask', { type: 'checked' });
      await waitUntil(async () => (await harness()).renders.length > 0, 10_000, 'the first render');
      expect((await call('start', { month: 'May' })) ?? undefined).toBeUndefined(); // null, in some engines' JSON
      await waitUntil(
        async () => (await latest()).error !== null && (await latest()).error !== undefined,
        10_000,
        'the error',
      );
      expect((await latest()).error).toMatchObject({
        code: 'invalid_input',
        status: 400,
        issues: [expect.objectContaining({ path: ['month'] })],
      });
      expect((await latest()).task ?? null).toBeNull();
      await call('unmount');
    });

    it('shows no hydration mismatch after a server render, which opened nothing, then one stream', async () => {
      const id = await startTask(t.base, 'controlled');
      const { complete } = await controlled.running(id);
      await call('serverRender', 'useTask', { taskId: id });
      await settle();
      expect(maxOpen).toBe(0);
      expect(await page.evaluate(() => document.getElementById('state')?.textContent)).toContain('"connecting"');
      await call('hydrate');
      await waitUntil(async () => (await latest()).connection === 'streaming', 10_000, 'streaming');
      await settle();
      expect(maxOpen).toBe(1);
      expect((await harness()).errors).toEqual([]);
      await call('unmount');
      complete('ok');
    });
  });
});
