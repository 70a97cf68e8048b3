import type { OwnedTask, OwnerIndex } from '../types';
import type { PgDatabase } from './database';
import type { PgListener } from './listener';
import { ALIVE } from './log';
import { ownerHash } from './notify';

interface OwnerFollower {
  owner: string;
  /** The position of the last task it was told of; `undefined` until its subscription has read the index. */
  after: string | undefined;
  listener: (task: OwnedTask) => void;
  missed: boolean;
}

/**
 * The PostgreSQL store's `OwnerIndex`: the `owner` and `position` columns of the tasks (the position is the task's
 * first event id, given under the queue's lock, so positions become visible in their order). A new owned task's
 * notice carries a digest of its owner: only that owner's followers read the index again.
 */
export class PostgresOwnerIndex implements OwnerIndex {
  readonly #db: PgDatabase;
  readonly #listener: PgListener;
  readonly #report: (error: unknown) => void;
  /** Owner digest -> the followers of that owner (and of any owner sharing its digest). */
  readonly #followers = new Map<string, Set<OwnerFollower>>();

  constructor(db: PgDatabase, listener: PgListener, report: (error: unknown) => void) {
    this.#db = db;
    this.#listener = listener;
    this.#report = report;
  }

  async tasksOf(owner: string): Promise<OwnedTask[]> {
    return this.#after(owner, '0');
  }

  async onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void> {
    await this.#listener.ready();
    const hash = ownerHash(owner);
    let followers = this.#followers.get(hash);
    if (followers === undefined) this.#followers.set(hash, (followers = new Set()));
    const follower: OwnerFollower = { owner, after: undefined, listener, missed: false };
    followers.add(follower);
    const off = (): void => {
      followers.delete(follower);
      if (followers.size === 0 && this.#followers.get(hash) === followers) this.#followers.delete(hash);
    };
    try {
      const { rows } = await this.#db.query<{ last: string | null }>(
        `SELECT max(position)::text AS last FROM ${this.#db.table('tasks')} WHERE owner = $1`,
        [owner],
      );
      follower.after = rows[0]?.last ?? '0';
    } catch (error) {
      off();
      throw error;
    }
    if (follower.missed) void this.#read(follower);
    return off;
  }

  /** A notice: a task was created for an owner of that digest. */
  noticed(hash: string): void {
    for (const follower of this.#followers.get(hash) ?? []) {
      if (follower.after === undefined) follower.missed = true;
      else void this.#read(follower);
    }
  }

  /** The listener came back: every follower reads what it missed. */
  resumed(): void {
    for (const followers of this.#followers.values())
      for (const follower of followers) this.noticed(ownerHash(follower.owner));
  }

  close(): void {
    this.#followers.clear();
  }

  async #read(follower: OwnerFollower): Promise<void> {
    try {
      const tasks = await this.#after(follower.owner, follower.after!);
      for (const task of tasks) {
        if (BigInt(task.position) <= BigInt(follower.after!)) continue; // a read that overlapped another
        follower.after = task.position;
        follower.listener(task);
      }
    } catch (error) {
      this.#report(error);
    }
  }

  async #after(owner: string, after: string): Promise<OwnedTask[]> {
    const { rows } = await this.#db.query<{ id: string; position: string }>(
      `SELECT id, position::text FROM ${this.#db.table('tasks')}
       WHERE owner = $1 AND position > $2::bigint AND ${ALIVE} ORDER BY position`,
      [owner, after],
    );
    return rows.map((row) => ({ taskId: row.id, position: row.position }));
  }
}
