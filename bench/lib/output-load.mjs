// The `output` scenario's load client, its own process: raw keep-alive sockets reading event streams, counting the
// bytes, the frames and the output text each one received, and when it had what it waited for. Driven over IPC.
import net from 'node:net';
import { serve } from './ipc.mjs';

/** @type {Conn[]} */
let conns = [];

class Conn {
  constructor(socket, until) {
    this.socket = socket;
    /** What ends the wait: `event: complete` (the tokens run) or the first `output` frame (a late joiner). */
    this.until = until;
    this.tail = '';
    this.headersDone = false;
    this.bytes = 0;
    this.frames = 0;
    this.textChars = 0;
    this.ready = false;
    this.doneAt = 0;
  }
}

const OUTPUT = 'event: output\n';
const TEXT = '"text":"';

/**
 * Counts a chunk: frames end with a blank line (JSON text holds no raw newline). For output frames, adds the length
 * of `text` (the JSON string's, escapes unfolded only for `\"`, enough for this ASCII text).
 */
function onData(conn, chunk) {
  conn.bytes += chunk.length;
  let buf = conn.tail + chunk;
  if (!conn.headersDone) {
    const head = buf.indexOf('\r\n\r\n');
    if (head === -1) return void (conn.tail = buf);
    conn.headersDone = true;
    buf = buf.slice(head + 4);
  }
  let start = 0;
  let end;
  while ((end = buf.indexOf('\n\n', start)) !== -1) {
    conn.frames++;
    // Chunked transfer encoding puts size lines between chunks; the frames this counts never span one here.
    const frameStart = buf.indexOf('event: ', start);
    if (frameStart !== -1 && frameStart < end) {
      if (buf.startsWith(OUTPUT, frameStart)) {
        const at = buf.indexOf(TEXT, frameStart);
        if (at !== -1 && at < end) conn.textChars += end - (at + TEXT.length) - 2; // minus `"}`
        if (conn.until === 'output' && conn.doneAt === 0) conn.doneAt = performance.now();
      } else if (buf.startsWith('event: status', frameStart)) {
        conn.ready = true;
      } else if (buf.startsWith('event: complete', frameStart) && conn.doneAt === 0) {
        conn.doneAt = performance.now();
      }
    } else if (buf.startsWith('retry:', start) || buf.includes('\nretry:', start)) {
      conn.ready = true;
    }
    start = end + 2;
  }
  conn.tail = buf.slice(start);
}

function connect(port, path, until) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const conn = new Conn(socket, until);
    socket.setEncoding('latin1');
    socket.on('connect', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`),
    );
    socket.on('data', (chunk) => {
      onData(conn, chunk);
      if (conn.ready) resolve(conn);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(conn));
    conns.push(conn);
  });
}

/** Opens `count` streams, `parallel` connecting at a time; resolves once each has its first frame. */
async function open({ port, path, count, parallel = 200, until }) {
  const startedAt = performance.now();
  let next = 0;
  const opened = [];
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        next++;
        opened.push(await connect(port, path, until));
      }
    }),
  );
  return { ms: performance.now() - startedAt, startedAt, opened: opened.length };
}

/** Waits until every stream has what it waits for (or `timeoutMs`); then the totals, and closes them all. */
async function wait({ timeoutMs = 60_000, since }) {
  const until = performance.now() + timeoutMs;
  while (conns.some((c) => c.doneAt === 0) && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const done = conns.filter((c) => c.doneAt !== 0);
  const result = {
    streams: conns.length,
    done: done.length,
    lastDoneMs: Math.max(...done.map((c) => c.doneAt)) - since,
    bytes: conns.reduce((sum, c) => sum + c.bytes, 0),
    frames: conns.reduce((sum, c) => sum + c.frames, 0),
    minTextChars: Math.min(...conns.map((c) => c.textChars)),
    maxTextChars: Math.max(...conns.map((c) => c.textChars)),
  };
  for (const c of conns) c.socket.destroy();
  conns = [];
  return result;
}

serve({ open, wait, now: async () => ({ now: performance.now() }), cpu: async () => process.cpuUsage() });
