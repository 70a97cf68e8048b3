import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';

/** The Redis every test talks to; `npm test` starts the local one when it is not answering (scripts/test-setup.mjs). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test (or run) uses. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${randomUUID().slice(0, 8)}:`;
}

/** Deletes every key under `prefix` (SCAN + DEL), on a short-lived connection of its own. */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** The clients `CLIENT LIST` shows under names starting with `name`. */
export async function clientsNamed(name: string, url = REDIS_URL): Promise<string[]> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const list = (await redis.client('LIST')) as string;
    return list
      .split('\n')
      .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1])
      .filter((n): n is string => n !== undefined && n.startsWith(name));
  } finally {
    redis.disconnect();
  }
}

/** A redis-server of the test's own, on a free port, without persistence: a restart loses every key. */
export interface OwnRedis {
  port: number;
  url: string;
  /** Kills the server (SIGKILL) and waits for it to be gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and waits until it answers PING. */
  restart(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const { spawn } = await import('node:child_process');
  const net = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  let child: ReturnType<typeof spawn> | undefined;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const started = Date.now();
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
        socket.once('data', (data) => resolve(data.toString().startsWith('+PONG')));
        socket.once('error', () => resolve(false));
        socket.once('close', () => resolve(false));
        socket.setTimeout(500, () => socket.destroy());
      });
      if (ok) return;
      if (Date.now() - started > 10_000) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, restart: start };
}
