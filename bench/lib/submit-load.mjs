// The `submit` scenario's load client, its own process: keep-alive HTTP/1.1 POSTs on raw sockets (cheaper than
// fetch, so the server stays the bottleneck), each socket sending the next request as soon as the previous answer is
// complete; it answers with the latency of every answer. Driven by the harness over IPC (./ipc.mjs).
import net from 'node:net';
import { serve } from './ipc.mjs';

let run = 0;

/**
 * `connections` sockets POST `body` to `path` for `ms`. `key`: `'none'`, `'unique'` (a new Idempotency-Key per
 * request) or `'same'` (one key for all: the first creates, the rest are replays). Answers other than `expect` count
 * as `notOk`.
 */
async function post({ port, path, body, key, connections, ms, expect = [202] }) {
  const runId = `${process.pid}-${++run}`;
  let sent = 0;
  const requestFor = () => {
    const header =
      key === 'none' ? '' : `Idempotency-Key: ${key === 'same' ? `same-${runId}` : `${runId}-${sent}`}\r\n`;
    sent++;
    return (
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${header}\r\n${body}`
    );
  };
  const latencies = [];
  let notOk = 0;
  let errors = 0;
  let stopped = false;
  const started = performance.now();
  const timer = setTimeout(() => (stopped = true), ms);
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise((resolve) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.setNoDelay(true);
          socket.setEncoding('latin1');
          let buf = '';
          let at = 0;
          const next = () => {
            at = performance.now();
            socket.write(requestFor());
          };
          socket.on('connect', next);
          socket.on('data', (chunk) => {
            buf += chunk;
            for (;;) {
              const head = buf.indexOf('\r\n\r\n');
              if (head === -1) return;
              const length = /\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, head));
              const total = head + 4 + (length === null ? 0 : Number(length[1]));
              if (buf.length < total) return;
              const status = Number(buf.slice(9, 12));
              if (!expect.includes(status)) notOk++;
              buf = buf.slice(total);
              latencies.push(performance.now() - at);
              if (stopped) return void socket.end();
              next();
            }
          });
          socket.on('error', () => errors++);
          socket.on('close', resolve);
        }),
    ),
  );
  clearTimeout(timer);
  return { responses: latencies.length, ms: performance.now() - started, latencies, notOk, errors };
}

serve({ post }, { pid: process.pid });
