/**
 * One attempt's output, as its job writes it (`job.write()`). The writes of one event-loop turn are committed as one
 * `output` event, so a job writing ten thousand tokens a second costs one event per turn, not per token, for every
 * subscriber.
 *
 * "One turn" is the macrotask that wrote and every microtask after it: the flush is queued as a microtask that
 * queues a `process.nextTick`, and Node runs that tick only once the microtask queue is empty, before the next timer
 * or I/O callback. So writes separated only by awaiting settled promises join one event; writes of different
 * callbacks (timers, I/O) are different events. `flush()` commits what is pending at once: before any other event
 * of the job, so events keep the order of the calls.
 */
export class OutputBuffer {
  readonly #maxBytes: number;
  readonly #commit: (text: string, offset: number) => void;
  /** The output's length (JavaScript string length) before the pending text: the offset of the next event. */
  #committedLength = 0;
  /** UTF-8 bytes written so far, pending included, against `maxBytes`. */
  #bytes = 0;
  #pending = '';
  #scheduled = false;

  /** `commit(text, offset)` commits one `output` event; it is called in order, once per turn with output. */
  constructor(maxBytes: number, commit: (text: string, offset: number) => void) {
    this.#maxBytes = maxBytes;
    this.#commit = commit;
  }

  /** The output's length, pending text included. */
  get length(): number {
    return this.#committedLength + this.#pending.length;
  }

  /** Appends `text`; a `RangeError`, appending nothing, past `maxBytes`. */
  write(text: string): void {
    if (text === '') return;
    const bytes = Buffer.byteLength(text);
    if (this.#bytes + bytes > this.#maxBytes) {
      throw new RangeError(
        `koa-sse-tasks: job.write() would take the task's output past maxOutputBytes (${this.#maxBytes} bytes); ` +
          `${this.#bytes} bytes are written, this text is ${bytes}`,
      );
    }
    this.#bytes += bytes;
    this.#pending += text;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => process.nextTick(() => this.flush()));
  }

  /** Commits the pending text now, if any. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending === '') return;
    const text = this.#pending;
    const offset = this.#committedLength;
    this.#pending = '';
    this.#committedLength += text.length;
    this.#commit(text, offset);
  }
}
