import pg from 'pg';
import type { PgDatabase } from './database';
import { parseNotice, type Notice } from './notify';

/** How often the listening connection is asked `SELECT 1`, and how long it may take to answer, in ms. */
const PING_MS = 30_000;
const PING_TIMEOUT_MS = 10_000;
/** How long to wait before reconnecting, in ms: doubling from the first to the last. */
const RECONNECT_MS = [100, 200, 400, 800, 1600, 2000] as const;

/**
 * The store's one listening connection, however many streams and tasks it follows: a `pg` client of its own (a
 * session, never a pooled one: LISTEN lasts as long as the connection) that LISTENs on the schema's channel and hands
 * each notice to `onNotice`. It connects on first use and reconnects after a loss; `onResumed` then runs, so every
 * follower reads again what it may have missed: nothing depends on a notification arriving.
 */
export class PgListener {
  readonly #db: PgDatabase;
  readonly #onNotice: (notice: Notice) => void;
  readonly #onResumed: () => void;
  /** The connection listening now. */
  #client: pg.Client | undefined;
  /** The connection being opened or listening: a loss of any other is an old one's, already replaced. */
  #current: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #attempts = 0;
  #closed = false;
  /** A connection cut without a word (a half-open TCP connection) delivers nothing and reports nothing: asked. */
  readonly #ping = setInterval(() => void this.#pingOnce(), PING_MS).unref();

  constructor(db: PgDatabase, onNotice: (notice: Notice) => void, onResumed: () => void) {
    this.#db = db;
    this.#onNotice = onNotice;
    this.#onResumed = onResumed;
  }

  /** Whether the connection is listening now. */
  get listening(): boolean {
    return this.#client !== undefined && this.#connecting === undefined;
  }

  /**
   * Resolves once the connection listens (at once when it does): what a subscription waits for before it reads, so
   * no event committed after its read goes unnoticed. While the server is away it resolves anyway, after the first
   * attempt: the follower is caught up when the connection comes back.
   */
  ready(): Promise<void> {
    if (this.#closed || this.listening) return Promise.resolve();
    this.#connecting ??= this.#connect();
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    // Named, so it can be told apart in pg_stat_activity: the process's one listening connection for this schema.
    const client = new pg.Client(named(this.#db.settings, this.#db.listenerName));
    this.#current = client;
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('Connection terminated')));
    client.on('notification', ({ channel, payload }) => {
      if (channel !== this.#db.channel || payload === undefined) return;
      const notice = parseNotice(payload);
      if (notice !== undefined) this.#onNotice(notice);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#db.channel.replace(/"/g, '""')}"`);
    } catch (error) {
      this.#lost(client, error as Error);
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    const resumed = this.#attempts > 0;
    this.#client = client;
    this.#attempts = 0;
    this.#connecting = undefined;
    this.#db.back();
    if (resumed) this.#onResumed();
  }

  async #pingOnce(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#connecting !== undefined) return;
    const silent = setTimeout(
      () => this.#lost(client, new Error(`the listening connection did not answer within ${PING_TIMEOUT_MS} ms`)),
      PING_TIMEOUT_MS,
    ).unref();
    try {
      await client.query('SELECT 1');
    } catch (error) {
      this.#lost(client, error as Error);
    } finally {
      clearTimeout(silent);
    }
  }

  /** The connection failed or ended: reported once per outage, then tried again, with a growing delay. */
  #lost(client: pg.Client, error: Error): void {
    client.removeAllListeners('notification');
    client.on('error', () => {});
    void client.end().catch(() => {});
    if (this.#closed) return;
    if (client !== this.#current) return;
    this.#current = undefined;
    this.#client = undefined;
    this.#connecting = undefined;
    this.#db.lost(error);
    if (this.#retry !== undefined) return;
    const delay = RECONNECT_MS[Math.min(this.#attempts, RECONNECT_MS.length - 1)]!;
    this.#attempts++;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connecting ??= this.#connect();
    }, delay);
    this.#retry.unref();
  }

  /** Ends the connection; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    clearInterval(this.#ping);
    const client = this.#current;
    this.#client = undefined;
    this.#current = undefined;
    if (client !== undefined) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => {});
    }
  }
}

/** The settings with `application_name` set, also over one that the connection string names (which would win). */
function named(settings: pg.ClientConfig, name: string): pg.ClientConfig {
  const { connectionString } = settings;
  if (connectionString !== undefined && URL.canParse(connectionString)) {
    const url = new URL(connectionString);
    url.searchParams.set('application_name', name);
    return { ...settings, connectionString: url.toString() };
  }
  return { ...settings, application_name: name };
}
