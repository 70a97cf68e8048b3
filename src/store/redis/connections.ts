import Redis, { type RedisOptions } from 'ioredis';
import { logAsBefore, type Logger } from '../../util/logger';
import { REDIS_STORE_DEFAULTS, type ResolvedRedisStoreOptions } from './options';
import { StreamReader } from './reader';
import { COMMIT } from './scripts/commit';
import { REAP, RENEW } from './scripts/leases';
import { OWNED } from './scripts/owners';
import { CLAIM, ENQUEUE } from './scripts/queue';

type Args = Array<string | number>;
/** The scripts, as ioredis's `defineCommand` adds them to the connection. */
interface ScriptCommands {
  sseTasksCommit(...args: Args): Promise<[string, string?]>;
  sseTasksEnqueue(...args: Args): Promise<[string, string?, string?]>;
  sseTasksClaim(...args: Args): Promise<[string, string, string, string, string] | null>;
  sseTasksRenew(...args: Args): Promise<string[]>;
  sseTasksReap(...args: Args): Promise<string[]>;
  sseTasksOwned(...args: Args): Promise<string[]>;
}

/** The command connection, with the store's scripts. */
export type CommandConnection = Redis & ScriptCommands;

/**
 * The Redis store's two connections, however many clients and tasks: one for commands, and one that reads every
 * followed stream with a single blocking XREAD (`StreamReader`). Logs an outage once, and its end.
 */
export class RedisConnections {
  readonly command: CommandConnection;
  readonly reader: StreamReader;
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
    const common: RedisOptions = { keyPrefix: '', retryStrategy: (times) => Math.min(times * 100, 2000) };
    const open = (overrides: RedisOptions): Redis => {
      const all = { ...common, ...overrides };
      return client !== undefined ? client.duplicate(all) : new Redis(url ?? REDIS_STORE_DEFAULTS.url, all);
    };
    // Writes wait out an outage in order (they are retried, never dropped); reads time out instead (readTimeoutMs).
    const command = open({ connectionName: `${connectionName}:cmd`, maxRetriesPerRequest: null });
    // The reader fails fast when disconnected and resumes itself from the ids it has reached.
    const reader = open({
      connectionName: `${connectionName}:reader`,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
    });
    const { host, port } = command.options;
    this.#where = `${host ?? '127.0.0.1'}:${port ?? 6379}`;
    for (const connection of [command, reader]) {
      connection.on('error', (error: Error) => this.#lost(error));
      connection.on('ready', () => this.#back());
    }
    command.defineCommand('sseTasksCommit', { numberOfKeys: 7, lua: COMMIT });
    command.defineCommand('sseTasksEnqueue', { numberOfKeys: 6, lua: ENQUEUE });
    command.defineCommand('sseTasksOwned', { numberOfKeys: 1, lua: OWNED });
    command.defineCommand('sseTasksClaim', { numberOfKeys: 3, lua: CLAIM });
    command.defineCommand('sseTasksRenew', { numberOfKeys: 2, lua: RENEW });
    command.defineCommand('sseTasksReap', { numberOfKeys: 2, lua: REAP });
    this.command = command as CommandConnection;
    this.reader = new StreamReader(reader, command, (error) =>
      logAsBefore(this.#logger, 'error', { err: error }, 'koa-sse-tasks: reading task events from Redis failed'),
    );
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

  /** Closes both connections; pending writes are sent first when Redis is reachable. Idempotent. */
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
