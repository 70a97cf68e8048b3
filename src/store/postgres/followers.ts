import { inTurn, type Turns } from '../../util/in-turn';
import { isFinished } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot, TaskStatus } from '../../types';
import type { TaskEventListener } from '../types';
import type { PgDatabase } from './database';
import { compareEventIds, isAfter } from './ids';
import type { PgListener } from './listener';

interface Subscription {
  /** The last event id it was given; `undefined` until its subscription has read where the task stands. */
  after: string | undefined;
  listener: TaskEventListener;
  /** A notice came while `after` was unknown: read once it is known. */
  missed: boolean;
}

/** A followed task; `again` is set when a notice came during a read: read again after it. */
interface Followed extends Turns {
  subscriptions: Set<Subscription>;
}

interface Watch {
  after: string;
  listener: (snapshot: TaskSnapshot) => void;
}

/**
 * Every task this process follows (`subscribe`) or watches for its end (`onFinished`), over the one listening
 * connection: a notice names the task, and its new events are read from the table after the last one each
 * subscription was given, one read per task however many follow it. A reconnection reads every task again, so
 * events committed while the listener was away arrive after, in order, with no gap and no duplicate.
 */
export class TaskFollowers {
  readonly #db: PgDatabase;
  readonly #listener: PgListener;
  readonly #report: (error: unknown) => void;
  readonly #followed = new Map<string, Followed>();
  readonly #watches = new Map<string, Set<Watch>>();

  constructor(db: PgDatabase, listener: PgListener, report: (error: unknown) => void) {
    this.#db = db;
    this.#listener = listener;
    this.#report = report;
  }

  /** How many tasks are followed: the width of what the listening connection serves, not a connection count. */
  get size(): number {
    return this.#followed.size;
  }

  async subscribe(taskId: string, listener: TaskEventListener): Promise<() => void> {
    await this.#listener.ready();
    let followed = this.#followed.get(taskId);
    if (followed === undefined) {
      followed = { subscriptions: new Set(), reading: false, again: false };
      this.#followed.set(taskId, followed);
    }
    const subscription: Subscription = { after: undefined, listener, missed: false };
    followed.subscriptions.add(subscription);
    const unsubscribe = (): void => {
      followed.subscriptions.delete(subscription);
      if (followed.subscriptions.size === 0 && this.#followed.get(taskId) === followed) this.#followed.delete(taskId);
    };
    try {
      const { rows } = await this.#db.query<{ last: string }>(
        `SELECT last_event::text AS last FROM ${this.#db.table('tasks')}
         WHERE id = $1 AND (expires_at IS NULL OR expires_at > now())`,
        [taskId],
      );
      subscription.after = rows[0]?.last ?? '0';
    } catch (error) {
      unsubscribe();
      throw error;
    }
    if (subscription.missed) void this.#read(taskId);
    return unsubscribe;
  }

  watch(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void {
    let watches = this.#watches.get(taskId);
    if (watches === undefined) this.#watches.set(taskId, (watches = new Set()));
    const watch: Watch = { after: afterId, listener };
    watches.add(watch);
    void this.#listener.ready().then(() => this.#check(taskId));
    return () => {
      watches.delete(watch);
      if (watches.size === 0 && this.#watches.get(taskId) === watches) this.#watches.delete(taskId);
    };
  }

  /** A notice: the task has a new event. */
  noticed(taskId: string, terminal: boolean): void {
    const followed = this.#followed.get(taskId);
    if (followed !== undefined) {
      for (const subscription of followed.subscriptions)
        if (subscription.after === undefined) subscription.missed = true;
      void this.#read(taskId);
    }
    if (terminal && this.#watches.has(taskId)) void this.#check(taskId);
  }

  /** The listener came back: read what every followed task missed, and whether a watched one finished. */
  resumed(): void {
    for (const taskId of this.#followed.keys()) void this.#read(taskId);
    for (const taskId of this.#watches.keys()) void this.#check(taskId);
  }

  close(): void {
    this.#followed.clear();
    this.#watches.clear();
  }

  async #read(taskId: string): Promise<void> {
    const followed = this.#followed.get(taskId);
    if (followed === undefined) return;
    try {
      await inTurn(followed, async () => {
        const ready = [...followed.subscriptions].filter((s) => s.after !== undefined);
        if (ready.length === 0) return false;
        const from = earliest(ready.map((s) => s.after!));
        const { rows } = await this.#db.query<{ id: string; event: string; data: string; previous: string }>(
          `SELECT id::text, event, data, previous FROM ${this.#db.table('events')}
           WHERE task_id = $1 AND id > $2::bigint ORDER BY id`,
          [taskId, from],
        );
        for (const row of rows) {
          const event: TaskEvent = { id: row.id, event: row.event, data: row.data };
          for (const subscription of ready) {
            if (!followed.subscriptions.has(subscription) || !isAfter(row.id, subscription.after!)) continue;
            subscription.after = row.id;
            subscription.listener(event, row.previous);
          }
        }
        return true;
      });
    } catch (error) {
      this.#report(error); // the next notice, or the reconnection, reads again from where each subscription is
    }
  }

  async #check(taskId: string): Promise<void> {
    if (!this.#watches.has(taskId)) return;
    try {
      const { rows } = await this.#db.query<{ status: string; snapshot: string; last: string }>(
        `SELECT status, snapshot, last_event::text AS last FROM ${this.#db.table('tasks')} WHERE id = $1`,
        [taskId],
      );
      const row = rows[0];
      if (row === undefined || !isFinished(row.status as TaskStatus)) return;
      const snapshot = JSON.parse(row.snapshot) as TaskSnapshot;
      for (const watch of this.#watches.get(taskId) ?? []) {
        if (!isAfter(row.last, watch.after)) continue;
        this.#watches.get(taskId)?.delete(watch);
        watch.listener(snapshot);
      }
      if (this.#watches.get(taskId)?.size === 0) this.#watches.delete(taskId);
    } catch (error) {
      this.#report(error);
    }
  }
}

/** The earliest of event ids, `'0'` (before every event) among them. */
function earliest(ids: string[]): string {
  if (ids.some((id) => id === '0' || id === '')) return '0';
  return ids.reduce((a, b) => (compareEventIds(a, b) <= 0 ? a : b));
}
