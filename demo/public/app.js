// The page's script: start a report (POST /tasks, with an Idempotency-Key so a retried POST never starts it twice),
// show the server's message next to each field it refuses (400 invalid_input), follow the report (watchTask on
// /tasks/:id/events, from the package's browser client), cancel it (DELETE /tasks/:id). The task id goes in the URL
// hash, so a reload picks the same task up again. "My reports" follows every report of this browser on one stream
// (watchTasks on /tasks/events).
import { watchTask, watchTasks } from '/client/index.js';

const $ = (id) => document.getElementById(id);
const form = $('report-form');
const ui = {
  generate: $('generate'),
  summarize: $('summarize'),
  text: $('text'),
  logPanel: $('log-panel'),
  log: $('log'),
  logCount: $('log-count'),
  cancel: $('cancel'),
  task: $('task'),
  title: $('task-title'),
  badge: $('badge'),
  progress: $('progress'),
  bar: document.querySelector('#progress .bar'),
  status: $('status'),
  steps: $('steps'),
  result: $('result'),
  download: $('download'),
  summary: $('summary'),
};
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const count = new Intl.NumberFormat('en-US');

/** The task on screen: its id, the function that stops following it, and the step shown last. */
let current;

$('month').value = previousMonth();
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(form);
  void start('report', { report: data.get('report'), month: data.get('month'), fail: data.get('fail') === 'on' });
});
ui.summarize.addEventListener('click', () => void start('summary', { month: new FormData(form).get('month') }));
ui.cancel.addEventListener('click', () => void cancel());
void resumeFromHash();
followMine();

async function start(type, input) {
  stopFollowing();
  clearFieldErrors();
  const title = titleOf(type, input);
  show(title);
  setStatus('Starting…');
  // One key per click: if the network drops the answer, the retry below replays the same task instead of a second.
  const key = randomKey();
  let response;
  for (let attempt = 1; response === undefined; attempt++) {
    try {
      response = await fetch('/tasks', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify({ type, input }),
      });
    } catch {
      if (attempt === 3) return problem('The server cannot be reached. Is the demo still running?');
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
  const body = await response.json().catch(() => ({}));
  if (body.error?.code === 'invalid_input' && showFieldErrors(body.error.issues)) {
    ui.task.hidden = true;
    return;
  }
  if (!response.ok) return problem(body.error?.message ?? `The server answered ${response.status}.`);
  sessionStorage.setItem(`title:${body.id}`, title);
  // "My reports" may have heard of the task before this answer: give its row the title too.
  const named = document.querySelector(`#mine-list li[data-task-id="${body.id}"] .name`);
  if (named?.firstChild) named.firstChild.textContent = title;
  history.replaceState(null, '', `#task=${encodeURIComponent(body.id)}`);
  follow(body);
}

/** A random Idempotency-Key (crypto.randomUUID() needs a secure context; getRandomValues does not). */
function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Shows the first issue of each field next to it; false when one is about no field of the form. */
function showFieldErrors(issues = []) {
  const placed = issues.map((issue) => {
    const field = form.elements.namedItem(String(issue.path?.[0] ?? ''));
    const error = form.querySelector(`[data-error-for="${field?.name}"]`);
    if (field === null || error === null) return false;
    if (error.hidden) error.textContent = issue.message;
    error.hidden = false;
    field.setAttribute('aria-invalid', 'true');
    return true;
  });
  form.querySelector('[aria-invalid="true"]')?.focus();
  return issues.length > 0 && placed.every(Boolean);
}

function clearFieldErrors() {
  for (const error of form.querySelectorAll('.field-error')) {
    error.hidden = true;
    error.textContent = '';
  }
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
}

/** After a reload: find the task in the hash again, or say it is gone. */
async function resumeFromHash() {
  const id = new URLSearchParams(location.hash.slice(1)).get('task');
  if (!id) return;
  show(sessionStorage.getItem(`title:${id}`) ?? 'Report');
  const snapshot = await fetchTask(id);
  if (snapshot !== undefined) follow(snapshot);
}

function follow(snapshot) {
  const task = { id: snapshot.id, stop: () => {}, step: undefined };
  current = task;
  render(task, snapshot);
  setRunning(true);

  const onScreen = (handle) => (data) => {
    if (current === task) handle(data);
  };
  const finished = (snap) => finish(task, snap);
  task.stop = watchTask(`/tasks/${encodeURIComponent(snapshot.id)}/events`, {
    onStatus: onScreen((snap) => render(task, snap)),
    onProgress: onScreen(({ percent, message }) => progress(task, percent, message)),
    // The task's output, whole after any reload, resume or reset: the summary's text, the report's log.
    onOutput: onScreen((text) => showOutput(snapshot.type, text)),
    onComplete: finished,
    onFailed: finished,
    onCancelled: finished,
    onConnection: onScreen((state) => {
      if (state === 'reconnecting') setStatus('Connection lost; reconnecting…');
      else if (state === 'streaming') setStatus(task.step ?? 'Waiting for the report to start…');
    }),
    // The stream and the long-poll fallback both gave up: say why instead of spinning.
    onError: onScreen((error) => {
      if (error.code === 'not_found') {
        problem('This task no longer exists on the server: it expired, or the server restarted.');
      } else if (error.code === 'unreachable') problem('The server cannot be reached. Is the demo still running?');
      else problem(`The server answered ${error.status ?? 'with an error'} for this task.`);
    }),
  });
}

/** GET /tasks/:id; shows a message and resolves `undefined` if the task is gone or the server is unreachable. */
async function fetchTask(id) {
  try {
    const response = await fetch(`/tasks/${encodeURIComponent(id)}`);
    if (response.status === 404) {
      return void problem('This task no longer exists on the server: it expired, or the server restarted.');
    }
    if (!response.ok) return void problem(`The server answered ${response.status} for this task.`);
    return await response.json();
  } catch {
    return void problem('The server cannot be reached. Is the demo still running?');
  }
}

async function cancel() {
  const task = current;
  if (task === undefined) return;
  ui.cancel.disabled = true;
  setStatus('Cancelling…');
  try {
    const response = await fetch(`/tasks/${encodeURIComponent(task.id)}`, { method: 'DELETE' });
    // 202: the `cancelled` event follows on the stream. 409: it finished first, and that event follows instead.
    if (response.status === 404) problem('This task no longer exists on the server.');
    else if (!response.ok && response.status !== 409) problem(`Cancel failed: the server answered ${response.status}.`);
  } catch {
    problem('The server cannot be reached. Is the demo still running?');
  }
}

function render(task, snapshot) {
  setBadge(snapshot.status);
  setProgress(snapshot.progress);
  if (snapshot.message !== undefined) addStep(task, snapshot.message);
  else if (snapshot.status === 'queued') setStatus('Queued: waiting for a free worker…');
  else if (snapshot.status === 'running') setStatus('Starting…');
  if (['completed', 'failed', 'cancelled'].includes(snapshot.status)) finish(task, snapshot);
}

function progress(task, percent, message) {
  setBadge('running');
  setProgress(percent);
  if (message !== undefined) addStep(task, message);
}

function finish(task, snapshot) {
  task.stop();
  if (current !== task) return;
  current = undefined;
  setRunning(false);
  setBadge(snapshot.status);
  const active = ui.steps.querySelector('li.active');
  if (snapshot.status === 'completed' && snapshot.type === 'summary') {
    if (active) active.className = 'done';
    setProgress(100);
    setStatus(`Summary written: ${count.format(snapshot.result.words)} words.`);
  } else if (snapshot.status === 'completed') {
    if (active) active.className = 'done';
    setProgress(100);
    const { url, rows, orders, revenue } = snapshot.result;
    ui.download.href = url;
    ui.summary.textContent = `${count.format(rows)} rows · ${count.format(orders)} orders · ${money.format(revenue)}`;
    ui.result.hidden = false;
    setStatus(`Report ready: ${count.format(rows)} rows.`);
  } else if (snapshot.status === 'failed') {
    if (active) active.className = 'failed';
    setStatus(`Failed: ${snapshot.error?.message ?? 'no reason given'}`, 'error');
  } else {
    if (active) active.className = 'cancelled';
    setStatus('Cancelled. No file was written.');
  }
}

function addStep(task, message) {
  setStatus(`${message}…`);
  if (task.step === message) return;
  task.step = message;
  const active = ui.steps.querySelector('li.active');
  if (active) active.className = 'done';
  const item = document.createElement('li');
  item.className = 'active';
  item.textContent = message;
  ui.steps.append(item);
}

function show(title) {
  ui.task.hidden = false;
  ui.title.textContent = title;
  ui.steps.replaceChildren();
  showOutput(undefined, '');
  ui.result.hidden = true;
  ui.download.removeAttribute('href');
  setBadge('queued');
  setProgress(0);
  setStatus('');
}

function showOutput(type, text) {
  ui.text.hidden = type !== 'summary' || text === '';
  ui.text.textContent = type === 'summary' ? text : '';
  ui.logPanel.hidden = type !== 'report' || text === '';
  ui.log.textContent = type === 'report' ? text : '';
  ui.log.scrollTop = ui.log.scrollHeight;
  const lines = type === 'report' ? text.split('\n').length - 1 : 0;
  ui.logCount.textContent = lines === 0 ? '' : `(${lines} lines)`;
}

function problem(message) {
  if (current !== undefined) current.stop();
  current = undefined;
  const active = ui.steps.querySelector('li.active');
  if (active) active.className = 'stopped';
  setRunning(false);
  setBadge('error');
  setStatus(message, 'error');
}

function stopFollowing() {
  if (current !== undefined) current.stop();
  current = undefined;
}

function setRunning(running) {
  ui.generate.disabled = running;
  ui.summarize.disabled = running;
  ui.cancel.hidden = !running;
  ui.cancel.disabled = !running;
}

function setBadge(status) {
  ui.badge.textContent = status;
  ui.badge.dataset.status = status;
  ui.progress.dataset.status = status;
}

function setProgress(percent) {
  const value = Math.max(0, Math.min(100, Math.round(percent)));
  ui.bar.style.width = `${value}%`;
  ui.progress.setAttribute('aria-valuenow', String(value));
}

function setStatus(text, tone = '') {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
}

function titleOf(type, { report, month }) {
  const name = type === 'summary' ? 'Summary' : report === 'weekly-sales' ? 'Weekly sales' : 'Daily sales';
  const match = /^(\d{4})-(\d{2})$/.exec(month);
  if (!match) return `${name} · ${month || 'no month'}`;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
  return `${name} · ${date.toLocaleDateString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' })}`;
}

function previousMonth() {
  const now = new Date();
  const date = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return date.toISOString().slice(0, 7);
}

/** "My reports": every report of this browser (the owner cookie), on one stream however many there are. */
function followMine() {
  const list = $('mine-list');
  const rows = new Map();
  const row = (taskId) => {
    let item = rows.get(taskId);
    if (item === undefined) {
      item = document.createElement('li');
      item.dataset.taskId = taskId;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = sessionStorage.getItem(`title:${taskId}`) ?? `Task ${taskId.slice(0, 8)}`;
      const mini = document.createElement('div');
      mini.className = 'mini';
      mini.append(document.createElement('div'));
      const state = document.createElement('span');
      state.className = 'state';
      item.append(name, mini, state);
      rows.set(taskId, item);
      list.prepend(item);
      $('mine').hidden = false;
    }
    return item;
  };
  const show = (taskId, status, percent) => {
    const item = row(taskId);
    item.dataset.status = status;
    item.querySelector('.mini > div').style.width = `${Math.round(percent)}%`;
    item.querySelector('.state').textContent = status === 'running' ? `${Math.round(percent)}%` : status;
  };
  const ended = (snap) => {
    show(snap.taskId, snap.status, snap.status === 'completed' ? 100 : snap.progress);
    if (snap.status === 'completed' && snap.type === 'report') {
      const link = document.createElement('a');
      link.href = snap.result.url;
      link.textContent = 'CSV';
      link.setAttribute('download', '');
      const name = row(snap.taskId).querySelector('.name');
      name.append(' · ', link);
    }
  };
  watchTasks('/tasks/events', {
    onStatus: (snap) => show(snap.taskId, snap.status, snap.progress),
    onProgress: ({ taskId, percent }) => show(taskId, 'running', percent),
    onComplete: ended,
    onFailed: ended,
    onCancelled: ended,
  });
}
