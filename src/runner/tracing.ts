// OpenTelemetry traces of the runner: a `task.enqueue <type>` span (PRODUCER) around each start, and a
// `task.run <type>` span (CONSUMER) around each attempt, its parent the enqueue span. The trace travels with the task:
// the store keeps the enqueue span's W3C `traceparent` and gives it back with the claim, in whatever process that is.
//
// `@opentelemetry/api` is an optional peer dependency: a static import would make every user install it, so it is
// required once, when first needed, and a missing one means no tracing. Until the app registers something with the
// API, each start and attempt costs one property lookup (the API's global registry), and the API is not even loaded;
// once it has, one look at the global tracer provider, and nothing is recorded until that is a real one.
import type * as Api from '@opentelemetry/api';
import type { EnqueueOnceOutcome } from '../store/types';
import type { TaskEvent, TaskSnapshot } from '../types';
import { isFinished } from '../vocabulary';
import { messageOf, type Outcome } from './attempt';

type OpenTelemetry = typeof Api;

const TRACER_NAME = 'koa-sse-tasks';
/** Version 00 of W3C Trace Context: `00-<trace id>-<span id>-<flags>`. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Where `@opentelemetry/api` 1.x keeps what the app registered (provider, context manager, propagator), shared by
 * every copy of the API in the process: absent until the app registers one.
 */
const REGISTRY = Symbol.for('opentelemetry.js.api.1');

/** `@opentelemetry/api` once required; `null` when it is not installed. */
let api: OpenTelemetry | null | undefined;

function openTelemetry(): OpenTelemetry | null {
  if (api === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional peer, required only if present
      api = require('@opentelemetry/api') as OpenTelemetry;
    } catch {
      api = null;
    }
  }
  return api;
}

/** The API, once the app has registered something with it (and it is installed); `null` before. */
function registered(): OpenTelemetry | null {
  return (globalThis as { [REGISTRY]?: unknown })[REGISTRY] === undefined ? null : openTelemetry();
}

/**
 * Runs `fn` outside any span. What a runner does for a claimed task (its commits, its timers, its attempts) must not
 * join the trace of whichever request happened to wake the runner, nor keep that span's context alive meanwhile.
 */
export function detached<T>(fn: () => T): T {
  const otel = registered();
  return otel === null ? fn() : otel.context.with(otel.ROOT_CONTEXT, fn);
}

/** The API and the runner's tracer. */
interface Tracing {
  otel: OpenTelemetry;
  tracer: Api.Tracer;
}

/** The API and the runner's tracer, or `undefined` while no tracer provider is registered (or no API installed). */
function tracing(): Tracing | undefined {
  const otel = registered();
  if (otel === null) return undefined;
  // Before the app registers one, the global provider is the API's proxy with no delegate, whose spans are no-ops;
  // its `getDelegateTracer` says so (read by name: the class is deprecated, the method is how it answers).
  const provider: Api.TracerProvider & { getDelegateTracer?(name: string): Api.Tracer | undefined } =
    otel.trace.getTracerProvider();
  const tracer =
    provider.getDelegateTracer === undefined
      ? provider.getTracer(TRACER_NAME)
      : provider.getDelegateTracer(TRACER_NAME);
  return tracer === undefined ? undefined : { otel, tracer };
}

/**
 * Runs `enqueue` (the store's write of a new task) inside a `task.enqueue <type>` span, a child of the active span
 * (the app's HTTP server span for a `POST /tasks`), giving it the span's `traceparent` to store with the task.
 * Without tracing, `enqueue` gets `undefined` and nothing else happens.
 */
export function traceEnqueue<Outcome extends TaskEvent | EnqueueOnceOutcome>(
  snapshot: TaskSnapshot,
  enqueue: (traceparent: string | undefined) => Promise<Outcome>,
): Promise<Outcome> {
  const found = tracing();
  return found === undefined ? enqueue(undefined) : enqueueInSpan(found, snapshot, enqueue);
}

async function enqueueInSpan<Outcome extends TaskEvent | EnqueueOnceOutcome>(
  { otel, tracer }: Tracing,
  snapshot: TaskSnapshot,
  enqueue: (traceparent: string | undefined) => Promise<Outcome>,
): Promise<Outcome> {
  const { id, type } = snapshot;
  const span = tracer.startSpan(`task.enqueue ${type}`, {
    kind: otel.SpanKind.PRODUCER,
    attributes: { 'task.id': id, 'task.type': type },
  });
  try {
    const active = otel.trace.setSpan(otel.context.active(), span);
    const outcome = await otel.context.with(active, () => enqueue(traceparentOf(otel, span.spanContext())));
    // An idempotency key that had started a task already: this span started nothing, and names that task.
    const replayed = 'created' in outcome && !outcome.created;
    const task = replayed ? outcome.record.snapshot : snapshot;
    span.setAttributes({ 'task.id': task.id, 'task.status': task.status, 'task.replayed': replayed });
    return outcome;
  } catch (error) {
    failed(span, otel, error, messageOf(error));
    throw error;
  } finally {
    span.end();
  }
}

/** One attempt of a task, as its `task.run` span describes it. */
export interface TracedAttempt {
  id: string;
  type: string;
  attempt: number;
  /** What the store gave back with the claim: the enqueue span to continue, if there was one. */
  traceparent: string | undefined;
}

/**
 * Runs one attempt (`run` calls the handler) inside a `task.run <type>` span whose parent is the task's enqueue
 * span, so the handler's own spans nest under it. `snapshot()` is the task as the attempt left it: its `task.status`
 * is the status it finished with (`completed`, `failed` or `cancelled`), or how the attempt ended when a retry follows.
 */
export function traceAttempt(
  task: TracedAttempt,
  run: () => Promise<Outcome>,
  snapshot: () => TaskSnapshot,
): Promise<Outcome> {
  const found = tracing();
  if (found === undefined) return run();
  const { otel, tracer } = found;
  // Never the context active here: that is whatever request or claim happened to wake the runner.
  const parent = remoteParent(otel, task.traceparent);
  const span = tracer.startSpan(
    `task.run ${task.type}`,
    {
      kind: otel.SpanKind.CONSUMER,
      attributes: { 'task.id': task.id, 'task.type': task.type, 'task.attempt': task.attempt },
    },
    parent,
  );
  return otel.context.with(otel.trace.setSpan(parent, span), run).then((outcome) => {
    const now = snapshot();
    const status = isFinished(now.status) ? now.status : outcome.ok ? 'completed' : 'failed';
    span.setAttribute('task.status', status);
    if (status === 'failed' && outcome.ok) failed(span, otel, undefined, now.error?.message ?? 'The task failed');
    else if (status === 'failed' && !outcome.ok) failed(span, otel, outcome.error, outcome.message);
    span.end();
    return outcome;
  });
}

/** Marks the span failed: an exception event (the error thrown, or else its message) and ERROR status. */
function failed(span: Api.Span, otel: OpenTelemetry, error: unknown, message: string): void {
  span.recordException(exceptionOf(error, message));
  span.setStatus({ code: otel.SpanStatusCode.ERROR, message });
}

/**
 * What the exception event says of an error, read once here: a getter or a Proxy that throws gives the message alone.
 * Read by shape, not `instanceof` (a DOMException, an error of another realm). A `code` is its type only when it is a
 * string (ours, `queue_full`...): a DOMException's is a legacy number.
 */
function exceptionOf(error: unknown, message: string): Api.Exception {
  if (typeof error !== 'object' || error === null) return message;
  try {
    const { name, stack, code } = error as { name?: unknown; stack?: unknown; code?: unknown };
    const exception: { code?: string; name?: string; message: string; stack?: string } = { message };
    if (typeof code === 'string') exception.code = code;
    if (typeof name === 'string') exception.name = name;
    if (typeof stack === 'string') exception.stack = stack;
    return exception;
  } catch {
    return message;
  }
}

/** The span's context as a W3C `traceparent`; `undefined` for an invalid one (a span of no trace). */
function traceparentOf(otel: OpenTelemetry, context: Api.SpanContext): string | undefined {
  if (!otel.trace.isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The root context with the stored `traceparent` as its remote span; just the root context without a valid one. */
function remoteParent(otel: OpenTelemetry, traceparent: string | undefined): Api.Context {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  if (match === null) return otel.ROOT_CONTEXT;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  const context: Api.SpanContext = { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
  return otel.trace.isSpanContextValid(context)
    ? otel.trace.setSpanContext(otel.ROOT_CONTEXT, context)
    : otel.ROOT_CONTEXT;
}
