import type { FinishedStatus, TaskEventName, TaskStatus } from './types';

/**
 * The one table joining task statuses to the SSE event that announces them. A finished status has its own
 * terminal event; `queued` and `running` are announced by `status`.
 */
export const EVENT_FOR_STATUS: Readonly<Record<TaskStatus, TaskEventName>> = {
  queued: 'status',
  running: 'status',
  completed: 'complete',
  failed: 'failed',
  cancelled: 'cancelled',
};

export function isFinished(status: TaskStatus): status is FinishedStatus {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** True for `complete`, `failed` and `cancelled`: the last event of a task, after which its streams end. */
export function isTerminalEvent(event: string): boolean {
  return event === 'complete' || event === 'failed' || event === 'cancelled';
}
