/** What a stream uses of a response: an HTTP/1 `ServerResponse` and an HTTP/2 `Http2ServerResponse` alike. */
interface Response {
  write(frame: string | Buffer): boolean;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
  once(event: 'close' | 'drain', listener: () => void): unknown;
}

/** How a stream treats a client that reads slower than events come. */
export interface SlowClientLimits {
  /** Bytes that may wait in the response for the client before it counts as backed up (at least the socket's 16 KiB). */
  bufferBytes: number;
  /** How long a client may stay backed up before it is disconnected, in ms. */
  slowClientMs: number;
  /** Told when a slow client is disconnected, with how many bytes still waited for it. */
  onDisconnect?: (waitingBytes: number) => void;
}

/**
 * What the streams sharing this object wrote, as plain numbers the metrics read: a frame costs two additions, no
 * call. `coalesced` counts the clients that backed up and had frames held (once each), `disconnected` the
 * slow clients cut off.
 */
export interface WriteStats {
  frames: number;
  bytes: number;
  coalesced: number;
  disconnected: number;
}

/** Where a stream given no stats counts: nobody reads it. */
const UNREAD: WriteStats = { frames: 0, bytes: 0, coalesced: 0, disconnected: 0 };

/**
 * One open text/event-stream response. `close()` is the single way it ends, whoever ends it (the client going
 * away, a terminal event, an error, shutdown); it is idempotent and runs every cleanup registered with `onClose`.
 *
 * Frames are written straight to the response: no stream sits between the events and the socket, so a frame costs
 * one `res.write()` and an idle stream holds no stream state of its own (see BENCHMARKS.md for what that saves).
 *
 * A client that reads slower than events come backs up: more than `bufferBytes` wait in the response. Meanwhile a
 * frame written with a `latest` key (progress, heartbeats) replaces the one waiting under that key instead of
 * queueing, so memory stays bounded; other frames are never dropped. A client backed up for longer than
 * `slowClientMs` is disconnected; it resumes with Last-Event-ID like any other.
 */
export class EventStream {
  readonly #response: Response;
  readonly #bufferBytes: number;
  readonly #slowClientMs: number;
  readonly #onDisconnect: ((waitingBytes: number) => void) | undefined;
  readonly #stats: WriteStats;
  /** The newest frame per key, held while the client is backed up, in the order they were last written. */
  #latest: Map<string, string | Buffer> | undefined;
  /** The key held last, the end of `#latest`'s order (stale once `#latest` is dropped: a new Map starts empty). */
  #latestKey: string | undefined;
  #backedUp = false;
  /** True once a frame has been held for this client: it counts once in `stats.coalesced`. */
  #coalesced = false;
  #slowTimer: NodeJS.Timeout | undefined;
  #cleanups: Array<() => void> = [];
  #closed = false;
  #clientGone = false;

  constructor(response: Response, limits: SlowClientLimits, stats: WriteStats = UNREAD) {
    this.#response = response;
    this.#bufferBytes = limits.bufferBytes;
    this.#slowClientMs = limits.slowClientMs;
    this.#onDisconnect = limits.onDisconnect;
    this.#stats = stats;
    response.once('close', () => {
      this.#clientGone = true; // after end() too: then there is nothing left to send anyway
      this.close();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while more than `bufferBytes` wait for the client. */
  get backedUp(): boolean {
    return this.#backedUp;
  }

  /**
   * Writes one or more whole frames; a no-op once closed, so a late event can never reach a dead socket. With
   * `latest`, a backed-up client gets only the newest frame written under that key, when it catches up.
   */
  write(frame: string | Buffer, latest?: string): void {
    if (this.#closed) return;
    if (!this.#backedUp) return this.#send(frame);
    if (latest === undefined) {
      this.#flushLatest();
      this.#send(frame);
    } else {
      this.#hold(latest, frame);
    }
  }

  /** Runs `cleanup` when the stream closes, or at once if it already has. */
  onClose(cleanup: () => void): void {
    if (this.#closed) cleanup();
    else this.#cleanups.push(cleanup);
  }

  /** Ends the response after what was written (or drops it, if the client is gone) and runs the cleanups. */
  close(): void {
    if (this.#closed) return;
    if (!this.#clientGone) this.#flushLatest(); // a client that is gone gets nothing more
    this.#closed = true;
    this.#latest = undefined;
    clearTimeout(this.#slowTimer);
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    for (const cleanup of cleanups) cleanup();
    if (!this.#clientGone) this.#response.end();
  }

  #send(frame: string | Buffer): void {
    const response = this.#response;
    this.#stats.frames++;
    this.#stats.bytes += typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
    // write() says false past the socket's own high-water mark (16 KiB); only past bufferBytes is the client slow.
    if (response.write(frame) || this.#backedUp || response.writableLength <= this.#bufferBytes) return;
    this.#backedUp = true;
    response.once('drain', () => this.#drained()); // a write said false, so a 'drain' is due
    this.#slowTimer = setTimeout(() => this.#disconnectSlowClient(), this.#slowClientMs);
    this.#slowTimer.unref();
  }

  /** The client took everything that waited: send the held frames, and it is no longer backed up. */
  #drained(): void {
    if (this.#closed) return;
    this.#backedUp = false;
    clearTimeout(this.#slowTimer);
    this.#slowTimer = undefined;
    this.#flushLatest();
  }

  /**
   * Holds `frame` as the newest under `key`: all a backed-up client costs per event. The key held last (a task's
   * progress, event after event) is replaced in place. Deleting and re-inserting it each time, to keep the order, made
   * V8 rehash the Map every few events and allocate a new table, ~370 instructions and some garbage per event: with 50
   * clients coalesced (bench `stalled`, callgrind), Map delete, set, rehash and allocate were 2.4% of the server's
   * instructions, one `set` is 0.6%; a million events held for one stalled client made 10-148 scavenges, now none.
   */
  #hold(key: string, frame: string | Buffer): void {
    if (!this.#coalesced) {
      this.#coalesced = true; // counted once per client
      this.#stats.coalesced++;
    }
    const held = (this.#latest ??= new Map());
    if (key !== this.#latestKey) {
      held.delete(key); // re-inserted last: the held frames stay in the order they were written
      this.#latestKey = key;
    }
    held.set(key, frame);
  }

  #flushLatest(): void {
    const latest = this.#latest;
    if (latest === undefined || latest.size === 0) return;
    this.#latest = undefined;
    for (const frame of latest.values()) this.#send(frame);
  }

  #disconnectSlowClient(): void {
    this.#stats.disconnected++;
    this.#onDisconnect?.(this.#response.writableLength);
    this.#latest = undefined;
    this.#clientGone = true;
    this.close();
    this.#response.destroy();
  }
}
