// What each engine's own EventSource does, against a bare server (helpers/eventsource-probe.ts): how soon it
// reconnects, whether it honours `retry:`, what it does with a 204, a 502/503 or nothing listening, and how many
// streams it opens per origin over HTTP/1.1. FACTS is the table docs/browsers.md gives; this test is its evidence
// (EVENTSOURCE_TABLE=1 prints what it measured).
import { waitUntil } from '../../helpers/app';
import { ENGINES, LAUNCH_TIMEOUT_MS, launch, type Browser, type Engine, type Page } from '../../helpers/browsers';
import { startProbe, type Probe } from '../../helpers/eventsource-probe';

interface Facts {
  /** The reconnection time without a `retry:` field. */
  defaultRetryMs: number;
  /** A `retry:` below this waits this long instead. */
  minRetryMs: number;
  /** After a network error (nothing listening): keep retrying (readyState CONNECTING), or close for good. */
  onNetworkError: Record<'same-origin' | 'cross-origin', 'retries' | 'closes'>;
  /** Concurrent EventSources to one origin over HTTP/1.1 before the next one waits. */
  perOrigin: number;
  /** Each POST goes on a new connection, never on an idle one (libsoup's rule for requests not idempotent). */
  postOnNewConnection: boolean;
}

const RETRIES = { 'same-origin': 'retries', 'cross-origin': 'retries' } as const;

const FACTS: Record<Engine, Facts> = {
  chromium: { defaultRetryMs: 3000, minRetryMs: 0, onNetworkError: RETRIES, perOrigin: 6, postOnNewConnection: false },
  firefox: {
    defaultRetryMs: 5000,
    minRetryMs: 500,
    // A cross-origin (CORS) request that fails on the network fails the EventSource, as an error status would.
    onNetworkError: { 'same-origin': 'retries', 'cross-origin': 'closes' },
    perOrigin: 6,
    postOnNewConnection: false,
  },
  webkit: { defaultRetryMs: 3000, minRetryMs: 0, onNetworkError: RETRIES, perOrigin: 6, postOnNewConnection: true },
};

/** Runs in the page: `openSource(key, url)` opens an EventSource and notes each of its events with its readyState. */
function installSources(): void {
  const w = window as unknown as Sources;
  w.sources = {};
  w.events = {};
  w.openSource = (key, url) => {
    const source = new EventSource(url);
    const events: string[] = (w.events[key] = []);
    w.sources[key] = source;
    for (const type of ['open', 'message', 'error']) {
      source.addEventListener(type, () => events.push(`${type}:${source.readyState}`));
    }
  };
}
interface Sources {
  sources: Record<string, EventSource>;
  events: Record<string, string[]>;
  openSource: (key: string, url: string) => void;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] ?? NaN;
const measured: Record<string, Record<string, string>> = {};

/** A page with installSources() on `probe`'s origin, and what a test does with it. */
async function sourcesPage(browser: Browser, probe: Probe) {
  const page = await browser.newPage();
  await page.goto(`${probe.base}/page`);
  await page.evaluate(installSources);
  const open = (key: string, url: string): Promise<void> =>
    page.evaluate(([k, u]) => (window as unknown as Sources).openSource(k, u), [key, url] as [string, string]);
  return {
    page,
    open,
    events: (key: string): Promise<string[]> =>
      page.evaluate((k) => (window as unknown as Sources).events[k] ?? [], key),
    close: (key: string): Promise<void> =>
      page.evaluate((k) => (window as unknown as Sources).sources[k]!.close(), key),
    /** Something that did not happen has had its time: `key`, a stream with `retry: 50`, reconnected `times` more. */
    async marker(key: string, times: number): Promise<void> {
      await open(key, `${probe.base}/stream?key=${key}&retry=50`);
      await waitUntil(() => probe.requests(key).length > times, 20_000, `${key} to reconnect ${times} times`);
    },
  };
}

interface Reconnections {
  /** Gaps between an answer's end and the next request, by stream: `r50`, `r3000`, `none` (no `retry:`). */
  gaps: Record<'r50' | 'r3000' | 'none', number[]>;
  lastEventIds: Array<string | undefined>;
}

/** Three streams the server ends at once, followed on a page of their own until each reconnected. */
async function reconnections(browser: Browser, defaultRetryMs: number): Promise<Reconnections> {
  const probe = await startProbe();
  const { page, open, close } = await sourcesPage(browser, probe);
  try {
    await open('r50', '/stream?key=r50&retry=50');
    await open('r3000', '/stream?key=r3000&retry=3000');
    await open('none', '/stream?key=none');
    await waitUntil(
      () => probe.requests('none').length >= 2 && probe.requests('r3000').length >= 2,
      defaultRetryMs + 5000,
      'a reconnection of each stream',
    );
    await close('r50');
    return {
      gaps: { r50: probe.gaps('r50'), r3000: probe.gaps('r3000'), none: probe.gaps('none') },
      lastEventIds: probe.requests('r50').map((request) => request.lastEventId),
    };
  } finally {
    await page.close();
    await probe.close();
  }
}

describe.each(ENGINES)('EventSource in %s', (engine) => {
  const facts = FACTS[engine];
  const noted: Record<string, string> = (measured[engine] = {});
  let browser: Browser;
  /** Waiting for the engine's reconnection times (3 to 5 s) runs beside the other tests, on a page of its own; the
   * last test reads it. */
  let reconnected: Promise<Reconnections>;
  let probe: Probe;
  let page: Page;
  let open: (key: string, url: string) => Promise<void>;
  let events: (key: string) => Promise<string[]>;
  let close: (key: string) => Promise<void>;
  let marker: (key: string, times: number) => Promise<void>;

  beforeAll(async () => {
    browser = await launch(engine);
    noted.version = await browser.version();
    reconnected = reconnections(browser, facts.defaultRetryMs);
    reconnected.catch(() => {}); // the last test reports it
  }, LAUNCH_TIMEOUT_MS);
  afterAll(async () => {
    await reconnected?.catch(() => {});
    await browser?.close();
  });
  beforeEach(async () => {
    probe = await startProbe();
    ({ page, open, events, close, marker } = await sourcesPage(browser, probe));
  });
  afterEach(async () => {
    await page.close();
    await probe.close();
  });

  it('stops for good on a 204, a 502, a 503 or a 200 that is not text/event-stream: CLOSED, no request after', async () => {
    const answers = { first204: 'answer=204', then204: 'then=204', then502: 'then=502', then503: 'then=503' };
    for (const [key, query] of Object.entries({ ...answers, thenText: 'then=text' })) {
      await open(key, `/stream?key=${key}&retry=50&${query}`);
    }
    const keys = [...Object.keys(answers), 'thenText'];
    for (const key of keys) {
      await page.waitFor((k) => (window as unknown as Sources).events[k]!.includes('error:2'), key);
    }
    await marker('marker', 5);
    for (const key of keys) {
      expect([key, probe.requests(key).length]).toEqual([key, key === 'first204' ? 1 : 2]);
      expect([key, (await events(key)).at(-1)]).toEqual([key, 'error:2']);
    }
    noted['204, 502, 503, text/plain'] = 'CLOSED, no retry';
  });

  for (const origin of ['same-origin', 'cross-origin'] as const) {
    const behaviour = FACTS[engine].onNetworkError[origin];
    it(
      behaviour === 'retries'
        ? `keeps retrying a ${origin} stream every \`retry:\` ms while nothing listens, and reconnects when it is back`
        : `closes a ${origin} stream for good once a reconnection finds nothing listening`,
      async () => {
        const gone = await startProbe();
        try {
          if (origin === 'same-origin') {
            await page.goto(`${gone.base}/page`);
            await page.evaluate(installSources);
          }
          await open('gone', `${gone.base}/hold?key=gone&retry=50`);
          await waitUntil(() => gone.requests('gone').length === 1, 10_000, 'the stream');
          await page.waitFor(() => (window as unknown as Sources).events.gone!.includes('open:1'));
          await gone.stop();
          if (behaviour === 'retries') {
            await page.waitFor(() => (window as unknown as Sources).events.gone!.length >= 6);
            expect(new Set((await events('gone')).slice(1))).toEqual(new Set(['error:0']));
            await gone.listen();
            await waitUntil(() => gone.requests('gone').length === 2, 10_000, 'the stream to come back');
            await page.waitFor(() => (window as unknown as Sources).events.gone!.at(-1) === 'open:1');
            noted[`nothing listening (${origin})`] = 'retries every retry ms';
          } else {
            await page.waitFor(() => (window as unknown as Sources).events.gone!.includes('error:2'));
            expect(await events('gone')).toEqual(['open:1', 'error:0', 'error:2']);
            await gone.listen();
            await marker('marker', 5);
            expect(gone.requests('gone')).toHaveLength(1);
            noted[`nothing listening (${origin})`] = 'CLOSED after one failed reconnection';
          }
        } finally {
          await gone.close();
        }
      },
      30_000,
    );
  }

  it(`opens ${FACTS[engine].perOrigin} streams per origin over HTTP/1.1; the next one waits until one closes`, async () => {
    const keys = Array.from({ length: facts.perOrigin + 1 }, (_, i) => `hold${i}`);
    const arrived = (): number => keys.filter((key) => probe.requests(key).length > 0).length;
    for (const key of keys) await open(key, `/hold?key=${key}`);
    await waitUntil(() => arrived() >= facts.perOrigin, 10_000, `${facts.perOrigin} streams`);
    // Another origin (port) answers meanwhile: the browser was not just slow to send the last one.
    const other = await startProbe();
    try {
      await open('other', `${other.base}/hold?key=other`);
      await waitUntil(() => other.requests('other').length === 1, 10_000, 'the stream to another origin');
      expect(arrived()).toBe(facts.perOrigin);
      const waiting = keys.find((key) => probe.requests(key).length === 0)!;
      await close(keys.find((key) => key !== waiting)!);
      await waitUntil(() => probe.requests(waiting).length === 1, 10_000, 'the waiting stream');
      noted['per origin (HTTP/1.1)'] = String(facts.perOrigin);
    } finally {
      for (const key of [...keys, 'other']) await close(key);
      await other.close();
    }
  });

  it(
    FACTS[engine].postOnNewConnection
      ? 'sends each POST on a new connection, even with an idle one open'
      : 'sends POSTs on the idle connection it has',
    async () => {
      await page.evaluate(() => fetch('/post', { method: 'POST', body: '{}' }).then((r) => r.text()));
      const before = probe.connections;
      await page.evaluate(async () => {
        for (let i = 0; i < 5; i++) await fetch('/post', { method: 'POST', body: '{}' }).then((r) => r.text());
      });
      expect(probe.connections - before).toBe(facts.postOnNewConnection ? 5 : 0);
      noted['5 POSTs, one after another'] = `${probe.connections - before} new connections`;
    },
  );

  it(
    `reconnects \`retry:\` ms after the server ends the stream` +
      (facts.minRetryMs > 0 ? ` (${facts.minRetryMs} ms at least)` : '') +
      `, ${facts.defaultRetryMs} ms without one, and sends Last-Event-ID`,
    async () => {
      const { gaps, lastEventIds } = await reconnected;
      const [r3000 = NaN] = gaps.r3000;
      const [none = NaN] = gaps.none;
      Object.assign(noted, {
        'retry: 50': `${median(gaps.r50)} ms`,
        'retry: 3000': `${r3000} ms`,
        'no retry': `${none} ms`,
      });
      const floor = Math.max(50, facts.minRetryMs);
      expect(median(gaps.r50)).toBeGreaterThanOrEqual(floor - 20);
      expect(median(gaps.r50)).toBeLessThan(floor + 400);
      expect(r3000).toBeGreaterThanOrEqual(2980);
      expect(r3000).toBeLessThan(4000);
      expect(none).toBeGreaterThanOrEqual(facts.defaultRetryMs - 20);
      expect(none).toBeLessThan(facts.defaultRetryMs + 1500);
      expect(lastEventIds.slice(0, 4)).toEqual([undefined, '1', '2', '3']);
    },
    30_000,
  );
});

afterAll(() => {
  if (process.env.EVENTSOURCE_TABLE === undefined) return;
  const rows = Object.keys(Object.values(measured)[0] ?? {});
  const lines = [
    `| | ${Object.keys(measured).join(' | ')} |`,
    `| --- | ${Object.keys(measured)
      .map(() => '---')
      .join(' | ')} |`,
    ...rows.map(
      (row) =>
        `| ${row} | ${Object.values(measured)
          .map((m) => m[row] ?? '?')
          .join(' | ')} |`,
    ),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
});
