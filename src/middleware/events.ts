import type { Context } from 'koa';
import { encodeEvent } from '../sse/encode';
import type { Heartbeat } from '../sse/heartbeat';
import { openEventStream, setEventStreamHeaders, type EventStream, type StreamLimits } from '../sse/stream';
import { isFinished, isTerminalEvent } from '../status';
import type { TaskRecord, TaskStore } from '../store/types';
import type { TaskEvent } from '../types';
import type { TaskFeeds } from './feeds';
import { follow, type FollowerOutput } from './follower';
import { queryValue } from './query';
import type { ConnectionLimits } from './limits';

export interface EventsContext {
  store: TaskStore;
  feeds: TaskFeeds;
  /** Every stream open now: it heartbeats them, and shutdown ends them. */
  heartbeat: Heartbeat;
  stream: StreamLimits;
  /** Every long-poll waiting now: calling one answers it at once (shutdown does). */
  polls: Set<() => void>;
  /** `maxConnections` and `maxConnectionsPerTask`. */
  limits: ConnectionLimits;
}

/** The largest Last-Event-ID looked at; a longer one cannot be ours and counts as unknown. */
export const MAX_EVENT_ID_LENGTH = 200;

/** The client's last event id: the `Last-Event-ID` header, else the `lastEventId` query parameter. */
export function lastEventIdOf(ctx: Context, maxLength = MAX_EVENT_ID_LENGTH): string | undefined {
  const header = ctx.get('Last-Event-ID');
  const id = header !== '' ? header : queryValue(ctx, 'lastEventId');
  return id === undefined || id === '' || id.length > maxLength ? undefined : id;
}

/**
 * Opens an event stream on `ctx` that heartbeats, that shutdown ends, and that counts against the connection limits
 * for `taskIds` (throws a 503 before any header is sent when one is reached).
 */
export function openTrackedStream(ctx: Context, deps: EventsContext, taskIds: readonly string[]): EventStream {
  deps.limits.acquire(taskIds);
  let stream: EventStream;
  try {
    stream = openEventStream(ctx, deps.stream);
  } catch (error) {
    deps.limits.release(taskIds);
    throw error;
  }
  deps.heartbeat.add(stream);
  // One cleanup, not one per registry: at ten thousand idle streams every closure a stream holds counts.
  stream.onClose(() => {
    deps.heartbeat.delete(stream);
    deps.limits.release(taskIds);
  });
  return stream;
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

  const stream = openTrackedStream(ctx, deps, [record.snapshot.id]);
  const output = new SingleTaskOutput(stream);
  try {
    stream.onClose(await follow(deps.feeds, deps.store, record.snapshot.id, lastEventId, output));
  } catch (error) {
    stream.close();
    ctx.app.emit('error', error, ctx);
  }
}

/** A single-task stream: each event's frame as is; the stream ends after the terminal event. */
class SingleTaskOutput implements FollowerOutput {
  readonly #stream: EventStream;

  constructor(stream: EventStream) {
    this.#stream = stream;
  }

  get closed(): boolean {
    return this.#stream.closed;
  }

  send(event: TaskEvent, frame?: Buffer): void {
    // Progress is idempotent: a backed-up client gets only the latest live one. A replay (no shared frame) is
    // written whole, however large: it is exactly what the client asked for.
    if (frame === undefined) this.#stream.write(encodeEvent(event));
    else this.#stream.write(frame, event.event === 'progress' ? 'progress' : undefined);
    if (isTerminalEvent(event.event)) this.#stream.close();
  }

  gone(): void {
    this.#stream.close();
  }
}
