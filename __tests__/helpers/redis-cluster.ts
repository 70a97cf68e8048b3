import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster, type ClusterOptions } from 'ioredis';

const run = promisify(execFile);

/** A Redis Cluster of the test's own: masters on loopback ports, without persistence, in a temporary directory. */
export interface OwnCluster {
  /** The masters' ports (at the start: a failover promotes a replica). */
  ports: number[];
  /** The replicas' ports. */
  replicas: number[];
  /** The startup nodes, for `new Cluster()`. */
  nodes: Array<{ host: string; port: number }>;
  /** A cluster client that connects on its first command (for `RedisStore({ client })`, which duplicates it). */
  client(options?: ClusterOptions): Cluster;
  /** The hash slot of a key (CLUSTER KEYSLOT). */
  slotOf(key: string): Promise<number>;
  /** The port of the master serving `slot`. */
  ownerOf(slot: number): Promise<number>;
  /**
   * Moves one slot, keys and all, to the master on port `to`, by hand as `redis-cli --cluster reshard` does:
   * SETSLOT IMPORTING / MIGRATING, MIGRATE of its keys, then SETSLOT NODE on every master.
   */
  moveSlot(slot: number, to: number): Promise<void>;
  /** The names of the clients connected to the master on `port` (CLIENT LIST). */
  clientsOn(port: number): Promise<string[]>;
  /** Kills one server (SIGKILL, by PID), as a crashed master. */
  kill(port: number): Promise<void>;
  /** Waits until `cluster info` says cluster_state:ok on every server still running. */
  untilOk(): Promise<void>;
  /** Kills every server (SIGKILL, by PID) and deletes the directory. */
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-servers with `--cluster-enabled yes` (and `replicas` replicas of each), joins them, and
 * waits for `cluster_state:ok` on all.
 */
export async function startRedisCluster(masters = 3, replicas = 0): Promise<OwnCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sse-tasks-cluster-'));
  const children: ChildProcess[] = [];
  const byPort = new Map<number, ChildProcess>();
  const all: number[] = [];
  const servers = masters * (1 + replicas);
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(killed));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    while (all.length < servers) {
      const port = await freeClusterPort(all);
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'],
          ...['--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'],
          ...['--save', '', '--appendonly', 'no', '--dir', dir],
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
      if (await answers(port, child)) {
        all.push(port);
        byPort.set(port, child);
      }
    }
    const addresses = all.map((port) => `127.0.0.1:${port}`);
    const create = ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'];
    await run('redis-cli', create, { timeout: 30_000 });
    for (const port of all) await untilClusterOk(port);
  } catch (error) {
    await stop();
    throw error;
  }
  const roles = await Promise.all(
    all.map(async (port) => (await run('redis-cli', ['-p', String(port), 'role'])).stdout),
  );
  const ports = all.filter((_, i) => roles[i]!.startsWith('master'));
  // A replica that never synced cannot be promoted: wait for every replica's first sync.
  for (const port of all.filter((p) => !ports.includes(p))) await untilSynced(port);
  const nodes = all.map((port) => ({ host: '127.0.0.1', port }));
  const running = (): number[] =>
    all.filter((port) => byPort.get(port)?.exitCode === null && !byPort.get(port)?.signalCode);
  const admin = (port: number): Redis =>
    new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }).on('error', () => {});
  const withAdmin = async <T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T> => {
    const redis = admin(port);
    try {
      return await use(redis);
    } finally {
      redis.disconnect();
    }
  };
  const ids = new Map<number, string>();
  for (const port of ports) ids.set(port, await withAdmin(port, (redis) => redis.cluster('MYID')));
  const ownerOf = (slot: number): Promise<number> =>
    withAdmin(ports[0]!, async (redis) => {
      const ranges = await redis.cluster('SLOTS');
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const master = range?.[2];
      if (master === undefined) throw new Error(`no master serves slot ${slot}`);
      return master[1];
    });
  return {
    ports,
    replicas: all.filter((port) => !ports.includes(port)),
    nodes,
    client: (options = {}) => new Cluster(nodes, { lazyConnect: true, ...options }),
    slotOf: (key) => withAdmin(running()[0]!, (redis) => redis.cluster('KEYSLOT', key)),
    ownerOf,
    async moveSlot(slot, to) {
      const from = await ownerOf(slot);
      if (from === to) return;
      const [source, target] = [ids.get(from)!, ids.get(to)!];
      await withAdmin(to, (redis) => redis.cluster('SETSLOT', slot, 'IMPORTING', source));
      await withAdmin(from, async (redis) => {
        await redis.cluster('SETSLOT', slot, 'MIGRATING', target);
        for (;;) {
          const keys = await redis.cluster('GETKEYSINSLOT', slot, 100);
          if (keys.length === 0) break;
          await redis.migrate('127.0.0.1', to, '', 0, 5000, 'KEYS', ...keys);
        }
      });
      // The new owner first, as redis-cli does, so that the old one redirects (MOVED) to a node that accepts.
      for (const port of [to, from, ...ports.filter((p) => p !== to && p !== from)]) {
        await withAdmin(port, (redis) => redis.cluster('SETSLOT', slot, 'NODE', target));
      }
    },
    clientsOn: (port) =>
      withAdmin(port, async (redis) => {
        const list = (await redis.client('LIST')) as string;
        return list
          .split('\n')
          .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1])
          .filter((name): name is string => name !== undefined && name !== '');
      }),
    kill: async (port) => killed(byPort.get(port)!),
    untilOk: async () => {
      for (const port of running()) await untilClusterOk(port);
    },
    stop,
  };
}

/** A port that is free, and whose cluster bus port (port + 10000) is too. */
async function freeClusterPort(taken: number[]): Promise<number> {
  for (;;) {
    const port = await listenFree(0);
    if (port + 10_000 > 65_535 || taken.includes(port)) continue;
    if ((await listenFree(port + 10_000).catch(() => undefined)) !== undefined) return port;
  }
}

function listenFree(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', () => {
      const { port: free } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(free));
    });
  });
}

/** Waits until the server answers PING; false if it exited first (its port was taken meanwhile). */
async function answers(port: number, child: ChildProcess): Promise<boolean> {
  const started = Date.now();
  while (child.exitCode === null && child.signalCode === null) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        resolve(data.toString().startsWith('+PONG'));
        socket.destroy();
      });
      socket.once('error', () => resolve(false));
      socket.setTimeout(500, () => socket.destroy());
    });
    if (ok) return true;
    if (Date.now() - started > 10_000) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function untilClusterOk(port: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
    if (/^cluster_state:ok/m.test(stdout)) return;
    if (Date.now() - started > 30_000) throw new Error(`the cluster is not ok on port ${port}:\n${stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function untilSynced(port: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'info', 'replication']);
    if (/^master_link_status:up/m.test(stdout)) return;
    if (Date.now() - started > 30_000) throw new Error(`the replica on port ${port} did not sync:\n${stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
