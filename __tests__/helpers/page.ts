// What a browser test drives, in any engine: a `Browser` that opens `Page`s. browsers.ts launches each engine;
// pageOf() builds the whole page from the few commands an engine implements, so every engine waits, fills and reads
// alike.
import { writeFile } from 'node:fs/promises';

export type Engine = 'chromium' | 'firefox' | 'webkit';

/** A function run in the page: its source is sent, so it may use only its argument and the page's globals. */
export type PageFunction<A, R> = (arg: A) => R | Promise<R>;

/** A tab of its own, with cookies and storage of its own. Arguments and results cross as JSON. */
export interface Page {
  goto(url: string): Promise<void>;
  evaluate<R>(fn: PageFunction<undefined, R>): Promise<R>;
  evaluate<R, A>(fn: PageFunction<A, R>, arg: A): Promise<R>;
  /** Polls `fn` in the page every 50 ms until it returns something truthy; fails after `timeoutMs`. */
  waitFor<A>(fn: PageFunction<A, unknown>, arg?: A, timeoutMs?: number): Promise<void>;
  /** A real click (the engine's own input events) on the first element matching `selector`, once it is visible. */
  click(selector: string): Promise<void>;
  /** Sets an input's value and fires `input` and `change`, as playwright's `fill()` does. */
  fill(selector: string, value: string): Promise<void>;
  /** The `innerText` of the first element matching `selector`. */
  text(selector: string): Promise<string>;
  screenshot(file: string): Promise<void>;
  close(): Promise<void>;
}

export interface Browser {
  engine: Engine;
  /** The browser's name and version, as the engine reports it (`chromium 140.0.7339.185`). */
  version(): Promise<string>;
  newPage(): Promise<Page>;
  /** Closes every page, the browser, and any process started for it. Idempotent. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Accept self-signed certificates (the HTTP/2 test). */
  acceptInsecureCerts?: boolean;
}

/** The part of a page each engine implements; `pageOf()` adds the rest in terms of `call`. */
export interface PageCore {
  goto(url: string): Promise<void>;
  /** Runs `source`, a function's text, with `arg` in the page; resolves with its (awaited) result. */
  call(source: string, arg: unknown): Promise<unknown>;
  click(selector: string): Promise<void>;
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

// Run in the page, as text: this file is type-checked without the DOM.
const LOADED = `() => document.readyState === 'complete'`;
const VISIBLE = `(selector) => {
  const element = document.querySelector(selector);
  return element !== null && element.getClientRects().length > 0;
}`;
// The prototype's setter, not `input.value = …`: React tracks the value a script assigns, and would see no change.
const SET_VALUE = `({ selector, value }) => {
  const input = document.querySelector(selector);
  Object.getOwnPropertyDescriptor(Object.getPrototypeOf(input), 'value').set.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
  input.dispatchEvent(new Event('change', { bubbles: true }));
}`;
const INNER_TEXT = `(selector) => {
  const element = document.querySelector(selector);
  if (element === null) throw new Error('no element matches ' + selector);
  return element.innerText;
}`;

/** The whole page from an engine's few commands. */
export function pageOf(core: PageCore): Page {
  let closing: Promise<void> | undefined;
  const waitFor = async (source: string, arg: unknown, timeoutMs: number): Promise<void> => {
    const until = Date.now() + timeoutMs;
    while (!(await core.call(source, arg))) {
      if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${source}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const page: Page = {
    async goto(url) {
      await core.goto(url);
      // WebKitWebDriver answers a navigation at readyState `interactive`, before module scripts ran: every engine
      // waits for `complete`, as the WebDriver spec's normal page load strategy says.
      await waitFor(LOADED, undefined, 30_000);
    },
    evaluate: (fn: PageFunction<never, unknown>, arg?: unknown) => core.call(String(fn), arg),
    waitFor: (fn, arg, timeoutMs = 10_000) => waitFor(String(fn), arg, timeoutMs),
    async click(selector) {
      await waitFor(VISIBLE, selector, 10_000);
      await core.click(selector);
    },
    async fill(selector, value) {
      await core.call(SET_VALUE, { selector, value });
    },
    text: async (selector) => String(await core.call(INNER_TEXT, selector)),
    screenshot: async (file) => writeFile(file, await core.screenshot()),
    close: () => (closing ??= core.close()),
  };
  return page;
}

/** The expression that calls the function whose text is `source` with `arg` (JSON): every engine awaits it. */
export function callOf(source: string, arg: unknown): string {
  return `(${source})(${arg === undefined ? '' : JSON.stringify(arg)})`;
}
