/** The names of the Redis store's keys, under its prefix; scripts/shared.ts says what each holds. */
export class RedisKeys {
  /** The prefix of every key; the scripts build some keys from it themselves. */
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The task's hash: snapshot, status, latest event id, limits, input while queued, recent commit tokens. */
  task(taskId: string): string {
    return `${this.prefix}task:${taskId}`;
  }

  /** The task's stream of events. */
  events(taskId: string): string {
    return `${this.prefix}events:${taskId}`;
  }

  /** The task's output, as one string. */
  output(taskId: string): string {
    return `${this.prefix}output:${taskId}`;
  }

  /** The stream of an owner's tasks (`''` for a task without an owner, which the commit script never writes). */
  owner(owner: string): string {
    return `${this.prefix}owner:${owner}`;
  }

  /** The fair queue's counters (turns, counts per type and per group, running and parked groups): one hash. */
  get queues(): string {
    return `${this.prefix}queues`;
  }

  /** An idempotency key's hash (its task id and fingerprint), by the key's digest (`IdempotencyKey.key`). */
  once(key: string): string {
    return `${this.prefix}once:${key}`;
  }

  /** The stream that wakes runners when a task is queued. */
  get queued(): string {
    return `${this.prefix}queued`;
  }

  /**
   * The lease keys, as the scripts take them: the deadlines (`leases`) and the holders (`owners`, a name kept from
   * before `Lease.holder`, so a store of an older version reads the same keys).
   */
  leases(): [deadlines: string, holders: string] {
    return [`${this.prefix}leases`, `${this.prefix}owners`];
  }
}
