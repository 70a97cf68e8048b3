import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const FIXTURES = path.join(__dirname, '..', 'e2e', 'fixtures');

export interface Instance {
  process: ChildProcess;
  /** `http://127.0.0.1:<port>` for a web instance. */
  base: string;
  /** Sends SIGKILL and waits for the process to be gone: a crash, not a shutdown. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/** Forks `fixtures/instance.ts` (compiled on the fly from src/) with `env`, and waits for it to be ready. */
export function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = fork(path.join(FIXTURES, 'instance.ts'), [], {
    execArgv: ['--require', path.join(FIXTURES, 'register.js')],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = async (name: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(name);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance ${env.ROLE} did not start within 15 s`)), 15_000);
    child.once('exit', (code) => reject(new Error(`instance ${env.ROLE} exited with ${code} before it was ready`)));
    child.once('message', (message: { port?: number }) => {
      clearTimeout(timer);
      resolve({
        process: child,
        base: `http://127.0.0.1:${message.port ?? 0}`,
        kill: () => signal('SIGKILL', 0),
        stop: () => signal('SIGTERM', 5000),
      });
    });
  });
}
