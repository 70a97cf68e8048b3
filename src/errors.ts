/**
 * Every error code the HTTP API answers with, its status and what it means: the one registry. `TaskError` takes its
 * status from here, the middleware answers every error from it in one place, and docs/errors.md lists it (a test
 * checks that the two agree).
 */
export const ERROR_CODES = {
  invalid_body: { status: 400, meaning: 'The `POST /tasks` body is not `{ "type": string, "input"?: any }`.' },
  invalid_json: { status: 400, meaning: 'The body is not valid JSON.' },
  bad_request: { status: 400, meaning: 'The request body could not be read.' },
  unknown_task_type: { status: 400, meaning: 'No task type of that name is defined (or declared) on the runner.' },
  invalid_input: {
    status: 400,
    meaning: "The `input` fails the type's schema; `issues` lists each problem and its `path`.",
  },
  invalid_idempotency_key: { status: 400, meaning: '`Idempotency-Key` is not 1 to 255 characters from 0x21 to 0x7E.' },
  invalid_task_id: { status: 400, meaning: 'The id is not one a task can have: 1 to 128 of A-Z a-z 0-9 _ . : -.' },
  invalid_ids: { status: 400, meaning: '`ids` is not 1 to 100 distinct task ids separated by commas, given once.' },
  ids_required: { status: 400, meaning: '`GET /tasks/events` without `ids` is the owner feed, which needs `owner`.' },
  invalid_wait: { status: 400, meaning: '`wait` is not a number of seconds, given once.' },
  unauthenticated: { status: 401, meaning: 'The owner feed needs a caller: `owner(ctx)` named no one.' },
  forbidden: { status: 403, meaning: '`authorize(ctx, task)` refused this request the task.' },
  invalid_token: { status: 403, meaning: 'The `token` is malformed, tampered, signed elsewhere, or not for this.' },
  token_expired: { status: 403, meaning: 'The `token` has expired: get a new one from the app and resume.' },
  task_not_found: { status: 404, meaning: 'No task has that id: it never existed, or was forgotten after `ttlMs`.' },
  method_not_allowed: { status: 405, meaning: 'The path does not take that method; `Allow` lists those it takes.' },
  task_finished: { status: 409, meaning: 'The task has already finished (a cancel came too late).' },
  commit_conflict: { status: 409, meaning: 'The task changed while it was being updated; read it again and retry.' },
  payload_too_large: { status: 413, meaning: 'The body is larger than `bodyLimit`.' },
  unsupported_media_type: { status: 415, meaning: 'The body is not `application/json` (or is compressed).' },
  idempotency_key_reused: {
    status: 422,
    meaning: 'That `Idempotency-Key` started a task of another `type` or `input`.',
  },
  too_many_tasks: {
    status: 429,
    meaning: '`maxQueuedPerOwner` of your tasks already wait; try again after `Retry-After`.',
  },
  internal_error: { status: 500, meaning: 'Something failed on the server (a store outage, a bug); it was logged.' },
  runner_closed: { status: 503, meaning: 'The runner is closed (`runner.close()`) and starts no task.' },
  queue_full: { status: 503, meaning: '`maxQueued` tasks already wait; try again after `Retry-After`.' },
  shutting_down: { status: 503, meaning: 'The middleware is closing (`tasks.close()`); reconnect, elsewhere.' },
  too_many_connections: { status: 503, meaning: '`maxConnections` or `maxConnectionsPerTask` is reached.' },
} as const satisfies Record<string, { status: number; meaning: string }>;

/** A code of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Base class of the errors koa-sse-tasks throws on purpose; the middleware answers them as
 * `{ error: { code, message, ...details } }`.
 */
export class TaskError extends Error {
  /** A stable, machine-readable name, e.g. `task_not_found`. */
  readonly code: ErrorCode;
  /** The HTTP status the middleware answers with: the code's, from {@link ERROR_CODES}. */
  readonly status: number;
  /** Headers the middleware sets on the answer, e.g. `Retry-After` on a 503. */
  readonly headers: Readonly<Record<string, string>>;
  /** More fields of the error body beside `code` and `message`, e.g. the `issues` of an `invalid_input`. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    headers: Record<string, string> = {},
    details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.headers = headers;
    this.details = details;
  }
}

export class TaskNotFoundError extends TaskError {
  constructor(id: string) {
    super('task_not_found', `No task with id ${JSON.stringify(id)}`);
  }
}

export class UnknownTaskTypeError extends TaskError {
  constructor(type: string, known: readonly string[]) {
    const hint = known.length > 0 ? `; defined types: ${known.join(', ')}` : '; no task type is defined yet';
    super('unknown_task_type', `Unknown task type ${JSON.stringify(type)}${hint}`);
  }
}

export class TaskFinishedError extends TaskError {
  constructor(id: string, status: string) {
    super('task_finished', `Task ${id} has already finished (${status})`);
  }
}

export class RunnerClosedError extends TaskError {
  constructor() {
    super('runner_closed', 'The task runner is closed and accepts no new tasks');
  }
}

/** Which bound a `QueueFullError` met: the queue's (`maxQueued`, a 503) or the owner's (`maxQueuedPerOwner`, a 429). */
export type QueueLimit = 'maxQueued' | 'maxQueuedPerOwner';

/**
 * `runner.start()` found `maxQueued` tasks already waiting (`queue_full`, 503), or `maxQueuedPerOwner` tasks of the
 * same owner (`too_many_tasks`, 429); try again later. `limit` says which.
 */
export class QueueFullError extends TaskError {
  /** The bound that was met. */
  readonly limit: QueueLimit;

  constructor(max: number, limit: QueueLimit = 'maxQueued') {
    if (limit === 'maxQueuedPerOwner') {
      super('too_many_tasks', `${max} of your tasks are already queued (maxQueuedPerOwner); try again later`);
    } else {
      super('queue_full', `${max} tasks are already queued (maxQueued); try again later`);
    }
    this.limit = limit;
  }
}

/** One problem a task type's schema found in an input: what is wrong, and where (`[]` for the input itself). */
export interface InputIssue {
  message: string;
  path: Array<string | number>;
}

/**
 * The input fails the task type's schema (`runner.define(type, handler, { input })`): nothing was stored. `issues`
 * are the schema's own, each with its `path`; the HTTP answer is a 400 `invalid_input` that carries them.
 */
export class InvalidInputError extends TaskError {
  readonly issues: readonly InputIssue[];

  constructor(type: string, issues: InputIssue[]) {
    const first = issues[0];
    const where = first === undefined || first.path.length === 0 ? '' : ` at ${first.path.join('.')}`;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(
      'invalid_input',
      `Invalid input for ${JSON.stringify(type)}${where}: ${first?.message ?? 'rejected by the schema'}${more}`,
      {},
      { issues },
    );
    this.issues = issues;
  }
}

/**
 * An idempotency key that already started a task of another `type`, or with another `input`, from the same owner:
 * nothing was started. The key itself is not in the message (keys are not echoed into logs).
 */
export class IdempotencyKeyReusedError extends TaskError {
  constructor() {
    super(
      'idempotency_key_reused',
      'This Idempotency-Key already started a task with another type or input; use a new key for a new task',
    );
  }
}

/** A conditional commit found the task changed since it was read; read it again and retry. */
export class CommitConflictError extends TaskError {
  constructor(id: string) {
    super('commit_conflict', `Task ${id} changed while it was being updated; read it again and retry`);
  }
}

/**
 * A store could not reach its server (a connection refused or cut). Not an answer of the HTTP API (that is a 500):
 * it tells the runner that the write may be tried again as it is, since the store stores a repeat of it once.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
