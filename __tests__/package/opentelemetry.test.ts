import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// `@opentelemetry/api` is an optional peer dependency that the root entry requires only when the app has registered
// something with it. These run the built package (npm test builds first) in a fresh node, as an app would.
const root = path.resolve(__dirname, '../..');

/** Runs two no-op tasks through the built root entry, then prints what `report` says (an expression, as JSON). */
function runTasks(setup: string, report: string, preload?: string): unknown {
  const script = [
    setup,
    "const { TaskRunner } = require('koa-sse-tasks');",
    '(async () => {',
    '  const runner = new TaskRunner();',
    "  runner.define('noop', () => 'done');",
    '  const statuses = [];',
    '  for (let i = 0; i < 2; i++) {',
    "    const { id } = await runner.start('noop');",
    '    let snapshot;',
    "    while ((snapshot = await runner.get(id)).status !== 'completed' && snapshot.status !== 'failed')",
    '      await new Promise((resolve) => setTimeout(resolve, 5));',
    '    statuses.push(snapshot.status);',
    '  }',
    '  await runner.close();',
    `  console.log(JSON.stringify(${report}));`,
    '})();',
  ].join('\n');
  const args = preload === undefined ? ['-e', script] : ['--require', preload, '-e', script];
  return JSON.parse(execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' })) as unknown;
}

/** Whether any module of `@opentelemetry/` was loaded in the child. */
const LOADED = "Object.keys(require.cache).some((file) => file.includes('@opentelemetry'))";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'koa-sse-tasks-otel-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the root entry and @opentelemetry/api', () => {
  it('runs tasks when @opentelemetry/api is not installed, and looks for it once', () => {
    // Makes the module unresolvable, as in an app that never installed it, and counts the attempts. The registry
    // another copy of the API would leave is set, so the runner does try to require it.
    const preload = path.join(dir, 'no-opentelemetry.js');
    writeFileSync(
      preload,
      [
        "const Module = require('node:module');",
        'const resolve = Module._resolveFilename;',
        'globalThis.lookups = 0;',
        'Module._resolveFilename = function (request, ...rest) {',
        "  if (request === '@opentelemetry/api' || request.startsWith('@opentelemetry/api/')) {",
        '    globalThis.lookups++;',
        "    throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });",
        '  }',
        '  return resolve.call(this, request, ...rest);',
        '};',
        "globalThis[Symbol.for('opentelemetry.js.api.1')] = { version: '1.9.1' };",
      ].join('\n'),
    );
    const report = runTasks('', `{ statuses, lookups: globalThis.lookups, loaded: ${LOADED} }`, preload);
    expect(report).toEqual({ statuses: ['completed', 'completed'], lookups: 1, loaded: false });
  });

  it('does not load @opentelemetry/api while the app has registered nothing with it', () => {
    expect(runTasks('', `{ statuses, loaded: ${LOADED} }`)).toEqual({
      statuses: ['completed', 'completed'],
      loaded: false,
    });
  });

  it('traces from the built package once the app registers a tracer provider', () => {
    const setup = [
      "const { trace } = require('@opentelemetry/api');",
      "const sdk = require('@opentelemetry/sdk-trace-base');",
      'const exporter = new sdk.InMemorySpanExporter();',
      'trace.setGlobalTracerProvider(new sdk.BasicTracerProvider({ spanProcessors: [new sdk.SimpleSpanProcessor(exporter)] }));',
    ].join('\n');
    const list =
      'exporter.getFinishedSpans().map((s) => [s.name, s.parentSpanContext?.spanId ?? null, s.spanContext().spanId])';
    type Report = { statuses: string[]; spans: Array<[name: string, parent: string | null, id: string]> };
    const { statuses, spans } = runTasks(setup, `{ statuses, spans: ${list} }`) as Report;
    expect(statuses).toEqual(['completed', 'completed']);
    expect(spans.map(([name]) => name)).toEqual([
      'task.enqueue noop',
      'task.run noop',
      'task.enqueue noop',
      'task.run noop',
    ]);
    for (const [enqueue, run] of [spans.slice(0, 2), spans.slice(2)] as Array<typeof spans>) {
      expect(enqueue![1]).toBeNull();
      expect(run![1]).toBe(enqueue![2]);
    }
  });
});
