import { encodeEvent } from './encode';
import type { EventStream } from './stream';

/** The heartbeat frame: data so EventSource dispatches it, and no `id:` line, which would reset the client's last id. */
export const HEARTBEAT_FRAME = Buffer.from(encodeEvent({ event: 'heartbeat', data: '{}' }));

/**
 * One timer for every stream it holds, instead of one per stream: at ten thousand streams that is the difference
 * between one timer and ten thousand. The timer runs only while a stream is held, and never keeps the process alive.
 * Whoever adds a stream deletes it when it closes; the held streams are also the ones shutdown ends.
 */
export class Heartbeat {
  readonly #intervalMs: number;
  readonly #streams = new Set<EventStream>();
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  get size(): number {
    return this.#streams.size;
  }

  add(stream: EventStream): void {
    this.#streams.add(stream);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#beat(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  delete(stream: EventStream): void {
    this.#streams.delete(stream);
    if (this.#streams.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** The streams held now. */
  [Symbol.iterator](): IterableIterator<EventStream> {
    return this.#streams.values();
  }

  #beat(): void {
    for (const stream of this.#streams) stream.write(HEARTBEAT_FRAME, 'heartbeat'); // a backed-up client needs one at most
  }
}
