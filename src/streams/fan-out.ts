import { setImmediate } from 'node:timers';
import type { TaskEvent } from '../types';
import type { LiveFrame } from './feeds';

/** What the fan-out hands a live event to: a `TaskFollower`. */
export interface Recipient {
  receive(event: TaskEvent, frame: LiveFrame, previousId?: string): void;
}

/** A live event as the fan-out passes it on. */
interface Live {
  event: TaskEvent;
  frame: LiveFrame;
  previousId: string | undefined;
}

/**
 * How many streams get live events in one turn of the event loop. Each costs one `writev()` of its events once the
 * callback that wrote them returns (Node corks the socket until then), some 10–15 µs with the JavaScript before it:
 * 32 keep a turn under half a millisecond. A count, not a time budget: the writes happen after the callback, where
 * it cannot time them. Measured with 5,000 streams resuming at 15 events/s: 16 and 32 streams a turn recovered in
 * 5.2–5.6 s, 128 in 9.2 s, 512 in 18 s, all at once in 39 s (BENCHMARKS.md).
 */
export const SLICE = 32;

/**
 * Deliveries that may wait for later turns: past it, everything waiting is delivered at once, so a producer faster than the
 * turns (a job's progress in a tight loop, a store's reader) is held back as without turns, instead of a backlog
 * that lives long enough to be garbage collected as old objects. Measured in the fan-out scenario (1,000 streams,
 * bursts of 10): 100,000 cost 1.52 µs per delivery, a third of it GC; 20,000, 1.37 µs; no bound, 1.41 µs. 5,000
 * held 5,000 resuming streams back to 18 s; 20,000 kept them at 6 s.
 */
export const MAX_WAITING = 20_000;

/**
 * The most events in one batch: a stream's write of them is three pieces each (chunk size, frame, CRLF), and past
 * Linux's 1,024 pieces (IOV_MAX) one `writev()` cannot take them all: the rest waits for the socket to be writable
 * again, a round trip through epoll.
 */
const MAX_BATCH = 100;

/** One feed's waiting events, each follower getting them all at once: one write of them all. */
interface Batch {
  followers: Set<Recipient>;
  events: Live[];
  /** The feed's own set, read live: a follower that left is skipped, one that joined gets the events too. */
  rest: Iterator<Recipient> | undefined;
}

/**
 * Hands live events to their followers, in order, to at most {@link SLICE} streams per turn of the event loop.
 *
 * Why: since libuv 1.45 (Node 20) a listening socket accepts one connection per turn of the event loop. Writing
 * each event to 5,000 streams in one callback took ~60 ms, so a process busy with a running job accepted some 17
 * connections a second: when an instance died, the streams that came to this one waited up to 40 s in its accept
 * queue (BENCHMARKS.md, "Across instances"). Short turns let connections, timers and requests in between.
 *
 * Events that wait join their feed's batch, and a follower gets a whole batch at once, so a burst costs one syscall
 * per stream, not one per event: under load, fewer than writing each event to every stream at once. Each follower gets its task's events
 * in order; one it already has, or one that comes late, it handles itself (follower.ts).
 */
export class FanOut {
  readonly #onError: (error: unknown) => void;
  /** Batches not delivered yet, from `#head` on (an index, not `shift()`: a burst may queue thousands). */
  #queue: Batch[] = [];
  #head = 0;
  /** Each feed's batch that no follower has had yet: the feed's next events join it. */
  readonly #open = new Map<Set<Recipient>, Batch>();
  /** Streams given events in this turn, and deliveries waiting (an upper bound: followers may leave). */
  #spent = 0;
  #waiting = 0;
  #turn: NodeJS.Immediate | undefined;
  /** True while batches are delivered: a delivery that causes another queues it behind. */
  #draining = false;

  /** `onError` is told of a follower that threw; the others still get the event. */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** Gives `event` to each of `followers`: now if this turn has room for all of them, else in the next turns. */
  deliver(followers: Set<Recipient>, event: TaskEvent, frame: LiveFrame, previousId?: string): void {
    const live: Live = { event, frame, previousId };
    if (this.#head === this.#queue.length && !this.#draining && this.#spent + followers.size <= SLICE) {
      this.#spent += followers.size;
      const one = [live];
      for (const follower of followers) this.#give(follower, one);
    } else {
      this.#waiting += followers.size;
      const open = this.#open.get(followers);
      if (open !== undefined && open.events.length < MAX_BATCH) {
        open.events.push(live);
      } else {
        const batch: Batch = { followers, events: [live], rest: undefined };
        this.#queue.push(batch);
        this.#open.set(followers, batch);
      }
      if (this.#waiting > MAX_WAITING && !this.#draining) this.#drain(Infinity);
    }
    // The real setImmediate (node:timers), not one a test's fake timers replaced: events must keep flowing.
    if (this.#turn === undefined) this.#turn = setImmediate(() => this.#nextTurn());
  }

  #nextTurn(): void {
    this.#turn = undefined;
    this.#spent = 0;
    this.#drain(SLICE);
    if (this.#head < this.#queue.length) this.#turn = setImmediate(() => this.#nextTurn());
  }

  /** Delivers waiting batches, oldest first, until this turn has given events to `budget` streams. */
  #drain(budget: number): void {
    this.#draining = true;
    try {
      this.#drainUpTo(budget);
    } finally {
      this.#draining = false;
    }
  }

  #drainUpTo(budget: number): void {
    const queue = this.#queue;
    for (let batch = queue[this.#head]; batch !== undefined; batch = queue[++this.#head]) {
      if (batch.rest === undefined) {
        // Started: the feed's next events make a new batch (unless a full one already took its place).
        if (this.#open.get(batch.followers) === batch) this.#open.delete(batch.followers);
        batch.rest = batch.followers.values();
      }
      const { rest, events } = batch;
      for (;;) {
        if (this.#spent >= budget) return;
        const next = rest.next();
        if (next.done === true) break;
        this.#spent++;
        this.#waiting -= events.length;
        this.#give(next.value, events);
      }
    }
    this.#queue = [];
    this.#head = 0;
    this.#waiting = 0;
  }

  /** One follower's events, in order. One that throws is reported and gets no more of them: it catches up later. */
  #give(follower: Recipient, events: Live[]): void {
    try {
      for (let i = 0; i < events.length; i++) {
        const { event, frame, previousId } = events[i]!;
        follower.receive(event, frame, previousId);
      }
    } catch (error) {
      this.#onError(error);
    }
  }
}
