import Redis, { type Cluster, type RedisOptions } from 'ioredis';
import { logAsBefore, type Logger } from '../../util/logger';
import { ClusterReader } from './cluster-reader';
import { REDIS_STORE_DEFAULTS, type ResolvedRedisStoreOptions } from './options';
import { StreamReader, type EntryReader } from './reader';
import { COMMIT, CREATE } from './scripts/commit';
import { REAP, RENEW } from './scripts/leases';
import { OWN, PRUNE } from './scripts/owners';
import { CLAIM, ENQUEUE, FINISH } from './scripts/queue';

type Args = Array<string | number>;
/** The scripts, as ioredis's `defineCommand` adds them to the connection. */
interface ScriptCommands {
  sseTasksCommit(...args: Args): Promise<[string, string?, string?, string?]>;
  sseTasksCreate(...args: Args): Promise<string>;
  sseTasksEnqueue(...args: Args): Promise<[string, string?, string?, string?]>;
  sseTasksClaim(...args: Args): Promise<[string, string, string, string, string, string?] | null>;
  sseTasksFinish(...args: Args): Promise<number>;
  sseTasksRenew(...args: Args): Promise<string[]>;
  sseTasksReap(...args: Args): Promise<string[]>;
  sseTasksOwn(...args: Args): Promise<string>;
  sseTasksPrune(...args: Args): Promise<number>;
}

/** The command connection (a cluster client on a cluster), with the store's scripts. */
export type CommandConnection = (Redis | Cluster) & ScriptCommands;

/** At least this many retries of a command on a cluster: about 30 s at ioredis's 100 ms apart, a failover's time. */
const CLUSTER_MAX_REDIRECTIONS = 300;

/** The scripts, with how many of their arguments are keys. */
const SCRIPTS: Array<[name: keyof ScriptCommands, keys: number, lua: string]> = [
  ['sseTasksCommit', 3, COMMIT],
  ['sseTasksCreate', 2, CREATE],
  ['sseTasksEnqueue', 6, ENQUEUE],
  ['sseTasksClaim', 6, CLAIM],
  ['sseTasksFinish', 7, FINISH],
  ['sseTasksRenew', 2, RENEW],
  ['sseTasksReap', 2, REAP],
  ['sseTasksOwn', 1, OWN],
  ['sseTasksPrune', 1, PRUNE],
];

/**
 * The Redis store's connections, however many clients and tasks. On a single Redis, two: one for commands, and one
 * that reads every followed stream with a single blocking XREAD (`StreamReader`). On a cluster, a cluster client of
 * the store's own: one command connection per master, and its one subscriber connection, on which `ClusterReader`
 * hears which streams to read (docs/redis-cluster.md). Logs an outage once, and its end.
 */
export class RedisConnections {
  readonly command: CommandConnection;
  readonly reader: EntryReader;
  /** Whether this is a Redis Cluster: the scripts then announce their writes (PUBLISH) for `ClusterReader`. */
  readonly cluster: boolean;
  readonly #readTimeoutMs: number;
  /** The store's own logger, or the runner's (`useLogger`); `undefined`: `console`, as before loggers. */
  #logger: Logger | undefined;
  readonly #ownLogger: boolean;
  /** `host:port`, for messages: never the URL, which may hold a password. */
  readonly #where: string;
  #down = false;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedRedisStoreOptions) {
    const { client, url, connectionName } = options;
    this.#readTimeoutMs = options.readTimeoutMs;
    this.#logger = options.logger;
    this.#ownLogger = options.logger !== undefined;
    const onError = (error: unknown): void =>
      logAsBefore(this.#logger, 'error', { err: error }, 'koa-sse-tasks: reading task events from Redis failed');
    let command: Redis | Cluster;
    if (client?.isCluster === true) {
      const cluster = client as Cluster;
      const redisOptions = cluster.options.redisOptions ?? {};
      // One client of the store's own, so the app's client (its key prefix, its subscriptions) is never touched.
      // Writes wait out a failover, as they wait out an outage on one Redis: ioredis retries a command while the
      // cluster is down or its master gone, 100 ms apart by default, up to maxRedirections times (16: 2 s).
      command = cluster.duplicate([], {
        ...cluster.options,
        maxRedirections: Math.max(cluster.options.maxRedirections ?? 0, CLUSTER_MAX_REDIRECTIONS),
        keyPrefix: '',
        redisOptions: { ...redisOptions, keyPrefix: '', connectionName: `${connectionName}:cmd` },
      });
      this.reader = new ClusterReader(command, onError);
      this.#where = 'a node of its Redis Cluster';
    } else {
      const common: RedisOptions = { keyPrefix: '', retryStrategy: (times) => Math.min(times * 100, 2000) };
      const open = (overrides: RedisOptions): Redis => {
        const all = { ...common, ...overrides };
        return client !== undefined
          ? (client as Redis).duplicate(all)
          : new Redis(url ?? REDIS_STORE_DEFAULTS.url, all);
      };
      // Writes wait out an outage in order (they are retried, never dropped); reads time out instead (readTimeoutMs).
      const single = open({ connectionName: `${connectionName}:cmd`, maxRetriesPerRequest: null });
      // The reader fails fast when disconnected and resumes itself from the ids it has reached.
      const reader = open({
        connectionName: `${connectionName}:reader`,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
      });
      reader.on('error', (error: Error) => this.#lost(error));
      reader.on('ready', () => this.#back());
      this.reader = new StreamReader(reader, single, onError);
      const { host, port } = single.options;
      this.#where = `${host ?? '127.0.0.1'}:${port ?? 6379}`;
      command = single;
    }
    this.cluster = command.isCluster;
    command.on('error', (error: Error) => this.#lost(error));
    command.on('ready', () => this.#back());
    for (const [name, numberOfKeys, lua] of SCRIPTS) command.defineCommand(name, { numberOfKeys, lua });
    this.command = command as CommandConnection;
  }

  /** The runner's logger, unless the store was given its own. */
  useLogger(logger: Logger): void {
    if (!this.#ownLogger) this.#logger = logger;
  }

  /** Rejects a read that Redis does not answer in time (an outage), so an HTTP request fails instead of hanging. */
  timed<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new Error(
            `koa-sse-tasks: Redis at ${this.#where} did not answer ${what} within ${this.#readTimeoutMs} ms (readTimeoutMs); is it running?`,
          ),
        );
      }, this.#readTimeoutMs);
      timer.unref();
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** Closes the connections; pending writes are sent first when Redis is reachable. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.reader.close();
      const command = this.command;
      if (command.status === 'ready') {
        const quit = command.quit().catch(() => {});
        await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      }
      command.disconnect();
    })();
    return this.#closing;
  }

  /** Logs an outage once, however many reconnection attempts fail. */
  #lost(error: Error): void {
    if (this.#down || this.#closing !== undefined) return;
    this.#down = true;
    logAsBefore(
      this.#logger,
      'error',
      { where: this.#where, reason: error.message },
      `koa-sse-tasks: lost the connection to Redis at ${this.#where} (${error.message}); reconnecting. ` +
        'Open event streams stay open, writes wait, and events resume without a gap once Redis is back.',
    );
  }

  #back(): void {
    if (!this.#down) return;
    this.#down = false;
    logAsBefore(
      this.#logger,
      'info',
      { where: this.#where },
      `koa-sse-tasks: reconnected to Redis at ${this.#where}; delivering the events committed meanwhile.`,
    );
  }
}
