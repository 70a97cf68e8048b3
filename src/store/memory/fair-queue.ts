/** A queued task, in its group's lane of its type. */
export interface QueuedTask {
  readonly taskId: string;
  readonly type: string;
  readonly group: string;
  readonly input: unknown;
  readonly traceparent: string | undefined;
  /** Its turn (job-queue.ts): after every turn its group has queued, and after the last claimed of its type. */
  readonly turn: number;
  /** Counts enqueues: the tie-break between equal turns, first queued first. */
  readonly seq: number;
  /** Non-zero while it is its lane's head and offered to claims; the `ready` heap's copies with another are stale. */
  offer: number;
}

interface Group {
  /** The turn of its next task while it has tasks queued. */
  next: number;
  queued: number;
  /** Its claimed, unfinished tasks. */
  running: number;
  /** The types whose heads a claim withdrew because the group was at `concurrencyPerOwner`. */
  parked: Set<string> | undefined;
}

/**
 * The memory store's fair queue, the same structure as the Redis store's (redis/scripts/shared.ts): per type, one lane per
 * group (its tasks, oldest first) and a heap of the lanes' heads by turn; per group, its next turn and its counts.
 * A claim looks at the heap's top of each type asked for: O(log n), however many tasks or groups wait. The group's
 * name is `o:<owner>`, or `-` for the tasks without an owner.
 */
export class FairQueue {
  /** type -> group -> the group's queued tasks of that type, oldest first. */
  readonly #lanes = new Map<string, Map<string, QueuedTask[]>>();
  /** type -> the offered lane heads (and stale copies, skipped when they reach the top). */
  readonly #ready = new Map<string, TaskHeap>();
  readonly #groups = new Map<string, Group>();
  /** type -> the last turn claimed. */
  readonly #claimed = new Map<string, number>();
  /** type -> how many tasks of it are queued. */
  readonly #byType = new Map<string, number>();
  /** task id -> its place while queued. */
  readonly #byTask = new Map<string, QueuedTask>();
  #seq = 0;
  #offers = 0;

  /** How many tasks of `types` are queued. */
  count(types: readonly string[]): number {
    let count = 0;
    for (const type of types) count += this.#byType.get(type) ?? 0;
    return count;
  }

  /** How many tasks of the group are queued, over every type. */
  countOf(group: string): number {
    return this.#groups.get(group)?.queued ?? 0;
  }

  push(taskId: string, type: string, group: string, input: unknown, traceparent?: string): void {
    const state = this.#group(group);
    const turn = Math.max(state.queued > 0 ? state.next : 0, (this.#claimed.get(type) ?? -1) + 1);
    const task: QueuedTask = { taskId, type, group, input, traceparent, turn, seq: ++this.#seq, offer: 0 };
    state.next = turn + 1;
    state.queued++;
    this.#byType.set(type, (this.#byType.get(type) ?? 0) + 1);
    this.#byTask.set(taskId, task);
    const lane = this.#lane(type, group);
    lane.push(task);
    if (lane.length === 1) {
      if (state.parked === undefined) this.#offer(task);
      else state.parked.add(type);
    }
  }

  /**
   * Takes the task of the earliest turn among `types`, passing over (and parking) the groups that already run
   * `concurrencyPerOwner` tasks; it then counts as running until `released()`.
   */
  pop(types: readonly string[], concurrencyPerOwner: number | undefined): QueuedTask | undefined {
    for (;;) {
      let best: QueuedTask | undefined;
      for (const type of types) {
        const head = this.#head(type);
        if (head !== undefined && (best === undefined || before(head, best))) best = head;
      }
      if (best === undefined) return undefined;
      const group = this.#groups.get(best.group)!;
      if (concurrencyPerOwner !== undefined && group.running >= concurrencyPerOwner) {
        this.#park(best.group, group, types);
        continue;
      }
      this.#ready.get(best.type)!.pop();
      group.running++; // before the task leaves the counts, so the group is not forgotten as idle meanwhile
      this.#remove(best);
      this.#claimed.set(best.type, Math.max(this.#claimed.get(best.type) ?? -1, best.turn));
      return best;
    }
  }

  /** The queued task finished (cancelled): it leaves its lane. Whether it was queued. */
  drop(taskId: string): boolean {
    const task = this.#byTask.get(taskId);
    if (task === undefined) return false;
    this.#remove(task);
    return true;
  }

  /** A claimed task of the group finished: it runs one less, and is offered again if a claim parked it. */
  released(group: string): void {
    const state = this.#groups.get(group);
    if (state === undefined) return;
    state.running = Math.max(0, state.running - 1);
    const parked = state.parked;
    state.parked = undefined;
    for (const type of parked ?? []) {
      const head = this.#lanes.get(type)?.get(group)?.[0];
      if (head !== undefined) this.#offer(head);
    }
    this.#forgetIfIdle(group, state);
  }

  /** Takes a task out of its lane and the counts; the lane's next task is offered in its place. */
  #remove(task: QueuedTask): void {
    const lanes = this.#lanes.get(task.type)!;
    const lane = lanes.get(task.group)!;
    const index = lane.indexOf(task);
    lane.splice(index, 1);
    this.#byTask.delete(task.taskId);
    if (index === 0 && task.offer !== 0) {
      task.offer = 0;
      if (lane[0] !== undefined) this.#offer(lane[0]);
    }
    if (lane.length === 0) lanes.delete(task.group);
    if (lanes.size === 0) this.#lanes.delete(task.type);
    const left = this.#byType.get(task.type)! - 1;
    if (left === 0) this.#byType.delete(task.type);
    else this.#byType.set(task.type, left);
    const state = this.#groups.get(task.group)!;
    state.queued--;
    this.#forgetIfIdle(task.group, state);
  }

  /** Takes the group's heads of `types` out of the heaps until one of its tasks finishes. */
  #park(name: string, group: Group, types: readonly string[]): void {
    group.parked ??= new Set();
    for (const type of types) {
      const head = this.#lanes.get(type)?.get(name)?.[0];
      if (head === undefined || head.offer === 0) continue;
      head.offer = 0;
      group.parked.add(type);
    }
  }

  /** The offered head of the earliest turn of the type, stale copies dropped on the way. */
  #head(type: string): QueuedTask | undefined {
    const heap = this.#ready.get(type);
    if (heap === undefined) return undefined;
    while (heap.top !== undefined && heap.top.offer !== heap.topOffer) heap.pop();
    if (heap.top === undefined) this.#ready.delete(type);
    return heap.top;
  }

  #offer(task: QueuedTask): void {
    task.offer = ++this.#offers;
    let heap = this.#ready.get(task.type);
    if (heap === undefined) this.#ready.set(task.type, (heap = new TaskHeap()));
    heap.push(task);
  }

  #group(name: string): Group {
    let group = this.#groups.get(name);
    if (group === undefined) this.#groups.set(name, (group = { next: 0, queued: 0, running: 0, parked: undefined }));
    return group;
  }

  #lane(type: string, group: string): QueuedTask[] {
    let lanes = this.#lanes.get(type);
    if (lanes === undefined) this.#lanes.set(type, (lanes = new Map<string, QueuedTask[]>()));
    let lane = lanes.get(group);
    if (lane === undefined) lanes.set(group, (lane = []));
    return lane;
  }

  #forgetIfIdle(name: string, group: Group): void {
    if (group.queued === 0 && group.running === 0 && group.parked === undefined) this.#groups.delete(name);
  }
}

/** Whether `a` comes before `b`: the earlier turn, then the one queued first. */
function before(a: QueuedTask, b: QueuedTask): boolean {
  return a.turn !== b.turn ? a.turn < b.turn : a.seq < b.seq;
}

/** A binary min-heap of tasks by turn, each pushed with the offer it had then (a later offer makes it stale). */
class TaskHeap {
  readonly #items: Array<{ task: QueuedTask; offer: number }> = [];

  get top(): QueuedTask | undefined {
    return this.#items[0]?.task;
  }

  /** The offer the top was pushed with. */
  get topOffer(): number {
    return this.#items[0]?.offer ?? 0;
  }

  push(task: QueuedTask): void {
    const items = this.#items;
    items.push({ task, offer: task.offer });
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!.task, items[parent]!.task)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): void {
    const items = this.#items;
    const last = items.pop();
    if (last === undefined || items.length === 0) return;
    items[0] = last;
    for (let i = 0; ;) {
      const [left, right] = [2 * i + 1, 2 * i + 2];
      let least = i;
      if (left < items.length && before(items[left]!.task, items[least]!.task)) least = left;
      if (right < items.length && before(items[right]!.task, items[least]!.task)) least = right;
      if (least === i) break;
      [items[i], items[least]] = [items[least]!, items[i]!];
      i = least;
    }
  }
}
