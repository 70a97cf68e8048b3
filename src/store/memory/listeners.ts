/** Listeners grouped by a key (a task id, an owner); a key's set goes once empty, so nothing is left behind. */
export class KeyedListeners<L> {
  readonly #sets = new Map<string, Set<L>>();

  /** Adds `listener` under `key`; the returned function removes it (and the key, once empty), once. */
  add(key: string, listener: L): () => void {
    let listeners = this.#sets.get(key);
    if (listeners === undefined) this.#sets.set(key, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#sets.get(key) === listeners) this.#sets.delete(key);
    };
  }

  /** The listeners under `key`, in the order they were added. */
  of(key: string): Iterable<L> {
    return this.#sets.get(key) ?? [];
  }

  /** How many listeners there are, over all keys. */
  get size(): number {
    let count = 0;
    for (const listeners of this.#sets.values()) count += listeners.size;
    return count;
  }

  clear(): void {
    this.#sets.clear();
  }
}
