import type { TaskSnapshot } from '../../types';
import type { OwnedTask, OwnerIndex } from '../types';
import { KeyedListeners } from './listeners';

/** The memory store's `OwnerIndex`: each owner's tasks in creation order; positions count up over all owners. */
export class MemoryOwnerIndex implements OwnerIndex {
  /** owner -> its tasks (id -> position), in creation order. */
  readonly #owners = new Map<string, Map<string, string>>();
  readonly #listeners = new KeyedListeners<(task: OwnedTask) => void>();
  #sequence = 0;

  async tasksOf(owner: string): Promise<OwnedTask[]> {
    return [...(this.#owners.get(owner) ?? [])].map(([taskId, position]) => ({ taskId, position }));
  }

  async onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void> {
    return this.#listeners.add(owner, listener);
  }

  /** A task was created (its first commit): it joins its owner's tasks, and the owner's listeners hear of it. */
  add({ id, owner }: TaskSnapshot): void {
    if (owner === undefined) return;
    let tasks = this.#owners.get(owner);
    if (tasks === undefined) this.#owners.set(owner, (tasks = new Map<string, string>()));
    const task: OwnedTask = { taskId: id, position: String(++this.#sequence) };
    tasks.set(id, task.position);
    for (const listener of this.#listeners.of(owner)) listener(task);
  }

  /** A task was forgotten: it leaves its owner's tasks, and an owner left with none goes. */
  remove({ id, owner }: TaskSnapshot): void {
    const owned = owner === undefined ? undefined : this.#owners.get(owner);
    owned?.delete(id);
    if (owned?.size === 0) this.#owners.delete(owner!);
  }

  close(): void {
    this.#listeners.clear();
  }
}
