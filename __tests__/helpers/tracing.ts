import { context, trace, type Attributes, type SpanKind, type SpanStatus } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** A finished span as a test compares it: plain data, also what a child process writes as JSON. */
export interface SpanRecord {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  /** The parent's span id; none for a root span. */
  parentSpanId: string | undefined;
  attributes: Attributes;
  status: SpanStatus;
  events: Array<{ name: string; attributes: Attributes }>;
  links: Array<{ traceId: string; spanId: string }>;
}

export function recordOf(span: ReadableSpan): SpanRecord {
  const { traceId, spanId } = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    traceId,
    spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: { ...span.attributes },
    status: { ...span.status },
    events: span.events.map((event) => ({ name: event.name, attributes: { ...event.attributes } })),
    links: span.links.map((link) => ({ traceId: link.context.traceId, spanId: link.context.spanId })),
  };
}

export interface Tracing {
  /** The spans finished so far, in the order they ended. */
  spans(): SpanRecord[];
  /** Unregisters the provider and the context manager. */
  close(): Promise<void>;
}

/**
 * What an app does to trace: the real OpenTelemetry SDK, registered globally (a tracer provider exporting to memory,
 * and the AsyncLocalStorage context manager, as the Node SDK registers them).
 */
export function startTracing(): Tracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  return {
    spans: () => exporter.getFinishedSpans().map(recordOf),
    async close() {
      trace.disable();
      context.disable();
      await provider.shutdown();
    },
  };
}
