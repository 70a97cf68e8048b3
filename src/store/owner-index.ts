/** A task in its owner's index: its id, and its position there (positions order like event ids: `compareEventIds`). */
export interface OwnedTask {
  taskId: string;
  position: string;
}

/**
 * Every owner's tasks, for the owner feed (`GET /tasks/events`): a task joins its owner's index with its first
 * commit (`TaskLog.commit` or `JobQueue.enqueue` of a snapshot with an `owner`), in the same step.
 *
 * The contract, which `__tests__/store/conformance.ts` checks for every store:
 * - an owner's tasks are listed in the order they were created, and no other owner's;
 * - a task started later, by any process, is announced once to each of the owner's listeners, in order;
 * - forgotten (expired) tasks leave the list.
 */
export interface OwnerIndex {
  /**
   * The tasks whose first commit named an owner (`snapshot.owner`) equal to `owner`, in the order they were created;
   * forgotten (expired) tasks are left out. What the owner feed starts from.
   */
  tasksOf(owner: string): Promise<OwnedTask[]>;

  /**
   * Calls `listener` with each task first committed for `owner` from the moment the returned promise resolves, in
   * order, until the returned function is called: how the owner feed learns of tasks started later, by any process.
   */
  onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void>;
}
