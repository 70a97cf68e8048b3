import { TaskError } from '../errors';
import { encodeEvent } from '../sse/encode';
import type { EventStream } from '../sse/stream';
import { HEARTBEAT_EVENT } from '../vocabulary';
import { StreamStats, type RefusalReason, type StreamKind } from './stats';

/** The heartbeat frame: data so EventSource dispatches it, and no `id:` line, which would reset the client's last id. */
export const HEARTBEAT_FRAME = Buffer.from(encodeEvent({ event: HEARTBEAT_EVENT, data: '{}' }));

/** What the registry of open streams enforces. */
export interface OpenStreamLimits {
  /** How often every open stream gets a heartbeat, in ms. */
  heartbeatMs: number;
  /** The most streams open at once in this process. */
  maxConnections: number;
  /** The most streams following one task at once in this process. */
  maxConnectionsPerTask: number;
  /** The `Retry-After` of a refusal, in seconds. */
  retryAfterSeconds: number;
}

/**
 * The event streams open in this process: it counts them, in total and per task, and refuses one more past either
 * limit with a 503 (`Retry-After`); it heartbeats them with one timer for all of them (at ten thousand streams, one
 * timer instead of ten thousand), which runs only while a stream is open and never keeps the process alive; and it
 * ends them all on shutdown. Only this process's streams count: each instance protects itself.
 */
export class OpenStreams {
  readonly #limits: OpenStreamLimits;
  /** What the streams did: counted here (opened, refused, open now) and by each stream as it writes. */
  readonly stats: StreamStats;
  readonly #streams = new Set<EventStream>();
  readonly #perTask = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(limits: OpenStreamLimits, stats = new StreamStats()) {
    this.#limits = limits;
    this.stats = stats;
  }

  /** How many streams are open now. */
  get size(): number {
    return this.#streams.size;
  }

  /**
   * Opens a stream with `open()` for the tasks `taskIds`, once the limits allow it (else a 503 `TaskError`, before
   * anything is sent), and holds it until it closes.
   */
  add(kind: StreamKind, taskIds: readonly string[], open: () => EventStream): EventStream {
    this.#check(taskIds);
    const stream = open();
    this.#streams.add(stream);
    for (const id of taskIds) this.#perTask.set(id, (this.#perTask.get(id) ?? 0) + 1);
    this.stats.connections[kind]++;
    this.stats.open[kind]++;
    // One cleanup per stream, not one per concern: at ten thousand idle streams every closure a stream holds counts.
    stream.onClose(() => this.#remove(stream, kind, taskIds));
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#beat(), this.#limits.heartbeatMs);
      this.#timer.unref();
    }
    return stream;
  }

  /** Ends every open stream (shutdown): their clients reconnect, to another instance if there is one. */
  closeAll(): void {
    for (const stream of [...this.#streams]) stream.close();
  }

  #check(taskIds: readonly string[]): void {
    const { maxConnections, maxConnectionsPerTask } = this.#limits;
    if (this.#streams.size >= maxConnections) {
      throw this.#refuse('max_connections', `${maxConnections} event streams are open (maxConnections)`);
    }
    for (const id of taskIds) {
      if ((this.#perTask.get(id) ?? 0) >= maxConnectionsPerTask) {
        const what = `${maxConnectionsPerTask} event streams follow the task ${id} (maxConnectionsPerTask)`;
        throw this.#refuse('max_per_task', what);
      }
    }
  }

  #remove(stream: EventStream, kind: StreamKind, taskIds: readonly string[]): void {
    this.#streams.delete(stream);
    this.stats.open[kind]--;
    for (const id of taskIds) {
      const left = this.#perTask.get(id)! - 1;
      if (left === 0) this.#perTask.delete(id);
      else this.#perTask.set(id, left);
    }
    if (this.#streams.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #beat(): void {
    // Under its own key: a backed-up client needs one heartbeat at most.
    for (const stream of this.#streams) stream.write(HEARTBEAT_FRAME, HEARTBEAT_EVENT);
  }

  #refuse(reason: RefusalReason, what: string): TaskError {
    this.stats.refusals[reason]++;
    return new TaskError('too_many_connections', `${what}; try again later`, {
      'Retry-After': String(this.#limits.retryAfterSeconds),
    });
  }
}
