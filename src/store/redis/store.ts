import { randomBytes } from 'node:crypto';
import Redis, { type RedisOptions } from 'ioredis';
import { CommitConflictError, QueueFullError, TaskFinishedError } from '../../errors';
import { isFinished, isTerminalEvent } from '../../status';
import type { TaskEvent, TaskEventName, TaskSnapshot } from '../../types';

import type {
  ClaimedTask,
  CommitCondition,
  CommitLimits,
  Lease,
  NewTaskEvent,
  OwnedTask,
  QueueBound,
  TaskEventListener,
  TaskRecord,
  TaskStore,
} from '../types';
import { STREAM_ID, compareStreamIds } from './ids';
import {
  REDIS_STORE_DEFAULTS,
  resolveRedisStoreOptions,
  type RedisStoreLogger,
  type RedisStoreOptions,
} from './options';
import { StreamReader } from './reader';
import { CLAIM, COMMIT, OWNED, REAP, RENEW } from './scripts';

type Args = Array<string | number>;
/** The scripts, as ioredis's `defineCommand` adds them to the connection. */
interface ScriptCommands {
  sseTasksCommit(...args: Args): Promise<[string, string?]>;
  sseTasksClaim(...args: Args): Promise<[string, string, string, string] | null>;
  sseTasksRenew(...args: Args): Promise<string[]>;
  sseTasksReap(...args: Args): Promise<string[]>;
  sseTasksOwned(...args: Args): Promise<string[]>;
}

/**
 * A store in Redis, shared by every process that uses the same Redis and key prefix: any instance serves any task's
 * events, workers in other processes run the jobs, and tasks survive a restart of the app.
 *
 * Per process it holds two connections, however many clients and tasks: one for commands, and one that reads every
 * followed task stream with a single blocking XREAD. The README ("Running several instances") lists the keys and their TTLs.
 */
export class RedisStore implements TaskStore {
  readonly shared = true;
  /** The prefix of every key this store writes. */
  readonly keyPrefix: string;
  /** The base of the client names this store's connections carry (`CLIENT LIST`): `<name>:cmd` and `<name>:reader`. */
  readonly connectionName: string;
  readonly #command: Redis & ScriptCommands;
  readonly #reader: StreamReader;
  readonly #readTimeoutMs: number;
  readonly #logger: RedisStoreLogger;
  readonly #where: string;
  /** Commit tokens are this (unique per store) and a counter: see `#commit`. */
  readonly #tokenPrefix = randomBytes(6).toString('base64url');
  #commits = 0;
  #down = false;
  #closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions = {}) {
    const resolved = resolveRedisStoreOptions(options);
    this.keyPrefix = resolved.keyPrefix;
    this.connectionName = resolved.connectionName;
    this.#readTimeoutMs = resolved.readTimeoutMs;
    this.#logger = resolved.logger;
    const common: RedisOptions = { keyPrefix: '', retryStrategy: (times) => Math.min(times * 100, 2000) };
    const open = (overrides: RedisOptions): Redis => {
      const all = { ...common, ...overrides };
      return resolved.client !== undefined
        ? resolved.client.duplicate(all)
        : new Redis(resolved.url ?? REDIS_STORE_DEFAULTS.url, all);
    };
    // Writes wait out an outage in order (they are retried, never dropped); reads time out instead (readTimeoutMs).
    const command = open({ connectionName: `${this.connectionName}:cmd`, maxRetriesPerRequest: null });
    // The reader fails fast when disconnected and resumes itself from the ids it has reached.
    const reader = open({
      connectionName: `${this.connectionName}:reader`,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
    });
    const { host, port } = command.options;
    this.#where = `${host ?? '127.0.0.1'}:${port ?? 6379}`; // never the URL: it may hold a password
    for (const connection of [command, reader]) {
      connection.on('error', (error: Error) => this.#lost(error));
      connection.on('ready', () => this.#back());
    }
    command.defineCommand('sseTasksCommit', { numberOfKeys: 7, lua: COMMIT });
    command.defineCommand('sseTasksOwned', { numberOfKeys: 1, lua: OWNED });
    command.defineCommand('sseTasksClaim', { numberOfKeys: 2, lua: CLAIM });
    command.defineCommand('sseTasksRenew', { numberOfKeys: 2, lua: RENEW });
    command.defineCommand('sseTasksReap', { numberOfKeys: 2, lua: REAP });
    this.#command = command as Redis & ScriptCommands;
    this.#reader = new StreamReader(reader, command, (error) =>
      this.#logger.error('koa-sse-tasks: reading task events from Redis failed:', error),
    );
  }

  async commit(
    snapshot: TaskSnapshot,
    event: NewTaskEvent,
    limits: CommitLimits,
    condition?: CommitCondition,
  ): Promise<TaskEvent> {
    return this.#commit(snapshot, event, limits, condition, undefined);
  }

  async read(taskId: string): Promise<TaskRecord | undefined> {
    const [snapshot, lastEventId] = await this.#timed(this.#command.hmget(this.#task(taskId), 's', 'l'), 'a task read');
    if (snapshot == null || lastEventId == null) return undefined;
    return { snapshot: JSON.parse(snapshot) as TaskSnapshot, lastEventId };
  }

  async eventsAfter(taskId: string, afterId: string): Promise<TaskEvent[] | undefined> {
    if (!STREAM_ID.test(afterId)) return undefined;
    const [last, kept] = await this.#timed(this.#command.hmget(this.#task(taskId), 'l', 'h'), 'a replay');
    if (last == null) return undefined;
    const order = compareStreamIds(afterId, last);
    if (order >= 0) return order === 0 ? [] : undefined;
    // The stream is trimmed approximately (whole nodes), so it may hold more than the limit: enforce it here.
    const limit = Number(kept) || 1;
    const entries = await this.#timed(
      this.#command.xrange(this.#events(taskId), `(${afterId}`, '+', 'COUNT', limit + 1),
      'a replay',
    );
    const first = entries[0];
    // `p` is the id before each entry: the first entry after afterId must follow it directly, or there is a gap.
    if (first === undefined || entries.length > limit || field(first[1], 'p') !== afterId) return undefined;
    return entries.map(([id, fields]) => toEvent(id, fields));
  }

  async subscribe(taskId: string, listener: TaskEventListener): Promise<() => void> {
    const last = await this.#timed(this.#command.hget(this.#task(taskId), 'l'), 'a subscription');
    return this.#reader.follow(this.#events(taskId), last ?? '0-0', (id, fields) =>
      listener(toEvent(id, fields), field(fields, 'p') ?? ''),
    );
  }

  compareEventIds(a: string, b: string): number {
    return compareStreamIds(a, b);
  }

  async enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, bound?: QueueBound): Promise<TaskEvent> {
    let json: string | undefined;
    try {
      json = JSON.stringify(input);
    } catch (error) {
      throw new TypeError(
        `koa-sse-tasks: the input of a task must be JSON-serializable to queue it in Redis: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const event: NewTaskEvent = { event: 'status', data: JSON.stringify(snapshot) };
    return this.#commit(snapshot, event, limits, undefined, json ?? '', bound);
  }

  async claim(types: readonly string[], { holder, leaseMs }: Lease): Promise<ClaimedTask | undefined> {
    if (types.length === 0) return undefined;
    const claimed = await this.#command.sseTasksClaim(...this.#leaseKeys(), this.keyPrefix, holder, leaseMs, ...types);
    if (claimed == null) return undefined;
    const [, snapshot, lastEventId, input] = claimed;
    return {
      snapshot: JSON.parse(snapshot) as TaskSnapshot,
      lastEventId,
      input: input === '' ? undefined : (JSON.parse(input) as unknown),
    };
  }

  async renew(taskIds: readonly string[], { holder, leaseMs }: Lease): Promise<string[]> {
    if (taskIds.length === 0) return [];
    return this.#command.sseTasksRenew(...this.#leaseKeys(), this.keyPrefix, holder, leaseMs, ...taskIds);
  }

  async reapExpired({ holder, leaseMs }: Lease, max: number): Promise<TaskRecord[]> {
    const flat = await this.#command.sseTasksReap(...this.#leaseKeys(), this.keyPrefix, holder, leaseMs, max);
    const records: TaskRecord[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      records.push({ snapshot: JSON.parse(flat[i + 1]!) as TaskSnapshot, lastEventId: flat[i + 2]! });
    }
    return records;
  }

  async queuedCount(types: readonly string[]): Promise<number> {
    if (types.length === 0) return 0;
    const pipeline = this.#command.pipeline();
    for (const type of types) pipeline.llen(`${this.keyPrefix}queue:${type}`);
    const answers = (await this.#timed(pipeline.exec(), 'a queue count')) ?? [];
    return answers.reduce((sum, [error, count]) => (error === null ? sum + Number(count) : sum), 0);
  }

  async onQueued(listener: () => void): Promise<() => void> {
    const key = `${this.keyPrefix}queued`;
    const [latest] = await this.#timed(this.#command.xrevrange(key, '+', '-', 'COUNT', 1), 'a queue subscription');
    return this.#reader.follow(key, latest?.[0] ?? '0-0', () => listener());
  }

  onFinished(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void {
    const stop = this.#reader.follow(this.#events(taskId), afterId, (_id, fields) => {
      const event = field(fields, 'e');
      if (event === undefined || !isTerminalEvent(event)) return;
      stop();
      listener(JSON.parse(field(fields, 'd') ?? '{}') as TaskSnapshot);
    });
    return stop;
  }

  async tasksOf(owner: string): Promise<OwnedTask[]> {
    const flat = await this.#timed(this.#command.sseTasksOwned(this.#owner(owner), this.keyPrefix), 'an owner read');
    const tasks: OwnedTask[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) tasks.push({ position: flat[i]!, taskId: flat[i + 1]! });
    return tasks;
  }

  async onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void> {
    const key = this.#owner(owner);
    const [latest] = await this.#timed(this.#command.xrevrange(key, '+', '-', 'COUNT', 1), 'an owner subscription');
    return this.#reader.follow(key, latest?.[0] ?? '0-0', (position, fields) => {
      const taskId = field(fields, 't');
      if (taskId !== undefined) listener({ taskId, position });
    });
  }

  /** How many task streams (and queue wake-ups) this process follows: the XREAD's width, not a connection count. */
  get followedStreams(): number {
    return this.#reader.size;
  }

  /** Closes both connections; pending writes are sent first when Redis is reachable. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#reader.close();
      const command = this.#command;
      if (command.status === 'ready') {
        const quit = command.quit().catch(() => {});
        await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      }
      command.disconnect();
    })();
    return this.#closing;
  }

  async #commit(
    snapshot: TaskSnapshot,
    event: NewTaskEvent,
    limits: CommitLimits,
    condition: CommitCondition | undefined,
    input: string | undefined,
    bound?: QueueBound,
  ): Promise<TaskEvent> {
    const id = snapshot.id;
    const keys = [
      this.#task(id),
      this.#events(id),
      ...this.#leaseKeys(),
      `${this.keyPrefix}queue:${snapshot.type}`,
      `${this.keyPrefix}queued`,
      this.#owner(snapshot.owner ?? ''),
    ];
    const args = [
      JSON.stringify(snapshot),
      snapshot.status,
      event.event,
      event.data,
      limits.historyLimit,
      limits.ttlMs,
      isFinished(snapshot.status) ? '1' : '0',
      condition === undefined ? '' : `c:${condition.ifLastEventId}`,
      id,
      input === undefined ? '0' : '1',
      input ?? '',
      snapshot.type,
      snapshot.owner ?? '',
      limits.maxHistoryBytes,
      bound?.maxQueued ?? '',
      // ioredis resends a command whose reply a reset connection lost (autoResendUnfulfilledCommands); the script
      // answers a resend carrying a token it has seen with the id it stored then, so a commit is never stored twice.
      `${this.#tokenPrefix}.${(this.#commits++).toString(36)}`,
      event.previousId ?? '',
      ...(bound?.types ?? []),
    ];
    const [outcome, detail] = await this.#command.sseTasksCommit(...keys, ...args);
    if (outcome === 'full') throw new QueueFullError(bound?.maxQueued ?? 0);
    if (outcome === 'finished') throw new TaskFinishedError(id, detail ?? 'finished');
    if (outcome === 'conflict' && condition !== undefined) throw new CommitConflictError(id);
    return { id: detail!, event: event.event, data: event.data };
  }

  #task(taskId: string): string {
    return `${this.keyPrefix}task:${taskId}`;
  }

  #events(taskId: string): string {
    return `${this.keyPrefix}events:${taskId}`;
  }

  #owner(owner: string): string {
    return `${this.keyPrefix}owner:${owner}`;
  }

  #leaseKeys(): [string, string] {
    return [`${this.keyPrefix}leases`, `${this.keyPrefix}owners`];
  }

  /** Rejects a read that Redis does not answer in time (an outage), so an HTTP request fails instead of hanging. */
  #timed<T>(promise: Promise<T>, what: string): Promise<T> {
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

  /** Logs an outage once, however many reconnection attempts fail. */
  #lost(error: Error): void {
    if (this.#down || this.#closing !== undefined) return;
    this.#down = true;
    this.#logger.error(
      `koa-sse-tasks: lost the connection to Redis at ${this.#where} (${error.message}); reconnecting. ` +
        'Open event streams stay open, writes wait, and events resume without a gap once Redis is back.',
    );
  }

  #back(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#logger.info(
      `koa-sse-tasks: reconnected to Redis at ${this.#where}; delivering the events committed meanwhile.`,
    );
  }
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function toEvent(id: string, fields: string[]): TaskEvent {
  return { id, event: field(fields, 'e') as TaskEventName, data: field(fields, 'd') ?? '' };
}
