import type { Context } from 'koa';
import { encodeEvent } from '../sse/encode';
import type { Heartbeat } from '../sse/heartbeat';
import { openEventStream, setEventStreamHeaders, type EventStream } from '../sse/stream';
import { EVENT_FOR_STATUS, isFinished, isTerminalEvent } from '../status';
import type { TaskRecord, TaskStore } from '../store/types';
import type { TaskEvent } from '../types';
import type { FeedSink, TaskFeeds } from './feeds';

export interface EventsContext {
  store: TaskStore;
  feeds: TaskFeeds;
  heartbeat: Heartbeat;
  retryMs: number;
  /** Every stream open now, so shutdown can end them. */
  open: Set<EventStream>;
}

/** The largest Last-Event-ID looked at; a longer one cannot be ours and counts as unknown. */
const MAX_EVENT_ID_LENGTH = 200;

/** The client's last event id: the `Last-Event-ID` header, else the `lastEventId` query parameter. */
export function lastEventIdOf(ctx: Context): string | undefined {
  const header = ctx.get('Last-Event-ID');
  const query = ctx.query.lastEventId;
  const id = header !== '' ? header : typeof query === 'string' ? query : undefined;
  return id === undefined || id === '' || id.length > MAX_EVENT_ID_LENGTH ? undefined : id;
}

/**
 * `GET /tasks/:id/events` for a task the caller may see. A client that already has the terminal event gets 204 (so
 * EventSource stops); any other gets a stream: the replay after its last id, or a fresh `status`, then live events.
 */
export async function serveTaskEvents(ctx: Context, record: TaskRecord, deps: EventsContext): Promise<void> {
  const lastEventId = lastEventIdOf(ctx);
  if (isFinished(record.snapshot.status) && lastEventId === record.lastEventId) {
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'HEAD') return setEventStreamHeaders(ctx);

  const stream = openEventStream(ctx, deps.retryMs);
  deps.heartbeat.add(stream);
  deps.open.add(stream);
  stream.onClose(() => deps.open.delete(stream));
  const follower = new TaskFollower(stream, deps.store);
  try {
    stream.onClose(await deps.feeds.join(record.snapshot.id, follower));
    if (!stream.closed) await follower.catchUp(record.snapshot.id, lastEventId);
  } catch (error) {
    stream.close();
    ctx.app.emit('error', error, ctx);
  }
}

/**
 * One client's view of a task. Live events that arrive while it catches up are held, then sent if newer than what
 * the catch-up wrote: this is what makes a resume have no gap and no duplicate.
 */
class TaskFollower implements FeedSink {
  readonly #stream: EventStream;
  readonly #store: TaskStore;
  #held: Array<[TaskEvent, Buffer]> | undefined = [];

  constructor(stream: EventStream, store: TaskStore) {
    this.#stream = stream;
    this.#store = store;
  }

  receive(event: TaskEvent, frame: Buffer): void {
    if (this.#held !== undefined) this.#held.push([event, frame]);
    else this.#send(event, frame);
  }

  async catchUp(taskId: string, lastEventId: string | undefined): Promise<void> {
    const replay = lastEventId === undefined ? undefined : await this.#store.eventsAfter(taskId, lastEventId);
    let lastSent: string;
    if (replay !== undefined && lastEventId !== undefined) {
      lastSent = lastEventId;
      for (const event of replay) {
        this.#send(event, encodeEvent(event));
        lastSent = event.id;
      }
    } else {
      const record = await this.#store.read(taskId);
      if (record === undefined) return this.#stream.close();
      lastSent = record.lastEventId;
      this.#sendSnapshot(record);
    }
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const [event, frame] of held) {
      if (this.#store.compareEventIds(event.id, lastSent) > 0) this.#send(event, frame);
    }
  }

  /** A fresh start: `status` with the id of the latest event it reflects, and for a finished task its terminal event. */
  #sendSnapshot({ snapshot, lastEventId }: TaskRecord): void {
    const data = JSON.stringify(snapshot);
    this.#stream.write(encodeEvent({ event: 'status', id: lastEventId, data }));
    if (isFinished(snapshot.status)) this.#send({ event: EVENT_FOR_STATUS[snapshot.status], id: lastEventId, data });
  }

  #send(event: TaskEvent, frame: string | Buffer = encodeEvent(event)): void {
    this.#stream.write(frame);
    if (isTerminalEvent(event.event)) this.#stream.close();
  }
}
