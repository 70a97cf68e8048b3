import type { Cluster } from 'ioredis';
import { inTurn, type Turns } from '../../util/in-turn';
import { deliver, earliest, streamsOf, type EntryListener, type EntryReader, type Follower } from './reader';

/** How often every followed stream is read even without a notification: the bound on a lost one's delay. */
const SWEEP_MS = 5_000;
const READ_COUNT = 500;

/** Errors of a cluster that is changing (a failover, a slot moving): they pass, and the stream is read again. */
const TRANSIENT = /^(CLUSTERDOWN|TRYAGAIN|MOVED|ASK|LOADING|MASTERDOWN|READONLY)\b/;

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

/** A followed stream; `again` is set when a read is due after the current one (a notification, a full COUNT). */
interface Followed extends Turns {
  followers: Set<Follower>;
}

/**
 * Reads the streams this process follows on a Redis Cluster, where one XREAD can only name keys of one slot, so the
 * single blocking XREAD of `StreamReader` cannot serve every task. Instead, every write to a followed stream is
 * announced (the scripts PUBLISH the stream's name on a channel of that name, which a cluster delivers to subscribers
 * on every node), and this reader, subscribed to the channels of the streams it follows on the cluster client's one
 * subscriber connection, then reads the stream from its followers' earliest position with a non-blocking XREAD on
 * the command connections (routed by slot, following MOVED and ASK). A notification only says "read now": the
 * entries come from the stream, after each follower's own position, so none is missed or given twice. A notification
 * lost (the subscriber connection moving to another node after a failover) delays entries until the next one, or
 * the sweep that reads every followed stream each SWEEP_MS.
 */
export class ClusterReader implements EntryReader {
  readonly #cluster: Cluster;
  readonly #onError: (error: unknown) => void;
  readonly #streams = new Map<string, Followed>();
  readonly #sweep: NodeJS.Timeout;
  readonly #onMessage = (channel: string): void => void this.#read(channel);
  #closed = false;

  constructor(cluster: Cluster, onError: (error: unknown) => void) {
    this.#cluster = cluster;
    this.#onError = onError;
    cluster.on('message', this.#onMessage);
    this.#sweep = setInterval(() => {
      for (const key of this.#streams.keys()) void this.#read(key);
    }, SWEEP_MS);
    this.#sweep.unref();
  }

  get size(): number {
    return this.#streams.size;
  }

  follow(key: string, after: string, listener: EntryListener): () => void {
    const follower: Follower = { after, listener };
    let followed = this.#streams.get(key);
    if (followed === undefined) {
      followed = { followers: new Set([follower]), reading: false, again: false };
      this.#streams.set(key, followed);
      // Read only once subscribed: an entry written before the subscription is read, one after it announced.
      this.#cluster.subscribe(key).then(
        () => this.#read(key),
        () => {}, // the sweep reads it anyway; the subscription comes back with the subscriber connection
      );
    } else {
      followed.followers.add(follower);
      void this.#read(key);
    }
    let stopped = false;
    const current = followed;
    return () => {
      if (stopped) return;
      stopped = true;
      current.followers.delete(follower);
      if (current.followers.size > 0 || this.#streams.get(key) !== current) return;
      this.#streams.delete(key);
      if (!this.#closed) this.#cluster.unsubscribe(key).catch(() => {});
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#cluster.off('message', this.#onMessage);
    this.#streams.clear();
  }

  /** Reads the stream from its followers' earliest position, until nothing more is due; one read at a time. */
  async #read(key: string): Promise<void> {
    const followed = this.#streams.get(key);
    if (followed === undefined) return;
    try {
      await inTurn(followed, async () => {
        const position = earliest(followed.followers);
        const reply = await this.#cluster.call('XREAD', 'COUNT', READ_COUNT, 'STREAMS', key, position);
        for (const [, entries] of streamsOf(reply)) {
          deliver(followed.followers, entries, this.#onError);
          if (entries.length >= READ_COUNT) followed.again = true;
        }
        return !this.#closed && this.#streams.get(key) === followed;
      });
    } catch (error) {
      // A lost node or a failover under way is the connections' to report (once per outage), and the next
      // notification or sweep reads again; only an answer of Redis's own (a wrong type...) is reported here.
      if (!this.#closed && isReplyError(error) && !TRANSIENT.test(error.message)) this.#onError(error);
    }
  }
}
