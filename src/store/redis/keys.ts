import { createHash } from 'node:crypto';

/**
 * The names of the Redis store's keys, under its prefix; scripts/shared.ts says what each holds.
 *
 * On a Redis Cluster the names carry hash tags, so that every script touches keys of one slot: a task's keys share
 * the tag of its id (`p task:{<id>}`, `p events:{<id>}`, `p output:{<id>}`), an owner's index the tag of the owner,
 * and the keys that span tasks (the fair queue, the leases, the idempotency keys, the wake-up stream) the tag `{q}`.
 * On a single Redis the names are untagged (`p task:<id>`...), as in 0.1.
 */
export class RedisKeys {
  /** The prefix of every key. */
  readonly prefix: string;
  /** Whether the names carry hash tags (a Redis Cluster). */
  readonly tagged: boolean;
  /** The prefix of the keys that span tasks: `p` alone, or `p{q}` on a cluster. */
  readonly #shared: string;

  constructor(prefix: string, tagged: boolean) {
    this.prefix = prefix;
    this.tagged = tagged;
    this.#shared = tagged ? `${prefix}{q}` : prefix;
  }

  /** The task's hash: snapshot, status, latest and first event ids, limits, recent commit tokens, idempotency key. */
  task(taskId: string): string {
    return `${this.prefix}task:${this.#tag(taskId)}`;
  }

  /** The task's stream of events. */
  events(taskId: string): string {
    return `${this.prefix}events:${this.#tag(taskId)}`;
  }

  /** The task's output, as one string. */
  output(taskId: string): string {
    return `${this.prefix}output:${this.#tag(taskId)}`;
  }

  /** The stream of an owner's tasks. */
  owner(owner: string): string {
    return `${this.prefix}owner:${this.#tag(owner)}`;
  }

  /** The fair queue's counters (turns, counts per type and per group, running and parked groups): one hash. */
  get queues(): string {
    return `${this.#shared}queues`;
  }

  /** The fair queue's lanes (every queued task, by type, group and age) and their heads: two sorted sets. */
  get lanes(): [lanes: string, ready: string] {
    return [`${this.#shared}lanes`, `${this.#shared}ready`];
  }

  /** The queue's record of each unfinished queued task (type, group, lane entry, input...): one hash. */
  get jobs(): string {
    return `${this.#shared}jobs`;
  }

  /** An idempotency key's hash (its task id and fingerprint), by the key's digest (`IdempotencyKey.key`). */
  once(key: string): string {
    return `${this.#shared}once:${key}`;
  }

  /** The stream that wakes runners when a task is queued. */
  get queued(): string {
    return `${this.#shared}queued`;
  }

  /**
   * The lease keys, as the scripts take them: the deadlines (`leases`) and the holders (`owners`, a name kept from
   * before `Lease.holder`, so a store of an older version reads the same keys).
   */
  leases(): [deadlines: string, holders: string] {
    return [`${this.#shared}leases`, `${this.#shared}owners`];
  }

  /**
   * The hash tag of a task id or owner. A `}` in it would end the tag early (and a leading one make it empty, which
   * Redis ignores), so such a name is tagged by its digest instead; either way all of its keys share one slot.
   */
  #tag(name: string): string {
    if (!this.tagged) return name;
    if (name !== '' && !name.includes('}')) return `{${name}}`;
    return `{${createHash('sha1').update(name).digest('hex')}}:${name}`;
  }
}
