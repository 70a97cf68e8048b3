// One way to drive a page in each browser engine, with Debian's browsers: Chromium with playwright-core (CDP),
// Firefox ESR with puppeteer-core over WebDriver BiDi, WebKitGTK's MiniBrowser through WebKitWebDriver (classic
// WebDriver, under Xvfb: see webkit.ts). The tests see only `Browser` and `Page`, so each runs in every engine.
import { existsSync } from 'node:fs';
import type { Browser as PlaywrightBrowser, Page as PlaywrightPage } from 'playwright-core';
import puppeteer, { type Browser as PuppeteerBrowser, type Page as PuppeteerPage } from 'puppeteer-core';
import { launchChromium } from './browser';
import { callOf, pageOf, type Browser, type Engine, type LaunchOptions } from './page';
import { launchWebKit } from './webkit';

export type { Browser, Engine, Page } from './page';

const ALL: readonly Engine[] = ['chromium', 'firefox', 'webkit'];

/** The engines the browser tests run in: all three, or those `BROWSERS` names (`BROWSERS=firefox,webkit`). */
export const ENGINES: readonly Engine[] = enginesFrom(process.env.BROWSERS);

/** How long a hook or test that launches a browser may take: Firefox alone takes 4 to 6 s, more on a busy machine. */
export const LAUNCH_TIMEOUT_MS = 60_000;

/** Debian's Firefox ESR (`apt-get install -y firefox-esr`); `npm test` installs it when missing, as root on Debian. */
export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

/** Launches `engine` with a fresh profile. Fails (never skips) when its browser is missing. */
export function launch(engine: Engine, options: LaunchOptions = {}): Promise<Browser> {
  if (engine === 'chromium') return launchChromiumEngine(options);
  if (engine === 'firefox') return launchFirefox(options);
  return launchWebKit(options);
}

async function launchChromiumEngine({ acceptInsecureCerts = false }: LaunchOptions): Promise<Browser> {
  const browser: PlaywrightBrowser = await launchChromium(acceptInsecureCerts ? ['--ignore-certificate-errors'] : []);
  return {
    engine: 'chromium',
    version: async () => `chromium ${browser.version()}`,
    async newPage() {
      const context = await browser.newContext();
      const page: PlaywrightPage = await context.newPage();
      return pageOf({
        goto: async (url) => {
          await page.goto(url);
        },
        call: (source, arg) => page.evaluate(callOf(source, arg)),
        click: (selector) => page.click(selector),
        screenshot: () => page.screenshot({ fullPage: true }),
        close: () => context.close(),
      });
    },
    close: () => browser.close(),
  };
}

async function launchFirefox({ acceptInsecureCerts = false }: LaunchOptions): Promise<Browser> {
  if (!existsSync(FIREFOX)) {
    throw new Error(`Firefox is not at ${FIREFOX}: apt-get install -y firefox-esr (see DEVELOPERS.md)`);
  }
  const browser: PuppeteerBrowser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    acceptInsecureCerts,
  });
  let closing: Promise<void> | undefined;
  return {
    engine: 'firefox',
    version: async () => (await browser.version()).replace('/', ' '),
    async newPage() {
      const context = await browser.createBrowserContext();
      const page: PuppeteerPage = await context.newPage();
      return pageOf({
        goto: async (url) => {
          await page.goto(url);
        },
        call: (source, arg) => page.evaluate(callOf(source, arg)),
        click: (selector) => page.click(selector),
        screenshot: async () => Buffer.from(await page.screenshot({ fullPage: true })),
        close: () => context.close(),
      });
    },
    close: () => (closing ??= browser.close()),
  };
}

function enginesFrom(list: string | undefined): readonly Engine[] {
  if (list === undefined || list.trim() === '') return ALL;
  const names = list.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !ALL.includes(name as Engine));
  if (unknown.length > 0) {
    throw new TypeError(`BROWSERS: expected a comma-separated list of ${ALL.join(', ')}, got ${JSON.stringify(list)}`);
  }
  return names as Engine[];
}
