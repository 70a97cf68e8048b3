/** Base class of the errors koa-sse-tasks throws on purpose; the middleware answers them as `{ error: { code, message } }`. */
export class TaskError extends Error {
  /** A stable, machine-readable name, e.g. `task_not_found`. */
  readonly code: string;
  /** The HTTP status the middleware answers with. */
  readonly status: number;
  /** Headers the middleware sets on the answer, e.g. `Retry-After` on a 503. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: string, status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}

export class TaskNotFoundError extends TaskError {
  constructor(id: string) {
    super('task_not_found', 404, `No task with id ${JSON.stringify(id)}`);
  }
}

export class UnknownTaskTypeError extends TaskError {
  constructor(type: string, known: readonly string[]) {
    const hint = known.length > 0 ? `; defined types: ${known.join(', ')}` : '; no task type is defined yet';
    super('unknown_task_type', 400, `Unknown task type ${JSON.stringify(type)}${hint}`);
  }
}

export class TaskFinishedError extends TaskError {
  constructor(id: string, status: string) {
    super('task_finished', 409, `Task ${id} has already finished (${status})`);
  }
}

export class RunnerClosedError extends TaskError {
  constructor() {
    super('runner_closed', 503, 'The task runner is closed and accepts no new tasks');
  }
}

/** `runner.start()` found `maxQueued` tasks already waiting; try again later. */
export class QueueFullError extends TaskError {
  constructor(maxQueued: number) {
    super('queue_full', 503, `${maxQueued} tasks are already queued (maxQueued); try again later`);
  }
}

/** A conditional commit found the task changed since it was read; read it again and retry. */
export class CommitConflictError extends TaskError {
  constructor(id: string) {
    super('commit_conflict', 409, `Task ${id} changed while it was being updated; read it again and retry`);
  }
}
