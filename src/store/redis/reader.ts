import type Redis from 'ioredis';
import { compareStreamIds } from './ids';

/** Called with each new entry of a followed stream: its id and its fields as `[name, value, name, value...]`. */
export type EntryListener = (id: string, fields: string[]) => void;

/** What the store's parts follow streams with: `StreamReader` on a single Redis, `ClusterReader` on a cluster. */
export interface EntryReader {
  /** How many streams are followed. */
  readonly size: number;
  /** Gives `listener` every entry of `key` after the id `after`, until the returned function is called. */
  follow(key: string, after: string, listener: EntryListener): () => void;
  close(): Promise<void>;
}

export interface Follower {
  /** The id of the last entry this follower has been given (or started after). */
  after: string;
  listener: EntryListener;
}

export type StreamEntry = [id: string, fields: string[]];

/** How long one XREAD blocks; a changed set of streams interrupts it sooner (CLIENT UNBLOCK). */
const BLOCK_MS = 5_000;
const READ_COUNT = 500;

/**
 * One blocking connection that reads every stream this process follows with a single `XREAD BLOCK`, re-issued when
 * the set of streams changes. Each follower keeps its own position, so a follower never gets an entry twice and,
 * because XREAD asks for what comes after an id, never misses one: not when it joins late, and not across a lost
 * connection (the next XREAD after reconnecting catches up from the same ids).
 */
export class StreamReader implements EntryReader {
  readonly #reader: Redis;
  readonly #command: Redis;
  readonly #onError: (error: unknown) => void;
  readonly #streams = new Map<string, Set<Follower>>();
  #loop: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #clientId: number | undefined;
  #blocked = false;
  #changed = false;
  #retryUnblock: NodeJS.Timeout | undefined;
  #closed = false;

  /** `reader` is used for nothing else; `command` sends CLIENT UNBLOCK to it. */
  constructor(reader: Redis, command: Redis, onError: (error: unknown) => void) {
    this.#reader = reader;
    this.#command = command;
    this.#onError = onError;
  }

  /** How many streams are followed. */
  get size(): number {
    return this.#streams.size;
  }

  /** Gives `listener` every entry of `key` after the id `after`, until the returned function is called. */
  follow(key: string, after: string, listener: EntryListener): () => void {
    const follower: Follower = { after, listener };
    let followers = this.#streams.get(key);
    if (followers === undefined) this.#streams.set(key, (followers = new Set()));
    followers.add(follower);
    this.#changed = true;
    this.#wake();
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      followers.delete(follower);
      if (followers.size === 0 && this.#streams.get(key) === followers) this.#streams.delete(key);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryUnblock);
    this.#idle?.();
    this.#reader.disconnect();
    await this.#loop;
  }

  #wake(): void {
    if (this.#closed) return;
    this.#loop ??= this.#run();
    this.#idle?.();
    if (this.#blocked) this.#unblock();
  }

  /** Interrupts the running XREAD so the next one includes the new stream; retried if it raced the XREAD. */
  #unblock(): void {
    if (this.#clientId === undefined || this.#retryUnblock !== undefined) return;
    this.#command.client('UNBLOCK', this.#clientId).catch(() => {});
    this.#retryUnblock = setTimeout(() => {
      this.#retryUnblock = undefined;
      if (this.#changed && this.#blocked) this.#unblock();
    }, 50);
    this.#retryUnblock.unref();
  }

  async #run(): Promise<void> {
    this.#reader.connect().catch(() => {}); // errors surface through the XREAD below and the 'error' event
    while (!this.#closed) {
      if (this.#streams.size === 0) {
        await new Promise<void>((resolve) => (this.#idle = resolve));
        this.#idle = undefined;
        continue;
      }
      const keys = [...this.#streams.keys()];
      const ids = keys.map((key) => earliest(this.#streams.get(key) ?? []));
      this.#changed = false;
      let reply: unknown;
      try {
        this.#clientId ??= await this.#reader.client('ID');
        this.#blocked = true;
        reply = await this.#reader.call('XREAD', 'COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids);
      } catch (error) {
        this.#clientId = undefined;
        if (!this.#closed) await this.#reconnected(error);
        continue;
      } finally {
        this.#blocked = false;
      }
      if (reply != null) this.#dispatch(reply);
    }
  }

  async #reconnected(error: unknown): Promise<void> {
    if (this.#reader.status === 'ready') this.#onError(error); // a command error, not a lost connection
    do await sleep(100);
    while (!this.#closed && this.#reader.status !== 'ready');
  }

  #dispatch(reply: unknown): void {
    for (const [key, entries] of streamsOf(reply)) {
      const followers = this.#streams.get(key);
      if (followers !== undefined) deliver(followers, entries, this.#onError);
    }
  }
}

/** Gives each follower the entries after its position, once each, in order. */
export function deliver(followers: Set<Follower>, entries: StreamEntry[], onError: (error: unknown) => void): void {
  for (const [id, fields] of entries) {
    for (const follower of followers) {
      if (compareStreamIds(id, follower.after) <= 0) continue;
      follower.after = id;
      try {
        follower.listener(id, fields);
      } catch (error) {
        onError(error);
      }
    }
  }
}

/** The earliest position among a stream's followers: a read from there returns what any of them still needs. */
export function earliest(followers: Iterable<Follower>): string {
  let position: string | undefined;
  for (const { after } of followers) {
    if (position === undefined || compareStreamIds(after, position) < 0) position = after;
  }
  return position ?? '0-0';
}

/** XREAD's reply as [key, entries] pairs: RESP2 gives `[[key, entries]...]`, RESP3 (legacy mapping) `[key, entries...]`. */
export function streamsOf(reply: unknown): Array<[string, StreamEntry[]]> {
  if (!Array.isArray(reply)) return [];
  if (typeof reply[0] !== 'string') return reply as Array<[string, StreamEntry[]]>;
  const pairs: Array<[string, StreamEntry[]]> = [];
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([reply[i] as string, reply[i + 1] as StreamEntry[]]);
  return pairs;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The value of the field `name` in a stream entry's `[name, value, name, value...]`. */
export function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
