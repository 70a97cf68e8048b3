// node bench/metrics-cost.mjs — what koa-sse-tasks/metrics adds to each committed event, in one process (no
// sockets): a job commits 50,000 progress events on the memory store, with and without tasksMetrics(), 7 times each,
// alternating; prints the server CPU per event (user + system) of each run and the medians. Build first.
import { setImmediate as turn } from 'node:timers/promises';
import { TaskRunner } from 'koa-sse-tasks';
import { tasksMetrics } from 'koa-sse-tasks/metrics';

const EVENTS = 50_000;
const RUNS = 7;

async function once(withMetrics) {
  const runner = new TaskRunner({ historyLimit: 100 });
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  runner.on('event', (_id, event) => event.event === 'complete' && done());
  runner.define('progress', async (job) => {
    for (let i = 0; i < EVENTS; i++) {
      job.progress(i % 100);
      if (i % 1000 === 0) await turn();
    }
  });
  if (withMetrics) tasksMetrics({ runner });
  const cpu = process.cpuUsage();
  await runner.start('progress');
  await finished;
  const used = process.cpuUsage(cpu);
  await runner.close();
  return (used.user + used.system) / EVENTS;
}

const runs = { off: [], on: [] };
for (let i = 0; i < RUNS; i++) {
  runs.off.push(await once(false));
  runs.on.push(await once(true));
}
const median = (values) => values.toSorted((a, b) => a - b)[values.length >> 1];
for (const [name, values] of Object.entries(runs)) {
  const each = values.map((v) => v.toFixed(2)).join(' ');
  console.log(`metrics ${name.padEnd(3)}: ${median(values).toFixed(2)} µs of CPU per committed event (runs: ${each})`);
}
