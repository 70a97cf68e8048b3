import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { context, SpanKind, trace, type Attributes, type SpanStatus } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import type Koa from 'koa';

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

/** The spans of that name. */
export function named(spans: SpanRecord[], name: string): SpanRecord[] {
  return spans.filter((span) => span.name === name);
}

/** The one span of that name; throws, listing the spans, if there are none or several. */
export function one(spans: SpanRecord[], name: string): SpanRecord {
  const found = named(spans, name);
  if (found.length !== 1) throw new Error(`expected one span ${name}, got ${found.length}: ${JSON.stringify(spans)}`);
  return found[0]!;
}

/** The in-memory exporter, which also appends each span to `file` as a line of JSON: how a child process reports. */
class FileSpanExporter extends InMemorySpanExporter {
  readonly #file: string;

  constructor(file: string) {
    super();
    this.#file = file;
  }

  override export(spans: ReadableSpan[], resultCallback: Parameters<InMemorySpanExporter['export']>[1]): void {
    appendFileSync(this.#file, spans.map((span) => `${JSON.stringify(recordOf(span))}\n`).join(''));
    super.export(spans, resultCallback);
  }
}

/** The spans a process wrote with `startTracing({ file })`, so far. */
export function spansIn(file: string): SpanRecord[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  return lines.filter((line) => line !== '').map((line) => JSON.parse(line) as SpanRecord);
}

/** The app's HTTP server span, as an HTTP instrumentation opens it: active while the request is handled. */
export const serverSpan: Koa.Middleware = (ctx, next) =>
  trace.getTracer('app').startActiveSpan(`${ctx.method} ${ctx.path}`, { kind: SpanKind.SERVER }, async (span) => {
    try {
      await next();
    } finally {
      span.end();
    }
  });

export interface Tracing {
  /** The spans finished so far, in the order they ended. */
  spans(): SpanRecord[];
  /** Unregisters the provider and the context manager. */
  close(): Promise<void>;
}

/**
 * What an app does to trace: the real OpenTelemetry SDK, registered globally (a tracer provider exporting to memory,
 * and the AsyncLocalStorage context manager, as the Node SDK registers them). With `file`, each span is also
 * appended to it as a line of JSON (`spansIn(file)` reads them), for a test to read a child process's spans.
 */
export function startTracing({ file }: { file?: string } = {}): Tracing {
  const exporter = file === undefined ? new InMemorySpanExporter() : new FileSpanExporter(file);
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
