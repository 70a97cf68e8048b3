// A type test, checked by `npm run typecheck` (tsconfig.browser-tests.json): one TaskType declaration types the
// job's input, its custom events and its result on the server, and the browser client's handlers for the same type.
// Each `@ts-expect-error` is misuse that must not compile: if it ever compiles, the directive itself is an error.
import { TaskRunner, type TaskType } from '../../src';
import { watchTask, watchTasks } from '../../src/client/index.js';

type Summary = TaskType<{ topic: string }, { words: number }, { source: { url: string; title: string } }>;

const runner = new TaskRunner();
/** Uses values, so the checks below need no runtime. */
const use = (...values: unknown[]): number => values.length;

runner.define<Summary>('summary', async (job) => {
  const topic: string = job.input.topic;
  job.emit('source', { url: 'https://a.example', title: topic });
  job.write('text');
  // @ts-expect-error: an event the type does not declare
  job.emit('sources', { url: 'https://a.example', title: topic });
  // @ts-expect-error: a payload of the wrong shape
  job.emit('source', { url: 1, title: topic });
  // @ts-expect-error: an input the type does not have
  use(job.input.month);
  return { words: 812 };
});

// @ts-expect-error: a result of the wrong type
runner.define<Summary>('wrong-result', async () => ({ words: 'many' }));

// Without a TaskType: the input type alone, as before, and any custom event.
runner.define<{ month: string }>('report', (job) => {
  job.emit('anything', { goes: true });
  return job.input.month;
});

watchTask<Summary>('/tasks/1/events', {
  on: {
    source: (data) => {
      const title: string = data.title;
      use(title);
    },
    // @ts-expect-error: a handler for an event the type does not declare
    sources: () => {},
  },
  onComplete: (snapshot) => {
    const words: number | undefined = snapshot.result?.words;
    use(words);
  },
  onOutput: (text, delta) => use(text.length, delta.length),
});

watchTasks<Summary>('/tasks/events', {
  on: { source: (data) => use(data.taskId, data.url) },
  onOutput: (taskId, text) => use(taskId, text),
});

// A result type alone, as before.
watchTask<{ url: string }>('/tasks/1/events', { onComplete: (snapshot) => use(snapshot.result?.url) });
