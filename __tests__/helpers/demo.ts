import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export interface Demo {
  url: string;
  child: ChildProcess;
  output: () => string;
}

/** `node demo/server.mjs` as a child process with `env`; resolves once it prints the URL it listens on. */
export function startDemo(env: Record<string, string>): Promise<Demo> {
  const child = spawn(process.execPath, ['demo/server.mjs'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('the demo did not start within 10 s')), 10_000);
    const onData = (): void => {
      const match = /^listening on (http:\/\/\S+)$/m.exec(output);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      resolve({ url: match[1], child, output: () => output });
    };
    const onExit = (code: number | null): void => {
      fail(new Error(`the demo exited (${code}) before listening:\n${output}`));
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

/** SIGTERM, as a user's Ctrl-C would; resolves with the exit code (SIGKILL after 5 s counts as a failure). */
export function stopDemo(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
    child.kill('SIGTERM');
  });
}
