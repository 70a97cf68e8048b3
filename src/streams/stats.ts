import type { WriteStats } from '../sse/stream';

/** The kinds of event stream: one task's, a `?ids=` set's, an owner feed. */
export const STREAM_KINDS = ['task', 'set', 'owner'] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

/** Why a stream was refused with a 503: the limit reached, or `close()`. */
export const REFUSAL_REASONS = ['max_connections', 'max_per_task', 'shutting_down'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/**
 * How a stream request with a Last-Event-ID went: its events replayed, a `reset` and a fresh start (the position
 * could not be replayed from), or a 204 (the client already had the end).
 */
export const RESUME_OUTCOMES = ['replayed', 'reset', 'ended'] as const;
export type ResumeOutcome = (typeof RESUME_OUTCOMES)[number];

/** How a long-poll was answered: with events after `after`, empty after `wait`, or with a fresh start. */
export const LONG_POLL_OUTCOMES = ['events', 'timeout', 'fresh'] as const;
export type LongPollOutcome = (typeof LONG_POLL_OUTCOMES)[number];

type Counts<Label extends string> = Record<Label, number>;

const zeros = <Label extends string>(labels: readonly Label[]): Counts<Label> =>
  Object.fromEntries(labels.map((label) => [label, 0])) as Counts<Label>;

/**
 * What one `sseTasks()` middleware's streams and long-polls did, as plain counters (`tasks.stats`) that
 * `koa-sse-tasks/metrics` reads when scraped. Nothing but additions happens on the way: no event, no call.
 */
export class StreamStats implements WriteStats {
  /** Frames (events, heartbeats, `retry:` lines) written to event streams, and their bytes. */
  frames = 0;
  bytes = 0;
  /** Clients that backed up and had frames coalesced (once each), and slow clients disconnected. */
  coalesced = 0;
  disconnected = 0;
  /** Streams open now, by kind. */
  readonly open = zeros(STREAM_KINDS);
  /** Streams opened (answered 200), by kind. */
  readonly connections = zeros(STREAM_KINDS);
  readonly refusals = zeros(REFUSAL_REASONS);
  readonly resumes = zeros(RESUME_OUTCOMES);
  readonly longPolls = zeros(LONG_POLL_OUTCOMES);
}
