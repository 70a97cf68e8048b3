export { sseTasks } from './middleware/sse-tasks';
export type { SseTasksMiddleware } from './middleware/sse-tasks';
export type { StreamStats } from './streams/stats';
export { MIDDLEWARE_DEFAULTS } from './middleware/options';
export type { CorsOptions, SseTasksOptions } from './middleware/options';
export { STREAM_TOKEN_DEFAULTS } from './middleware/tokens';
export type { StreamTokenOptions, TokenScope } from './middleware/tokens';
export { TaskRunner } from './runner/runner';
export type { StalledInfo } from './runner/runner';
export type {
  CloseOptions,
  StartOptions,
  Submission,
  TaskRunnerEvents,
  TaskTypeOptionsWithInput,
} from './runner/calls';
export { TASK_TYPE_DEFAULTS } from './runner/attempt';
export type { TaskTypeOptions } from './runner/attempt';
export { RUNNER_DEFAULTS } from './runner/options';
export type { TaskRunnerOptions } from './runner/options';
export type { TaskRunnerObserver } from './runner/observer';
export type { StoreOperation } from './store/observed';
export type { Logger, LoggerAware, LogLevel } from './util/logger';
export { MemoryStore } from './store/memory/store';
/**
 * For store authors: `TaskStore` is `TaskLog & JobQueue & OwnerIndex & StoreLifecycle`, each interface's TSDoc
 * states its contract, and the other types here are what their members take and return. An app only names
 * `TaskStore` (the runner's `store` option).
 */
export type {
  ClaimedTask,
  ClaimLimits,
  CommitCondition,
  CommitLimits,
  EnqueueOnceOutcome,
  EnqueueOptions,
  IdempotencyKey,
  JobQueue,
  Lease,
  NewTaskEvent,
  OwnedTask,
  OwnerIndex,
  QueueBound,
  StoreLifecycle,
  TaskEventListener,
  TaskLog,
  TaskRecord,
  TaskRecordWithOutput,
  TaskStore,
  TransactionalQueue,
} from './store/types';
export {
  EVENT_FOR_STATUS,
  FINISHED_STATUSES,
  CUSTOM_EVENT_NAME,
  HEARTBEAT_EVENT,
  isFinished,
  OUTPUT_EVENT,
  RESERVED_EVENTS,
  RESET_EVENT,
  isTerminalEvent,
  TASK_EVENTS,
  TASK_STATUSES,
  TERMINAL_EVENTS,
} from './vocabulary';
export {
  CommitConflictError,
  ERROR_CODES,
  IdempotencyKeyReusedError,
  InvalidInputError,
  QueueFullError,
  RunnerClosedError,
  StoreUnavailableError,
  TaskError,
  TaskFinishedError,
  TaskNotFoundError,
  UnknownTaskTypeError,
} from './errors';
export type { ErrorCode, InputIssue, QueueLimit } from './errors';
export type { StandardSchemaV1 } from './standard-schema';
export type {
  AnyTaskType,
  BuiltInEventName,
  CustomEvents,
  EventsOf,
  FinishedStatus,
  InputOf,
  Job,
  JsonObject,
  OutputData,
  ResultOf,
  TaskType,
  ProgressData,
  TaskEvent,
  TaskEventName,
  TaskHandler,
  TaskSnapshot,
  TaskStatus,
} from './types';
