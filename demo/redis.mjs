// `npm run demo:redis`: two web instances and a worker, three processes sharing the Redis at REDIS_URL
// (default redis://127.0.0.1:6379). Start a task on one instance and follow it on the other:
//
//   curl -s -X POST localhost:3001/tasks -H 'content-type: application/json' -d '{"type":"report","input":{"steps":20}}'
//   curl -N localhost:3002/tasks/<id>/events
//
// Kill the worker mid-job (its pid is printed) and the task fails within the lease (5 s here); kill a web
// instance and the browser's EventSource resumes on the other with Last-Event-ID.
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { sseTasks, TaskRunner } from 'koa-sse-tasks';
import { RedisStore } from 'koa-sse-tasks/redis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const keyPrefix = 'sse-tasks-demo:';
const [role, port] = process.argv.slice(2);

if (role === undefined) {
  const self = fileURLToPath(import.meta.url);
  const children = [
    fork(self, ['web', '3001']),
    fork(self, ['web', '3002']),
    fork(self, ['worker']),
  ];
  for (const child of children) child.on('message', (message) => console.log(message));
  const stop = () => {
    for (const child of children) child.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} else {
  const store = new RedisStore({ url, keyPrefix, connectionName: `demo-${role}-${port ?? process.pid}` });
  const runner = new TaskRunner({ store, worker: role === 'worker', leaseMs: 5_000 });
  let server;
  if (role === 'worker') {
    runner.define('report', async (job) => {
      const steps = Number(job.input?.steps ?? 10);
      for (let step = 1; step <= steps; step++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        job.signal.throwIfAborted();
        job.progress(Math.round((step / steps) * 100), `Step ${step} of ${steps}`);
      }
      return { rows: steps * 1000, by: `worker ${process.pid}` };
    });
    process.send?.(`worker ${process.pid} runs 'report' jobs`);
  } else {
    runner.define('report'); // declared: this instance starts reports, the worker runs them
    const app = new Koa();
    app.use(sseTasks({ runner, cors: { origin: '*' } }));
    server = http.createServer(app.callback()).listen(Number(port), '127.0.0.1', () => {
      process.send?.(`web ${process.pid}: http://127.0.0.1:${port}/tasks`);
    });
  }
  process.once('SIGTERM', async () => {
    server?.closeAllConnections();
    server?.close();
    await runner.close();
    process.exit(0);
  });
}
