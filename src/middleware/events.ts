import type { Context } from 'koa';
import type { TaskRecord } from '../store/types';
import { hasTheEnd } from '../streams/follower';
import { StreamOutput } from '../streams/outputs';
import { lastEventIdOf } from './last-event-id';
import { failStream, openStream, setEventStreamHeaders, type Streaming } from './open-stream';

/**
 * `GET /tasks/:id/events` for a task the caller may see. A client that already has the terminal event gets 204 (so
 * EventSource stops); any other gets a stream: the replay after its last id, or a fresh start, then live events.
 */
export async function serveTaskEvents(ctx: Context, record: TaskRecord, streaming: Streaming): Promise<void> {
  const lastEventId = lastEventIdOf(ctx);
  const { stats } = streaming.streams;
  if (hasTheEnd(record, lastEventId)) {
    stats.resumes.ended++;
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'HEAD') return setEventStreamHeaders(ctx);
  const stream = openStream(ctx, streaming, 'task', [record.snapshot.id]);
  const output = new StreamOutput(stream);
  try {
    stream.onClose(await streaming.feeds.follow(record.snapshot.id, lastEventId, output));
    if (lastEventId !== undefined) stats.resumes[output.reset ? 'reset' : 'replayed']++;
  } catch (error) {
    failStream(ctx, stream, error);
  }
}
