// What the demo's processes share: reading the environment, listening, and a clean stop on SIGINT or SIGTERM.
import http from 'node:http';

/** An integer >= 0 from the environment, or `fallback` when unset; anything else exits with a message. */
export function integerEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) exit(`expected ${name} to be an integer >= 0, got ${JSON.stringify(raw)}`);
  return value;
}

/** Prints `demo: <message>` on stderr and exits with 1. */
export function exit(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

/** Serves `app` on `host:port` (0: a free port); resolves with the server and the URL it answers on. */
export function listen(app, port, host) {
  return new Promise((resolve, reject) => {
    const server = http.createServer(app.callback());
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const { address, port: actual } = server.address();
      resolve({ server, url: `http://${address.includes(':') ? `[${address}]` : address}:${actual}` });
    });
  }).catch((error) => exit(`cannot listen on ${host}:${port}: ${error.message}`));
}

/**
 * Stops a web process: stops taking connections, closes the runner (with the memory store, the running tasks fail
 * and pages see why), ends the event streams left, then drops the connections that remain.
 */
export async function stopWeb({ server, runner, tasks }) {
  const closed = new Promise((resolve) => server.close(resolve));
  await runner.close();
  tasks.close();
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), 2000);
  timer.unref();
  await closed;
}

/**
 * Runs `stop` once, on the first SIGINT or SIGTERM or when the returned function is called; a second signal (a
 * second Ctrl-C) exits at once with 1.
 */
export function onStop(stop) {
  let stopping;
  let signalled = false;
  const trigger = () => {
    stopping ??= Promise.resolve()
      .then(stop)
      .catch((error) => {
        console.error('demo: stopping failed:', error);
        process.exitCode = 1;
      });
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (signalled) process.exit(1);
      signalled = true;
      void trigger();
    });
  }
  return trigger;
}
