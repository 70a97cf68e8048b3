// The demo page in every engine, as a person would use it: start, watch, download, cancel, fail, a refused month,
// ten at once, a server that restarts, and no reconnection after the end. What a page requested is read by a request log between
// the browser and the demo (helpers/request-log.ts), so every engine is watched alike.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ENGINES, LAUNCH_TIMEOUT_MS, launch, type Browser, type Engine, type Page } from '../../helpers/browsers';
import { startDemo, stopDemo, type Demo } from '../../helpers/demo';
import { startRequestLog } from '../../helpers/request-log';

/**
 * The demo's own pace, long enough that the page's stream is open before the job leaves its first step: WebKit,
 * under Xvfb on two busy cores, took up to 470 ms from the POST's fetch() to its stream's request (300 ms, the
 * figure here before, lost the first step now and then).
 */
const STEP_MS = 700;
/** For the tests that need no time to watch a step: ten reports, a failure. */
const FAST_STEP_MS = 100;
/** A summary takes about 80 words × this: long enough to reload the page in the middle of it. */
const WORD_MS = 60;
const QUIET_MS = 10_000;

let demo: Demo;
let fast: Demo;
let reportsDir: string;

interface Quiet {
  taskRequests: string[];
  feedRequests: string[];
  error?: unknown;
}
/** Each engine's browser, launched once for the file. */
const browsers = new Map<Engine, Promise<Browser>>();
/**
 * Each engine's quiet check (after `complete`, 10 s without a request to the events URL), started with the file so
 * that the three engines' 10 s pass together, beside the other tests.
 */
const quiet = new Map<Engine, Promise<Quiet>>();

beforeAll(async () => {
  reportsDir = await mkdtemp(path.join(tmpdir(), 'browser-reports-'));
  const env = (ms: number) => ({
    PORT: '0',
    DEMO_STEP_MS: String(ms),
    DEMO_WORD_MS: String(WORD_MS),
    REPORTS_DIR: reportsDir,
  });
  [demo, fast] = await Promise.all([startDemo(env(STEP_MS)), startDemo(env(FAST_STEP_MS))]);
  for (const engine of ENGINES) {
    const browser = launch(engine);
    browsers.set(engine, browser);
    const failed = (error: unknown): Quiet => ({ taskRequests: [], feedRequests: [], error });
    quiet.set(engine, browser.then(watchQuietAfterComplete).catch(failed));
  }
  await Promise.allSettled(browsers.values());
}, LAUNCH_TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled(quiet.values());
  await Promise.allSettled([...browsers.values()].map(async (browser) => (await browser).close()));
  await Promise.all([demo, fast].filter((d) => d !== undefined).map((d) => stopDemo(d.child)));
  await rm(reportsDir, { recursive: true, force: true });
});

// These run in the page.
const text = (selector: string): string => document.querySelector<HTMLElement>(selector)?.innerText ?? '';
const exists = (selector: string): boolean => document.querySelector(selector) !== null;

async function openDemo(browser: Browser, url = demo.url): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  return page;
}

async function watchQuietAfterComplete(browser: Browser): Promise<Quiet> {
  const log = await startRequestLog(demo.url);
  const page = await openDemo(browser, log.base);
  try {
    await page.click('#generate');
    await page.waitFor(
      () => /completed/i.test((document.querySelector('#badge') as HTMLElement).innerText),
      undefined,
      15_000,
    );
    const completedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const after = log.requests.filter((r) => r.at >= completedAt).map((r) => new URL(r.url, demo.url).pathname);
    return {
      taskRequests: after.filter((url) => /^\/tasks\/[^/]+\/events$/.test(url)),
      feedRequests: after.filter((url) => url === '/tasks/events'),
    };
  } finally {
    await page.close();
    await log.close();
  }
}

describe.each(ENGINES)('the demo in %s', (engine) => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await browsers.get(engine)!;
  });
  const open = (url?: string): Promise<Page> => openDemo(browser, url);

  test('a report: the bar advances through every step, the link appears on complete, the file is served', async () => {
    const page = await open();
    try {
      await page.evaluate(() => {
        const seen: number[] = [];
        (window as unknown as { seen: number[] }).seen = seen;
        const bar = document.getElementById('progress')!;
        new MutationObserver(() => seen.push(Number(bar.getAttribute('aria-valuenow')))).observe(bar, {
          attributes: true,
          attributeFilter: ['aria-valuenow'],
        });
      });
      await page.fill('#month', '2024-02');
      await page.click('#generate');
      await page.waitFor(exists, '#download[href$=".csv"]', 15_000);
      const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen);
      const distinct = seen.filter((v, i) => v !== seen[i - 1]);
      expect(distinct).toEqual([...distinct].sort((a, b) => a - b));
      expect(distinct.length).toBeGreaterThanOrEqual(8);
      expect(distinct.at(-1)).toBe(100);
      expect(
        await page.evaluate(() =>
          Array.from(document.querySelectorAll<HTMLElement>('#steps li'), (li) => li.innerText),
        ),
      ).toEqual(['Querying sales', 'Aggregating', 'Rendering CSV', 'Writing file']);
      expect(await page.evaluate(() => document.querySelectorAll('#steps li.done').length)).toBe(4);
      expect(await page.evaluate(text, '#badge')).toMatch(/completed/i);
      expect(await page.evaluate(text, '#status')).toBe('Report ready: 29 rows.');

      // The link, fetched by the page: what a click on it downloads (a download itself is not something every
      // engine's driver can watch).
      const link = await page.evaluate(async () => {
        const a = document.querySelector<HTMLAnchorElement>('#download')!;
        const response = await fetch(a.href);
        return {
          download: a.hasAttribute('download'),
          status: response.status,
          disposition: response.headers.get('content-disposition') ?? '',
          csv: await response.text(),
        };
      });
      expect(link).toMatchObject({ download: true, status: 200 });
      const file = /^attachment; filename="([^"]+\.csv)"$/.exec(link.disposition)?.[1];
      expect(file).toBeDefined();
      const lines = link.csv.trimEnd().split('\n');
      expect(lines[0]).toBe('date,orders,revenue');
      expect(lines).toHaveLength(1 + 29);
      expect(lines[1]).toMatch(/^2024-02-01,\d+,\d+\.\d\d$/);
      expect(link.csv).toBe(await readFile(path.join(reportsDir, file!), 'utf8'));
      // The job's output: one log line per day aggregated, as the log panel shows it.
      const log = await page.evaluate(() => document.getElementById('log')?.textContent ?? '');
      expect(log.trimEnd().split('\n')).toHaveLength(29);
      expect(log).toMatch(/^2024-02-01: \d+ orders, \$\d+\.\d\d\n/);
      expect(await page.evaluate(() => document.getElementById('log-count')?.textContent)).toBe('(29 lines)');
    } finally {
      await page.close();
    }
  });

  test('a summary is written word by word; a reload mid-way shows the same text, then all of it, nothing doubled', async () => {
    const page = await open();
    const shown = (): Promise<string> => page.evaluate(() => document.getElementById('text')?.textContent ?? '');
    try {
      await page.fill('#month', '2024-03');
      await page.click('#summarize');
      await page.waitFor(
        () => (document.getElementById('text')?.textContent ?? '').split(' ').length >= 5,
        undefined,
        15_000,
      );
      const before = await shown();
      // A reload: the page finds its task in the URL hash and follows it again, from the whole text so far.
      const url = await page.evaluate(() => location.href);
      await page.goto('about:blank');
      await page.goto(url);
      await page.waitFor(
        (known) => (document.getElementById('text')?.textContent ?? '').length >= known.length,
        before,
        15_000,
      );
      expect((await shown()).startsWith(before)).toBe(true);
      await page.waitFor(
        (want) => document.getElementById('status')?.textContent?.includes(want),
        'Summary written',
        20_000,
      );
      const all = await shown();
      const id = new URLSearchParams(new URL(url).hash.slice(1)).get('task')!;
      expect(all).toBe(await (await fetch(`${demo.url}/tasks/${id}/output`)).text());
      expect(all).toMatch(/^In March 2024 the store took [\d,]+ orders worth \$[\d,.]+,/);
      expect(all).toMatch(/grow the month\.$/);
      expect(all.split('In March 2024')).toHaveLength(2);
      expect(await page.evaluate(text, '#status')).toBe(`Summary written: ${all.split(' ').length} words.`);
    } finally {
      await page.close();
    }
  });

  test('the React page (/react) starts a report and follows it, its log and "My reports" with the hooks', async () => {
    const page = await open(`${fast.url}/react`);
    try {
      await page.waitFor(exists, '#generate');
      await page.fill('#month', '2024-02');
      await page.click('#generate');
      await page.waitFor(
        (want) => document.querySelector('#status')?.textContent === want,
        'Report ready: 29 rows.',
        15_000,
      );
      expect(await page.evaluate(() => document.getElementById('log')?.textContent?.trimEnd().split('\n').length)).toBe(
        29,
      );
      expect(await page.evaluate(() => document.querySelector('#download')?.getAttribute('href'))).toMatch(/\.csv$/);
      await page.waitFor(() => document.querySelector('#mine-list li[data-status="completed"]') !== null);
      // A month the schema refuses: its message next to the field, no report.
      await page.fill('#month', '');
      await page.click('#generate');
      await page.waitFor(() => document.getElementById('month-error')?.hidden === false);
      expect(await page.evaluate(text, '#month-error')).toBe('Choose a month');
    } finally {
      await page.close();
    }
  });

  test('cancelling a running report shows it cancelled', async () => {
    const page = await open();
    try {
      await page.click('#generate');
      await page.waitFor(exists, '#steps li');
      await page.click('#cancel');
      await page.waitFor(() => (document.querySelector('#status') as HTMLElement).innerText.includes('Cancelled.'));
      expect(await page.evaluate(text, '#status')).toBe('Cancelled. No file was written.');
      expect(await page.evaluate(text, '#badge')).toMatch(/cancelled/i);
    } finally {
      await page.close();
    }
  });

  test('a report whose job fails shows the reason', async () => {
    const page = await open(fast.url);
    try {
      await page.click('#fail');
      expect(await page.evaluate(() => (document.querySelector('#fail') as HTMLInputElement).checked)).toBe(true);
      await page.click('#generate');
      await page.waitFor(exists, '#status[data-tone="error"]');
      expect(await page.evaluate(text, '#status')).toBe(
        'Failed: Simulated failure: the sales database stopped answering while aggregating',
      );
    } finally {
      await page.close();
    }
  });

  test('a month the server refuses shows its message next to the field, and starts no report', async () => {
    const log = await startRequestLog(fast.url);
    const page = await open(log.base);
    const posts = (): string[] => log.requests.filter((r) => r.method === 'POST').map((r) => r.url);
    try {
      await page.fill('#month', '');
      await page.click('#generate');
      await page.waitFor(() => {
        const error = document.getElementById('month-error');
        return error !== null && !error.hidden && error.getClientRects().length > 0;
      });
      expect(await page.evaluate(text, '#month-error')).toBe('Choose a month');
      expect(await page.evaluate(() => document.getElementById('month')?.getAttribute('aria-invalid'))).toBe('true');
      expect(await page.evaluate(() => (document.getElementById('task') as HTMLElement).hidden)).toBe(true);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('month');
      expect(posts()).toEqual(['/tasks']);
      // Corrected, it starts, and the message goes.
      await page.fill('#month', '2024-02');
      await page.click('#generate');
      await page.waitFor(
        () => /completed/i.test((document.querySelector('#badge') as HTMLElement).innerText),
        undefined,
        15_000,
      );
      expect(await page.evaluate(() => (document.getElementById('month-error') as HTMLElement).hidden)).toBe(true);
      expect(await page.evaluate(() => document.getElementById('month')?.getAttribute('aria-invalid'))).toBeNull();
      expect(posts()).toEqual(['/tasks', '/tasks']);
    } finally {
      await page.close();
      await log.close();
    }
  });

  test('ten reports on one page over HTTP/1.1: "My reports" follows them on one stream and all complete', async () => {
    const log = await startRequestLog(fast.url);
    const page = await open(log.base);
    try {
      await page.evaluate(async () => {
        for (let i = 1; i <= 10; i++) {
          const month = `2023-${String(i).padStart(2, '0')}`;
          await fetch('/tasks', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ type: 'report', input: { month } }),
          });
        }
      });
      await page.waitFor(
        () => document.querySelectorAll('#mine-list li[data-status="completed"]').length === 10,
        undefined,
        20_000,
      );
      expect(await page.evaluate(() => document.querySelectorAll('#mine-list li').length)).toBe(10);
      expect(log.requests.filter((r) => r.url.includes('/events')).map((r) => r.url)).toEqual(['/tasks/events']);
      const protocol = await page.evaluate(
        () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
      );
      expect(protocol).toBe('http/1.1');
    } finally {
      await page.close();
      await log.close();
    }
  });

  test('a server stopped and restarted mid-job (memory store) makes the page say the task is gone', async () => {
    const own = await startDemo({ PORT: '0', DEMO_STEP_MS: '2000', REPORTS_DIR: reportsDir });
    const page = await open(own.url);
    let again: Demo | undefined;
    try {
      await page.click('#generate');
      await page.waitFor(exists, '#steps li');
      own.child.kill('SIGKILL');
      await new Promise((resolve) => own.child.once('exit', resolve));
      again = await startDemo({ PORT: new URL(own.url).port, DEMO_STEP_MS: '2000', REPORTS_DIR: reportsDir });
      await page.waitFor(exists, '#status[data-tone="error"]', 20_000);
      expect(await page.evaluate(text, '#status')).toBe(
        'This task no longer exists on the server: it expired, or the server restarted.',
      );
      expect(await page.evaluate(() => document.querySelector<HTMLElement>('#cancel')!.hidden)).toBe(true);
    } finally {
      await page.close();
      if (again !== undefined) await stopDemo(again.child);
    }
  });

  test('after complete, the page makes no request to the events URL for 10 s', async () => {
    const { taskRequests, feedRequests, error } = await quiet.get(engine)!;
    expect(error).toBeUndefined();
    expect(taskRequests).toEqual([]);
    expect(feedRequests).toEqual([]);
  }, 30_000);
});
