import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL every test talks to (trust auth on 127.0.0.1); `npm test` starts the machine's cluster when it is
 * not answering (scripts/test-setup.mjs). Each test works in a schema of its own.
 */
export const PG_URL = process.env.PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

/** A schema name no other test (or run) uses. */
export function uniqueSchema(name: string): string {
  return `t_${name.replace(/[^a-z0-9]/g, '_')}_${randomUUID().slice(0, 8)}`;
}

/** Drops the schemas and everything in them, on a short-lived connection of its own. */
export async function dropSchemas(schemas: readonly string[], url = PG_URL): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs one query on a short-lived connection of its own. */
export async function queryOnce<R extends pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
  url = PG_URL,
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** The PostgreSQL binaries of the machine's version (Debian keeps them off the PATH). */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** A PostgreSQL server of the test's own: its own data directory and port, never the machine's shared one. */
export interface OwnPostgres {
  port: number;
  url: string;
  /** Stops the server at once (SIGQUIT: an immediate shutdown, a crash to its clients) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory, and waits until it answers a query. */
  restart(): Promise<void>;
  /** Kills it and deletes its data directory. */
  destroy(): Promise<void>;
}

/**
 * `initdb` into a temporary directory (as the `postgres` user when the test runs as root: PostgreSQL refuses to run
 * as root), then `postgres` on a free loopback port, trust authentication, superuser `root`, database `postgres`.
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const { spawn, execFileSync } = await import('node:child_process');
  const { mkdtempSync, rmSync, chownSync, readFileSync } = await import('node:fs');
  const { tmpdir, userInfo } = await import('node:os');
  const path = await import('node:path');
  const net = await import('node:net');
  const asRoot = userInfo().uid === 0;
  const as = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const dir = mkdtempSync(path.join(tmpdir(), 'koa-sse-tasks-pg-'));
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), 0);
  const data = path.join(dir, 'data');
  execFileSync(
    ...as(path.join(PG_BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'root', '--no-sync', '-E', 'UTF8']),
    {
      stdio: 'ignore',
    },
  );
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const url = `postgres://root@127.0.0.1:${port}/postgres`;
  let child: ReturnType<typeof spawn> | undefined;
  const start = async (): Promise<void> => {
    const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    child = spawn(...as(path.join(PG_BIN, 'postgres'), args), { stdio: 'ignore' });
    const started = Date.now();
    for (;;) {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => {});
      const ok = await client.connect().then(
        () => client.query('SELECT 1').then(() => true),
        () => false,
      );
      await client.end().catch(() => {});
      if (ok) return;
      if (Date.now() - started > 20_000) throw new Error(`postgres did not start on port ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    // The postmaster itself (runuser does not pass SIGQUIT on), whose SIGQUIT ends its backends too.
    const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGQUIT');
    await exited;
  };
  await start();
  return {
    port,
    url,
    kill,
    restart: start,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
