// The demo page in headless Chromium, as a person would use it: start, watch, download, cancel, fail, a refused
// month, ten at once, a server that restarts, and no reconnection after the end.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../helpers/browser';
import { startDemo, stopDemo, type Demo } from '../../helpers/demo';

/** Long enough that the page's stream is open before the job leaves its first step. */
const STEP_MS = 300;
const QUIET_MS = 10_000;

let browser: Browser;
let demo: Demo;
let reportsDir: string;
/** Runs beside the other tests: after `complete`, 10 s without a request to the events URL. */
let quiet: Promise<{ taskRequests: string[]; feedRequests: string[]; error?: unknown }>;

beforeAll(async () => {
  reportsDir = await mkdtemp(path.join(tmpdir(), 'browser-reports-'));
  [browser, demo] = await Promise.all([
    launchChromium(),
    startDemo({ PORT: '0', DEMO_STEP_MS: String(STEP_MS), REPORTS_DIR: reportsDir }),
  ]);
  quiet = watchQuietAfterComplete().catch((error: unknown) => ({ taskRequests: [], feedRequests: [], error }));
});

afterAll(async () => {
  await browser?.close();
  if (demo !== undefined) await stopDemo(demo.child);
  await rm(reportsDir, { recursive: true, force: true });
});

async function openDemo(url = demo.url): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

async function watchQuietAfterComplete(): Promise<{ taskRequests: string[]; feedRequests: string[] }> {
  const page = await openDemo();
  const requests: Array<{ url: string; at: number }> = [];
  page.on('request', (request) => requests.push({ url: new URL(request.url()).pathname, at: Date.now() }));
  await page.click('#generate');
  await page.locator('#badge', { hasText: 'completed' }).waitFor({ timeout: 15_000 });
  const completedAt = Date.now();
  await page.waitForTimeout(QUIET_MS);
  const after = requests.filter((r) => r.at >= completedAt).map((r) => r.url);
  await page.context().close();
  return {
    taskRequests: after.filter((url) => /^\/tasks\/[^/]+\/events$/.test(url)),
    feedRequests: after.filter((url) => url === '/tasks/events'),
  };
}

test('a report: the bar advances through every step, the link appears on complete, the file downloads', async () => {
  const page = await openDemo();
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
  await page.locator('#download').waitFor({ timeout: 15_000 });
  const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen);
  const distinct = seen.filter((v, i) => v !== seen[i - 1]);
  expect(distinct).toEqual([...distinct].sort((a, b) => a - b));
  expect(distinct.length).toBeGreaterThanOrEqual(8);
  expect(distinct.at(-1)).toBe(100);
  expect(await page.locator('#steps li').allInnerTexts()).toEqual([
    'Querying sales',
    'Aggregating',
    'Rendering CSV',
    'Writing file',
  ]);
  expect(await page.locator('#steps li.done').count()).toBe(4);
  expect(await page.locator('#badge').innerText()).toMatch(/completed/i);
  expect(await page.locator('#status').innerText()).toBe('Report ready: 29 rows.');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const csv = await readFile(await download.path(), 'utf8');
  const lines = csv.trimEnd().split('\n');
  expect(lines[0]).toBe('date,orders,revenue');
  expect(lines).toHaveLength(1 + 29);
  expect(lines[1]).toMatch(/^2024-02-01,\d+,\d+\.\d\d$/);
  expect(csv).toBe(await readFile(path.join(reportsDir, download.suggestedFilename()), 'utf8'));
  await page.context().close();
});

test('cancelling a running report shows it cancelled', async () => {
  const page = await openDemo();
  await page.click('#generate');
  await page.locator('#steps li').first().waitFor();
  await page.click('#cancel');
  await page.locator('#status', { hasText: 'Cancelled. No file was written.' }).waitFor({ timeout: 10_000 });
  expect(await page.locator('#badge').innerText()).toMatch(/cancelled/i);
  await page.context().close();
});

test('a report whose job fails shows the reason', async () => {
  const page = await openDemo();
  await page.check('#fail');
  await page.click('#generate');
  const status = page.locator('#status[data-tone="error"]');
  await status.waitFor({ timeout: 10_000 });
  expect(await status.innerText()).toBe(
    'Failed: Simulated failure: the sales database stopped answering while aggregating',
  );
  await page.context().close();
});

test('a month the server refuses shows its message next to the field, and starts no report', async () => {
  const page = await openDemo();
  const posts: number[] = [];
  page.on('response', (response) => {
    if (response.request().method() === 'POST') posts.push(response.status());
  });
  await page.fill('#month', '');
  await page.click('#generate');
  const error = page.locator('#month-error');
  await error.waitFor({ state: 'visible', timeout: 10_000 });
  expect(await error.innerText()).toBe('Choose a month');
  expect(await page.getAttribute('#month', 'aria-invalid')).toBe('true');
  expect(await page.locator('#task').isHidden()).toBe(true);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('month');
  expect(posts).toEqual([400]);
  // Corrected, it starts, and the message goes.
  await page.fill('#month', '2024-02');
  await page.click('#generate');
  await page.locator('#badge', { hasText: 'completed' }).waitFor({ timeout: 15_000 });
  expect(await error.isHidden()).toBe(true);
  expect(await page.getAttribute('#month', 'aria-invalid')).toBeNull();
  expect(posts).toEqual([400, 202]);
  await page.context().close();
});

test('ten reports on one page over HTTP/1.1: "My reports" follows them on one stream and all complete', async () => {
  const page = await (await browser.newContext()).newPage();
  const events: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/events')) events.push(new URL(request.url()).pathname);
  });
  await page.goto(demo.url);
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
  await page.waitForFunction(
    () => document.querySelectorAll('#mine-list li[data-status="completed"]').length === 10,
    null,
    { timeout: 20_000 },
  );
  expect(await page.locator('#mine-list li').count()).toBe(10);
  expect(events).toEqual(['/tasks/events']); // the page's one stream, opened on load
  const protocol = await page.evaluate(
    () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
  );
  expect(protocol).toBe('http/1.1');
  await page.context().close();
});

test('a server stopped and restarted mid-job (memory store) makes the page say the task is gone', async () => {
  const own = await startDemo({ PORT: '0', DEMO_STEP_MS: '2000', REPORTS_DIR: reportsDir });
  const page = await openDemo(own.url);
  await page.click('#generate');
  await page.locator('#steps li').first().waitFor();
  own.child.kill('SIGKILL');
  await new Promise((resolve) => own.child.once('exit', resolve));
  const again = await startDemo({ PORT: new URL(own.url).port, DEMO_STEP_MS: '2000', REPORTS_DIR: reportsDir });
  try {
    const status = page.locator('#status[data-tone="error"]');
    await status.waitFor({ timeout: 20_000 });
    expect(await status.innerText()).toBe(
      'This task no longer exists on the server: it expired, or the server restarted.',
    );
    expect(await page.locator('#cancel').isHidden()).toBe(true);
  } finally {
    await page.context().close();
    await stopDemo(again.child);
  }
});

test('after complete, the page makes no request to the events URL for 10 s', async () => {
  const { taskRequests, feedRequests, error } = await quiet;
  expect(error).toBeUndefined();
  expect(taskRequests).toEqual([]);
  expect(feedRequests).toEqual([]);
}, 30_000);
