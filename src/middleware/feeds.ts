import { encodeEvent } from '../sse/encode';
import type { TaskStore } from '../store/types';
import type { TaskEvent } from '../types';

/** Something that wants a task's live events: the event, its frame already encoded, and the id of the event before it. */
export interface FeedSink {
  receive(event: TaskEvent, frame: Buffer, previousId: string): void;
}

interface Feed {
  sinks: Set<FeedSink>;
  subscribed: Promise<() => void>;
}

/**
 * Fan-out: one store subscription per followed task, however many streams follow it. Each event is encoded once
 * and the same bytes go to every stream; the subscription is released when the task's last stream leaves.
 */
export class TaskFeeds {
  readonly #store: TaskStore;
  readonly #feeds = new Map<string, Feed>();

  constructor(store: TaskStore) {
    this.#store = store;
  }

  /** How many tasks have at least one follower. */
  get size(): number {
    return this.#feeds.size;
  }

  /** Adds `sink` to the task's feed; resolves, once events flow, with the function that removes it. */
  async join(taskId: string, sink: FeedSink): Promise<() => void> {
    const feed = this.#feeds.get(taskId) ?? this.#open(taskId);
    feed.sinks.add(sink);
    try {
      await feed.subscribed;
    } catch (error) {
      feed.sinks.delete(sink);
      throw error;
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#leave(taskId, feed, sink);
    };
  }

  #open(taskId: string): Feed {
    const sinks = new Set<FeedSink>();
    const subscribed = this.#store.subscribe(taskId, (event, previousId) => {
      const frame = Buffer.from(encodeEvent(event));
      for (const sink of sinks) sink.receive(event, frame, previousId);
    });
    const feed: Feed = { sinks, subscribed };
    this.#feeds.set(taskId, feed);
    subscribed.catch(() => {
      if (this.#feeds.get(taskId) === feed) this.#feeds.delete(taskId);
    });
    return feed;
  }

  #leave(taskId: string, feed: Feed, sink: FeedSink): void {
    feed.sinks.delete(sink);
    if (feed.sinks.size > 0) return;
    if (this.#feeds.get(taskId) === feed) this.#feeds.delete(taskId);
    feed.subscribed.then(
      (unsubscribe) => unsubscribe(),
      () => {},
    );
  }
}
