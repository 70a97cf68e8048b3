import { encodeEvent } from '../sse/encode';
import type { EventStream } from '../sse/stream';
import { isTerminalEvent, RESET_EVENT } from '../vocabulary';
import type { LiveFrame, OutgoingEvent, TaskOutput } from './feeds';

/** A single-task stream: each event's frame as is; the stream ends after the terminal event. */
export class StreamOutput implements TaskOutput {
  /** True when the catch-up began with a `reset`: the client's Last-Event-ID could not be replayed from. */
  reset = false;
  readonly #stream: EventStream;

  constructor(stream: EventStream) {
    this.#stream = stream;
  }

  get closed(): boolean {
    return this.#stream.closed;
  }

  send(event: OutgoingEvent, live?: LiveFrame): void {
    // Progress is idempotent: a backed-up client gets only the latest live one. A catch-up event is written whole,
    // however large: it is exactly what the client asked for.
    if (live === undefined) {
      if (event.event === RESET_EVENT) this.reset = true;
      this.#stream.write(encodeEvent(event));
    } else this.#stream.write(live, event.event === 'progress' ? 'progress' : undefined);
    if (isTerminalEvent(event.event)) this.#stream.close();
  }

  gone(): void {
    this.#stream.close();
  }
}

/**
 * A long-poll's answer: the events it collects, and `ready`, which settles once there is something to answer with.
 * The events committed in the same turn as the first one join it; a terminal event is the last anyway.
 */
export class PollOutput implements TaskOutput {
  readonly events: OutgoingEvent[] = [];
  /** True when the catch-up began with a `reset`: the `after` given could not be replayed from. */
  reset = false;
  /** Settles when the answer is due: an event came, the task is gone, or `answer()` was called. */
  readonly ready: Promise<void>;
  #answered = false;
  #resolve!: () => void;

  constructor() {
    this.ready = new Promise<void>((resolve) => (this.#resolve = resolve));
  }

  get closed(): boolean {
    return this.#answered;
  }

  send(event: OutgoingEvent): void {
    if (event.event === RESET_EVENT) {
      this.reset = true;
      return;
    }
    this.events.push(event);
    if (isTerminalEvent(event.event)) this.answer();
    else setImmediate(() => this.answer());
  }

  gone(): void {
    this.answer();
  }

  /** Answers now with what it has (a timeout, the client leaving, shutdown); later events are not taken. */
  answer(): void {
    this.#answered = true;
    this.#resolve();
  }
}
