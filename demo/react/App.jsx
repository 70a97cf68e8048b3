// The demo's React page (/react): the same reports as the plain page, followed with koa-sse-tasks/react. Bundled by
// esbuild when the demo starts (demo/react/bundle.mjs): React from npm, no CDN.
import { useState } from 'react';
import { useOwnerTasks, useStartTask } from 'koa-sse-tasks/react';

export function App() {
  const [month, setMonth] = useState(previousMonth());
  const { start, task, pending, error } = useStartTask('report');
  const mine = useOwnerTasks();
  const monthError = error?.issues?.find((issue) => issue.path[0] === 'month')?.message;
  const submit = (event) => {
    event.preventDefault();
    void start({ month });
  };
  return (
    <main className="card">
      <header>
        <h1>Sales reports · React</h1>
        <p className="lede">
          The same reports, with <code>useStartTask</code>, and <code>useOwnerTasks</code> for the list.
        </p>
      </header>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="month">Month</label>
          <input
            id="month"
            type="month"
            value={month}
            onChange={(event) => setMonth(event.target.value)}
            aria-invalid={monthError === undefined ? undefined : 'true'}
            aria-describedby="month-error"
          />
          <small id="month-error" className="field-error" hidden={monthError === undefined}>
            {monthError}
          </small>
        </div>
        <div className="actions">
          <button
            id="generate"
            type="submit"
            className="primary"
            disabled={pending || task?.connection === 'streaming'}
          >
            {pending ? 'Starting…' : 'Generate'}
          </button>
        </div>
        {error !== undefined && monthError === undefined ? (
          <p className="status" data-tone="error">
            {error.message}
          </p>
        ) : null}
      </form>
      {task === null ? null : <Report task={task} />}
      <section className="mine">
        <h2>My reports</h2>
        <ul id="mine-list" className="mine-list">
          {Object.entries(mine).map(([id, state]) => (
            <li key={id} data-task-id={id} data-status={state.status}>
              <span className="name">
                {state.snapshot?.type ?? 'task'} {id.slice(0, 8)}
              </span>
              <span className="state">
                {state.status === 'running' ? `${Math.round(state.progress)}%` : state.status}
              </span>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}

function Report({ task }) {
  const lines = task.output === '' ? 0 : task.output.trimEnd().split('\n').length;
  return (
    <section className="task" aria-label="Report">
      <div className="task-head">
        <h2>Report</h2>
        <span id="badge" className="badge" data-status={task.status}>
          {task.status ?? 'queued'}
        </span>
      </div>
      <div className="progress" role="progressbar" aria-valuenow={Math.round(task.progress)} data-status={task.status}>
        <div className="bar" style={{ width: `${Math.round(task.progress)}%` }} />
      </div>
      <p id="status" className="status">
        {task.status === 'completed'
          ? `Report ready: ${task.result.rows} rows.`
          : task.status === 'failed'
            ? `Failed: ${task.error?.message}`
            : (task.message ?? 'Starting…')}
      </p>
      {task.result?.url ? (
        <p className="result">
          <a id="download" className="download" href={task.result.url} download>
            Download CSV
          </a>
        </p>
      ) : null}
      {lines > 0 ? (
        <details className="log-panel" open>
          <summary>Log ({lines} lines)</summary>
          <pre id="log" className="log">
            {task.output}
          </pre>
        </details>
      ) : null}
    </section>
  );
}

function previousMonth() {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}
