import type { Context } from 'koa';
import { encodeEvent } from '../sse/encode';
import type { Heartbeat } from '../sse/heartbeat';
import { openEventStream, setEventStreamHeaders, type EventStream, type StreamLimits } from '../sse/stream';
import { isFinished, isTerminalEvent } from '../status';
import type { TaskRecord, TaskStore } from '../store/types';
import type { TaskEvent } from '../types';
import type { TaskFeeds } from './feeds';
import { follow, type FollowerOutput } from './follower';
import type { ConnectionLimits } from './limits';

export interface EventsContext {
  store: TaskStore;
  feeds: TaskFeeds;
  heartbeat: Heartbeat;
  stream: StreamLimits;
  /** Every stream open now, so shutdown can end them. */
  open: Set<EventStream>;
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
  const query = ctx.query.lastEventId;
  const id = header !== '' ? header : typeof query === 'string' ? query : undefined;
  return id === undefined || id === '' || id.length > maxLength ? undefined : id;
}

/**
 * Opens an event stream on `ctx` that heartbeats, that shutdown ends, and that counts against the connection limits
 * for `taskIds` (throws a 503 before any header is sent when one is reached).
 */
export function openTrackedStream(ctx: Context, deps: EventsContext, taskIds: readonly string[]): EventStream {
  const release = deps.limits.acquire(taskIds);
  let stream: EventStream;
  try {
    stream = openEventStream(ctx, deps.stream);
  } catch (error) {
    release();
    throw error;
  }
  stream.onClose(release);
  deps.heartbeat.add(stream);
  deps.open.add(stream);
  stream.onClose(() => deps.open.delete(stream));
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
  const output = streamOutput(stream);
  try {
    stream.onClose(await follow(deps.feeds, deps.store, record.snapshot.id, lastEventId, output));
  } catch (error) {
    stream.close();
    ctx.app.emit('error', error, ctx);
  }
}

/** A single-task stream: each event's frame as is; the stream ends after the terminal event. */
function streamOutput(stream: EventStream): FollowerOutput {
  return {
    get closed() {
      return stream.closed;
    },
    send(event: TaskEvent, frame?: Buffer) {
      // Progress is idempotent: a backed-up client gets only the latest live one. A replay (no shared frame) is
      // written whole, however large: it is exactly what the client asked for.
      if (frame === undefined) stream.write(encodeEvent(event));
      else stream.write(frame, event.event === 'progress' ? 'progress' : undefined);
      if (isTerminalEvent(event.event)) stream.close();
    },
    gone: () => stream.close(),
  };
}
