import { isTerminalEvent } from '../../vocabulary';
import type { TaskEvent, TaskEventName, TaskSnapshot } from '../../types';
import type { TaskEventListener, TaskLog, TaskRecord, TaskRecordWithOutput } from '../types';
import type { RedisContext } from './context';
import { STREAM_ID, compareStreamIds } from './ids';
import { field } from './reader';

/**
 * The Redis store's `TaskLog`: a hash per task (its snapshot and latest event id) and a stream of its events, whose
 * entry ids are the events' SSE ids. Live events come from the shared reader connection.
 */
export class RedisTaskLog implements TaskLog {
  readonly #context: RedisContext;

  constructor(context: RedisContext) {
    this.#context = context;
  }

  async commit(...args: Parameters<TaskLog['commit']>): Promise<TaskEvent> {
    return this.#context.committer.commit(...args);
  }

  async read(taskId: string): Promise<TaskRecord | undefined> {
    const { redis, keys } = this.#context;
    const [snapshot, lastEventId] = await redis.timed(redis.command.hmget(keys.task(taskId), 's', 'l'), 'a task read');
    if (snapshot == null || lastEventId == null) return undefined;
    return { snapshot: JSON.parse(snapshot) as TaskSnapshot, lastEventId };
  }

  async readWithOutput(taskId: string): Promise<TaskRecordWithOutput | undefined> {
    const { redis, keys } = this.#context;
    // MULTI: the record and the output of one moment, never a commit between them.
    const answers = await redis.timed(
      redis.command.multi().hmget(keys.task(taskId), 's', 'l').get(keys.output(taskId)).exec(),
      'a task read',
    );
    const failed = answers?.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
    const [snapshot, lastEventId] = (answers?.[0]?.[1] ?? []) as Array<string | null>;
    const output = answers?.[1]?.[1] as string | null | undefined;
    if (snapshot == null || lastEventId == null) return undefined;
    return { snapshot: JSON.parse(snapshot) as TaskSnapshot, lastEventId, output: output ?? '' };
  }

  async eventsAfter(taskId: string, afterId: string): Promise<TaskEvent[] | undefined> {
    if (!STREAM_ID.test(afterId)) return undefined;
    const { redis, keys } = this.#context;
    const [last, kept] = await redis.timed(redis.command.hmget(keys.task(taskId), 'l', 'h'), 'a replay');
    if (last == null) return undefined;
    const order = compareStreamIds(afterId, last);
    if (order >= 0) return order === 0 ? [] : undefined;
    // The stream is trimmed approximately (whole nodes), so it may hold more than the limit: enforce it here.
    const limit = Number(kept) || 1;
    const entries = await redis.timed(
      redis.command.xrange(keys.events(taskId), `(${afterId}`, '+', 'COUNT', limit + 1),
      'a replay',
    );
    const first = entries[0];
    // `p` is the id before each entry: the first entry after afterId must follow it directly, or there is a gap.
    if (first === undefined || entries.length > limit || field(first[1], 'p') !== afterId) return undefined;
    return entries.map(([id, fields]) => toEvent(id, fields));
  }

  async subscribe(taskId: string, listener: TaskEventListener): Promise<() => void> {
    const { redis, keys } = this.#context;
    const last = await redis.timed(redis.command.hget(keys.task(taskId), 'l'), 'a subscription');
    return redis.reader.follow(keys.events(taskId), last ?? '0-0', (id, fields) =>
      listener(toEvent(id, fields), field(fields, 'p') ?? ''),
    );
  }

  compareEventIds(a: string, b: string): number {
    return compareStreamIds(a, b);
  }

  onFinished(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void {
    const { redis, keys } = this.#context;
    const stop = redis.reader.follow(keys.events(taskId), afterId, (_id, fields) => {
      const event = field(fields, 'e');
      if (event === undefined || !isTerminalEvent(event)) return;
      stop();
      listener(JSON.parse(field(fields, 'd') ?? '{}') as TaskSnapshot);
    });
    return stop;
  }
}

function toEvent(id: string, fields: string[]): TaskEvent {
  return { id, event: field(fields, 'e') as TaskEventName, data: field(fields, 'd') ?? '' };
}
