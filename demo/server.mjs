// Starts the demo: `npm run demo`, then open the printed URL.
// Environment: PORT (default 3000; 0 picks a free port), HOST (default 127.0.0.1),
// DEMO_STEP_MS (how long each report step takes, default 700), REPORTS_DIR (default demo/reports/).
import { createDemoApp, DEMO_DEFAULTS } from './app.mjs';

const port = integerEnv('PORT', 3000);
const host = process.env.HOST || '127.0.0.1';
const stepDelayMs = integerEnv('DEMO_STEP_MS', DEMO_DEFAULTS.stepDelayMs);
const reportsDir = process.env.REPORTS_DIR || DEMO_DEFAULTS.reportsDir;

const { app, runner, tasks } = createDemoApp({ reportsDir, stepDelayMs });
const server = app.listen(port, host, () => {
  const { address, port: actual } = server.address();
  const shown = address.includes(':') ? `[${address}]` : address;
  console.log(`listening on http://${shown}:${actual}`);
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) process.exit(1); // a second Ctrl-C: stop waiting
    stopping = true;
    void stop();
  });
}

/** Stops taking connections, fails the running tasks (pages see why), ends the streams left, then drops the rest. */
async function stop() {
  const closed = new Promise((resolve) => server.close(resolve));
  await runner.close();
  tasks.close();
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), 2000);
  timer.unref();
  await closed;
  console.log('demo stopped');
}

function integerEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`demo: expected ${name} to be an integer >= 0, got ${JSON.stringify(raw)}`);
    process.exit(1);
  }
  return value;
}
