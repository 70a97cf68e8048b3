import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** An event a test client received from the demo: its name and parsed data. */
export interface Received {
  event: string;
  data: unknown;
}

/** What the demo's report job returns. */
export interface ReportResult {
  url: string;
  rows: number;
  month: string;
}

const ROOT = path.resolve(__dirname, '../..');

export interface Demo {
  url: string;
  child: ChildProcess;
  output: () => string;
}

/** A demo script as a child process: its output so far, and the process. */
export interface DemoProcess {
  child: ChildProcess;
  output: () => string;
}

/** Runs `script` (e.g. `demo/redis.mjs`) with `env`; resolves once its output matches `ready`. */
export function spawnDemo(
  script: string,
  env: Record<string, string>,
  { ready, timeoutMs = 10_000 }: { ready: RegExp; timeoutMs?: number },
): Promise<DemoProcess> {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`${script} was not ready within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (): void => {
      if (!ready.test(output)) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      resolve({ child, output: () => output });
    };
    const onExit = (code: number | null): void => {
      fail(new Error(`${script} exited (${code}) before it was ready:\n${output}`));
    };
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** `node demo/server.mjs` as a child process with `env`; resolves once it prints the URL it listens on. */
export async function startDemo(env: Record<string, string>): Promise<Demo> {
  const { child, output } = await spawnDemo('demo/server.mjs', env, { ready: /^listening on http:\/\/\S+$/m });
  const url = /^listening on (http:\/\/\S+)$/m.exec(output())![1]!;
  return { url, child, output };
}

/** SIGTERM, as a user's Ctrl-C would; resolves with the exit code (SIGKILL after `killAfterMs` counts as a failure). */
export function stopDemo(child: ChildProcess, killAfterMs = 5_000): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
    child.kill('SIGTERM');
  });
}

/** Downloads the demo's report of February 2024 and checks it is the CSV the job writes: a header and 29 days. */
export async function expectFebruaryCsv(url: string, taskId: string): Promise<void> {
  const csv = await fetch(url);
  expect(csv.status).toBe(200);
  expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="${taskId}.csv"`);
  const lines = (await csv.text()).trimEnd().split('\n');
  expect(lines[0]).toBe('date,orders,revenue');
  expect(lines).toHaveLength(1 + 29);
  expect(lines[1]).toMatch(/^2024-02-01,\d+,\d+\.\d\d$/);
  expect(lines[29]).toMatch(/^2024-02-29,\d+,\d+\.\d\d$/);
}
