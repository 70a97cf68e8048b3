// WebKit: WebKitGTK's MiniBrowser (libwebkit2gtk-4.1-0) driven by WebKitWebDriver (webkit2gtk-driver) over classic
// W3C WebDriver, with a few plain HTTP requests. MiniBrowser has no headless mode, so each launch starts an Xvfb
// display of its own (Xvfb picks a free display number with -displayfd) and stops it on close. WebKitWebDriver holds
// one session at a time, so each page is a driver and a MiniBrowser of its own: pages share nothing, as a fresh
// browser context would.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './nginx';
import { callOf, pageOf, type Browser, type LaunchOptions, type Page } from './page';

/** `apt-get install -y webkit2gtk-driver` (which brings libwebkit2gtk-4.1-0 and its MiniBrowser) and `xvfb`. */
export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver';
// Debian's multiarch folder for this machine (MiniBrowser is not on the PATH).
const MULTIARCH =
  ({ x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' } as Record<string, string>)[process.arch] ??
  'x86_64-linux-gnu';
export const MINIBROWSER = process.env.MINIBROWSER_PATH ?? `/usr/lib/${MULTIARCH}/webkit2gtk-4.1/MiniBrowser`;
export const XVFB = '/usr/bin/Xvfb';

/** The key W3C WebDriver names a found element by. */
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export async function launchWebKit({ acceptInsecureCerts = false }: LaunchOptions): Promise<Browser> {
  for (const [file, install] of [
    [WEBKIT_DRIVER, 'webkit2gtk-driver'],
    [MINIBROWSER, 'webkit2gtk-driver'],
    [XVFB, 'xvfb'],
  ] as const) {
    if (!existsSync(file)) throw new Error(`${file} is missing: apt-get install -y ${install} (see DEVELOPERS.md)`);
  }
  const xvfb = await startXvfb();
  const pages = new Set<Page>();
  let version: string | undefined;
  let closing: Promise<void> | undefined;
  const browser: Browser = {
    engine: 'webkit',
    async version() {
      if (version === undefined) await (await browser.newPage()).close();
      return version!;
    },
    async newPage() {
      const driver = await startDriver(xvfb.display);
      try {
        const { sessionId, capabilities } = (await driver.send('POST', '/session', {
          capabilities: {
            alwaysMatch: {
              acceptInsecureCerts,
              'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
            },
          },
        })) as { sessionId: string; capabilities: { browserName: string; browserVersion: string } };
        version = `${capabilities.browserName} ${capabilities.browserVersion}`;
        const session = (method: string, path: string, body?: unknown): Promise<unknown> =>
          driver.send(method, `/session/${sessionId}${path}`, body);
        await session('POST', '/timeouts', { script: 30_000, pageLoad: 30_000 });
        const page = pageOf({
          goto: async (url) => {
            await session('POST', '/url', { url });
          },
          // The WebDriver spec awaits a returned promise.
          call: (source, arg) =>
            session('POST', '/execute/sync', { script: `return ${callOf(source, arg)};`, args: [] }),
          async click(selector) {
            const found = (await session('POST', '/element', { using: 'css selector', value: selector })) as {
              [ELEMENT]: string;
            };
            await session('POST', `/element/${found[ELEMENT]}/click`, {});
          },
          screenshot: async () => Buffer.from((await session('GET', '/screenshot')) as string, 'base64'),
          async close() {
            pages.delete(page);
            try {
              await session('DELETE', '');
            } finally {
              await driver.stop();
            }
          },
        });
        pages.add(page);
        return page;
      } catch (error) {
        await driver.stop();
        throw error;
      }
    },
    close: () =>
      (closing ??= (async () => {
        await Promise.allSettled([...pages].map((page) => page.close()));
        await xvfb.stop();
      })()),
  };
  return browser;
}

interface Started {
  child: ChildProcess;
  /** The last 4,000 characters it wrote on stderr. */
  output(): string;
  /** SIGTERM to the process group, SIGKILL after 3 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Each child leads a process group of its own, so that stopping it stops what it started (MiniBrowser's). */
function start(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; fd3?: boolean } = {}): Started {
  const child = spawn(file, args, {
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', ...(options.fd3 ? (['pipe'] as const) : [])],
  });
  let output = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-4000)));
  // Never what keeps the test process alive: if it exits without closing the browser, the handler below kills it.
  child.unref();
  for (const stream of child.stdio) (stream as { unref?: () => void } | null)?.unref?.();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const group = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  running.add(group);
  let stopping: Promise<void> | undefined;
  return {
    child,
    output: () => output,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          group('SIGTERM');
          const timer = setTimeout(() => group('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        group('SIGKILL'); // anything of the group left behind
        running.delete(group);
      })()),
  };
}

/** Process groups still running, killed if the test process exits without closing its browser. */
const running = new Set<(signal: NodeJS.Signals) => void>();
process.once('exit', () => running.forEach((group) => group('SIGKILL')));

async function startXvfb(): Promise<Started & { display: string }> {
  const xvfb = start(XVFB, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { fd3: true });
  const display = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('Xvfb did not report a display within 10 s')), 10_000);
    xvfb.child.stdio[3]!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const number = /^(\d+)\n/.exec(text)?.[1];
      if (number === undefined) return;
      clearTimeout(timer);
      resolve(`:${number}`);
    });
    xvfb.child.once('exit', (code) => {
      reject(new Error(`Xvfb exited (${code}) before it reported a display:\n${xvfb.output()}`));
    });
  }).catch(async (error: unknown) => {
    await xvfb.stop();
    throw error;
  });
  return { ...xvfb, display };
}

interface Driver {
  /** One WebDriver command; resolves with its `value`, rejects with the driver's error and message. */
  send(method: string, path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

async function startDriver(display: string): Promise<Driver> {
  const port = await freePort();
  const driver = start(WEBKIT_DRIVER, [`--port=${port}`], { env: { ...process.env, DISPLAY: display } });
  const base = `http://127.0.0.1:${port}`;
  const send = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Past the session's own 30 s timeouts: a driver that stopped answering fails the command.
      signal: AbortSignal.timeout(40_000),
    });
    const { value } = (await response.json()) as { value: unknown };
    if (!response.ok) {
      const { error, message } = value as { error: string; message: string };
      throw new Error(`WebKitWebDriver ${method} ${path}: ${error}: ${message}`);
    }
    return value;
  };
  for (const until = Date.now() + 10_000; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const ready = await send('GET', '/status').then(
      (status) => (status as { ready?: boolean }).ready === true,
      () => false,
    );
    if (ready) return { send, stop: driver.stop };
    if (driver.child.exitCode !== null || Date.now() > until) {
      await driver.stop();
      throw new Error(`WebKitWebDriver did not answer on port ${port} within 10 s:\n${driver.output()}`);
    }
  }
}
