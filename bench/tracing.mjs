// What tracing costs the runner: the CPU time (user + system, so other load on the machine matters less than for a
// rate) of N no-op tasks started and run (runner.start() until the last `complete` event) with the memory store, in
// three set-ups, each round a fresh process, the set-ups interleaved:
//
//   off       the app registers nothing with @opentelemetry/api (the runner does not even load it)
//   api-only  the app registers the AsyncLocalStorage context manager and uses it (as an HTTP instrumentation does on
//             every request: from then on Node tracks every promise), but no tracer provider: no span is made
//   traced    a BasicTracerProvider (always sampled) and the AsyncLocalStorage context manager: two spans per task,
//             ended into a span processor that drops them, so the figure is the spans' cost, not an exporter's
//
//   npm run build && node bench/tracing.mjs [--tasks=20000] [--rounds=5]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const SETUPS = ['off', 'api-only', 'traced'];

if (process.argv[2] === '--child') {
  await child(process.argv[3], Number(process.argv[4]));
} else {
  const { values } = parseArgs({ options: { tasks: { type: 'string' }, rounds: { type: 'string' } } });
  const tasks = Number(values.tasks ?? 20_000);
  const rounds = Number(values.rounds ?? 5);
  const costs = Object.fromEntries(SETUPS.map((setup) => [setup, []]));
  for (let round = 0; round < rounds; round++) {
    for (const setup of SETUPS) {
      const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', setup, tasks], {
        encoding: 'utf8',
      });
      costs[setup].push(Number(out.trim()));
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const off = median(costs.off);
  console.log(`${tasks} no-op tasks, start to complete: CPU µs per task, median of ${rounds} rounds`);
  for (const setup of SETUPS) {
    const cost = median(costs[setup]);
    const change = setup === 'off' ? '' : ` (${cost >= off ? '+' : ''}${(cost - off).toFixed(1)} µs)`;
    const all = costs[setup].map((value) => value.toFixed(1)).join(' ');
    console.log(`  ${setup.padEnd(9)} ${cost.toFixed(1)}${change}   rounds: ${all}`);
  }
}

async function child(setup, tasks) {
  if (setup !== 'off') {
    const { context, trace } = await import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    context.with(context.active(), () => {});
    if (setup === 'traced') {
      const { BasicTracerProvider, NoopSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }));
    }
  }
  const { TaskRunner } = await import('koa-sse-tasks');
  const runner = new TaskRunner({ concurrency: 16, maxQueued: tasks });
  runner.define('noop', () => null);
  const run = async (count) => {
    let left = count;
    const done = new Promise((resolve) => {
      const onEvent = (_id, event) => {
        if (event.event === 'complete' && --left === 0) {
          runner.off('event', onEvent);
          resolve();
        }
      };
      runner.on('event', onEvent);
    });
    for (let i = 0; i < count; i++) await runner.start('noop');
    await done;
  };
  await run(Math.min(2_000, tasks)); // warm-up
  const cpu = process.cpuUsage();
  await run(tasks);
  const { user, system } = process.cpuUsage(cpu);
  await runner.close();
  console.log((user + system) / tasks);
}
