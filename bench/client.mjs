// The load client, its own process: opens event streams over node:http and parses the SSE frames itself, counts
// lost / duplicate / out-of-order events per connection and the latency of each (client hrtime - server hrtime:
// CLOCK_MONOTONIC on Linux, one clock for every process on the machine). Driven by the harness over IPC.
import http from 'node:http';
import net from 'node:net';
import { openFileLimit, serve } from './lib/ipc.mjs';

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const MESSAGE = '"message":"';
/** At most this many latency samples are kept per measurement (16 MB). */
const MAX_LATENCY_SAMPLES = 2_000_000;

/** @type {Conn[]} */
let conns = [];
/** Sockets of stalled clients (see stall()): not in `conns`, never tracked. */
let stalledSockets = [];
/** @type {Tracker | null} */
let tracker = null;
let trackerIds = 0;
let dropped = 0;

class Conn {
  constructor(readyToken) {
    this.readyToken = readyToken;
    this.req = null;
    this.buf = '';
    this.ready = false;
    this.closing = false;
    this.closed = false;
    this.onReady = null;
    this.onClosed = null;
    // per measurement
    this.trackId = 0;
    this.seen = null;
    this.max = 0;
    this.distinct = 0;
  }
}

class Tracker {
  /** With `latest`, done once every stream has had event `n`, the newest: a coalescing server may skip others. */
  constructor(n, connCount, latest = false) {
    this.id = ++trackerIds;
    this.n = n;
    this.latest = latest;
    this.connCount = connCount;
    this.expected = n * connCount;
    /** Per stream, in `latest` mode: how many distinct events it had, and the delay of event n (ms). */
    this.newest = latest ? [] : null;
    this.distinct = 0;
    this.deliveries = 0;
    this.dup = 0;
    this.ooo = 0;
    this.malformed = 0;
    this.firstSent = Infinity;
    this.lastRecv = 0;
    // In `latest` mode every delivery is kept (a coalescing run delivers fewer; a baseline's 5 M are 40 MB).
    this.latency = new Float64Array(latest ? this.expected : Math.min(this.expected, MAX_LATENCY_SAMPLES));
    this.latencyCount = 0;
    this.cpu = process.cpuUsage();
    this.lastActivity = performance.now();
    this.done = null;
    this.finished = false;
    this.resets = 0;
  }
}

/** Parses every whole frame in the connection's buffer; records `progress` frames for the current tracker. */
function onData(conn, chunk) {
  const buf = conn.buf.length === 0 ? chunk : conn.buf + chunk;
  if (!conn.ready && buf.includes(conn.readyToken)) {
    conn.ready = true;
    conn.onReady?.(conn);
  }
  const t = tracker;
  const recv = t === null ? 0 : Number(process.hrtime.bigint());
  let start = 0;
  let end;
  while ((end = buf.indexOf('\n\n', start)) !== -1) {
    if (t !== null && (buf.startsWith('event: progress', start) || buf.startsWith('event:progress', start))) {
      record(conn, t, buf, start, end, recv);
    } else if (t !== null && buf.startsWith('event: reset', start)) {
      t.resets++; // the stream fell behind its task's history: a fresh start follows
    }
    start = end + 2;
  }
  conn.buf = start === buf.length ? '' : buf.slice(start);
}

function record(conn, t, buf, start, end, recv) {
  const at = buf.indexOf(MESSAGE, start);
  const colon = at === -1 ? -1 : buf.indexOf(':', at + MESSAGE.length);
  const quote = colon === -1 ? -1 : buf.indexOf('"', colon);
  if (quote === -1 || quote > end) {
    t.malformed++;
    return;
  }
  const seq = Number(buf.slice(at + MESSAGE.length, colon));
  let digits = colon + 1;
  while (digits < quote && buf.charCodeAt(digits) >= 48 && buf.charCodeAt(digits) <= 57) digits++;
  const sent = Number(buf.slice(colon + 1, digits)); // a padded message goes on after the hrtime: `seq:hrtime pad`
  if (!(seq >= 1 && seq <= t.n) || !Number.isFinite(sent)) {
    t.malformed++;
    return;
  }
  if (conn.trackId !== t.id) {
    conn.trackId = t.id;
    conn.seen = new Uint8Array(t.n + 1);
    conn.max = 0;
    conn.distinct = 0;
  }
  t.deliveries++;
  t.lastActivity = performance.now();
  if (conn.seen[seq] === 1) {
    t.dup++;
    return;
  }
  conn.seen[seq] = 1;
  if (seq < conn.max) t.ooo++;
  else conn.max = seq;
  if (t.latencyCount < t.latency.length) t.latency[t.latencyCount++] = recv - sent;
  if (sent < t.firstSent) t.firstSent = sent;
  t.lastRecv = recv;
  conn.distinct++;
  if (t.latest && seq === t.n) {
    t.newest.push({ frames: conn.distinct, delayMs: (recv - sent) / 1e6 });
    if (t.newest.length === t.connCount) t.done?.();
  }
  if (++t.distinct === t.expected) t.done?.();
}

/**
 * The loopback addresses streams connect from, in turn: one source address has ~28,000 ephemeral ports
 * (net.ipv4.ip_local_port_range), so the idle scenario's 50,000 streams come from four (all of 127/8 is loopback).
 */
const SOURCE_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
let opens = 0;

function openOne(port, path, readyToken) {
  return new Promise((resolve, reject) => {
    const conn = new Conn(readyToken);
    conn.onReady = resolve;
    const localAddress = SOURCE_ADDRESSES[opens++ % SOURCE_ADDRESSES.length];
    const headers = { accept: 'text/event-stream' };
    const req = http.get({ host: '127.0.0.1', port, path, agent, localAddress, headers });
    conn.req = req;
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        req.destroy();
        reject(new Error(`GET ${path}: status ${res.statusCode}`));
        return;
      }
      res.setEncoding('latin1');
      res.on('data', (chunk) => onData(conn, chunk));
      res.on('error', () => {});
    });
    req.on('error', (error) => {
      if (!conn.ready) reject(error);
    });
    req.on('close', () => {
      conn.closed = true;
      if (!conn.ready) reject(new Error(`GET ${path}: closed before ready`));
      else if (!conn.closing) dropped++;
      conn.onClosed?.();
    });
  });
}

/** Opens `count` streams, spread over `paths`, `batch` at a time; each is open once `readyToken` has arrived. */
async function open({ port, paths, count, batch = 500, readyToken }) {
  const started = performance.now();
  const errors = [];
  let opened = 0;
  for (let from = 0; from < count; from += batch) {
    const size = Math.min(batch, count - from);
    const results = await Promise.allSettled(
      Array.from({ length: size }, (_, i) => openOne(port, paths[(conns.length + i) % paths.length], readyToken)),
    );
    for (const result of results) {
      if (result.status === 'fulfilled') {
        conns.push(result.value);
        opened++;
      } else if (errors.length < 5) errors.push(String(result.reason?.message ?? result.reason));
    }
  }
  return { opened, failed: count - opened, errors, ms: performance.now() - started, open: conns.length };
}

/**
 * A client that sends its request, reads until `readyToken` has arrived (it has joined the feed), then never reads
 * another byte: the kernel's buffers for its socket fill, then the server's.
 */
function stall({ port, path, readyToken }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let head = '';
    socket.setEncoding('latin1');
    socket.on('connect', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`),
    );
    socket.on('data', function onData(chunk) {
      head += chunk;
      if (!head.includes(readyToken)) return;
      socket.off('data', onData);
      socket.pause();
      stalledSockets.push(socket);
      resolve({ status: Number(head.slice(9, 12)), stalled: stalledSockets.length });
    });
    socket.on('error', (error) => (stalledSockets.includes(socket) ? undefined : reject(error)));
  });
}

/** Destroys every stream and resolves once all are closed. */
async function closeAll() {
  for (const socket of stalledSockets) socket.destroy();
  stalledSockets = [];
  const closing = conns.map(
    (conn) =>
      new Promise((resolve) => {
        conn.closing = true;
        if (conn.closed) return resolve();
        conn.onClosed = resolve;
        conn.req.destroy();
      }),
  );
  await Promise.all(closing);
  const closed = conns.length;
  conns = [];
  return { closed };
}

/** Starts counting events 1..n on every open stream; with `latest`, until each has had event n. */
function track({ n, latest = false }) {
  tracker = new Tracker(n, conns.length, latest);
  return { expected: tracker.expected };
}

/** Resolves once every open stream has had events 1..n, or nothing arrived for `stallMs`. */
async function wait({ stallMs = 3000 } = {}) {
  const t = tracker;
  if (t === null) throw new Error('wait() without track()');
  t.lastActivity = performance.now();
  await new Promise((resolve) => {
    const check = setInterval(() => {
      if (performance.now() - t.lastActivity > stallMs) finish();
    }, 50);
    const finish = () => {
      clearInterval(check);
      resolve();
    };
    t.done = finish;
    if (t.distinct === t.expected || t.newest?.length === t.connCount) finish();
  });
  const cpu = process.cpuUsage(t.cpu);
  tracker = null;
  const latency = t.latency.subarray(0, t.latencyCount).sort();
  const at = (q) =>
    latency.length === 0 ? NaN : latency[Math.min(latency.length - 1, Math.ceil(q * latency.length) - 1)] / 1e6;
  return {
    expected: t.expected,
    distinct: t.distinct,
    deliveries: t.deliveries,
    lost: t.expected - t.distinct,
    dup: t.dup,
    ooo: t.ooo,
    malformed: t.malformed,
    resets: t.resets,
    dropped,
    spanMs: t.latencyCount === 0 ? NaN : (t.lastRecv - t.firstSent) / 1e6,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) },
    // In `latest` mode, per stream that had event n: its distinct events, and how late event n reached it.
    newest: t.newest,
    cpu,
  };
}

/** `cycles` times: connect, wait for the first byte of the body, disconnect; `parallel` at once. */
async function churn({ port, path, cycles, parallel }) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let launched = 0;
  let completed = 0;
  let errors = 0;
  await new Promise((resolve) => {
    const launch = () => {
      if (launched === cycles) {
        if (completed === cycles) resolve();
        return;
      }
      launched++;
      let settled = false;
      const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { accept: 'text/event-stream' } });
      const settle = (ok) => {
        if (settled) return;
        settled = true;
        if (!ok) errors++;
        completed++;
        req.destroy();
        launch();
      };
      req.on('response', (res) => {
        if (res.statusCode !== 200) return settle(false);
        res.once('data', () => settle(true));
        res.on('error', () => {});
      });
      req.on('error', () => settle(false));
      req.on('close', () => settle(false));
    };
    for (let i = 0; i < Math.min(parallel, cycles); i++) launch();
  });
  return { ms: performance.now() - started, cycles, errors, cpu: process.cpuUsage(cpu) };
}

/**
 * A keep-alive HTTP/1.1 load loop on raw sockets (cheaper than http.request, so the server stays the bottleneck):
 * `connections` sockets, each sending GET `path` again as soon as the previous response is complete.
 */
async function load({ port, path, connections, ms }) {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json\r\n\r\n`);
  const cpu = process.cpuUsage();
  const started = performance.now();
  let responses = 0;
  let counted = 0;
  let notOk = 0;
  let errors = 0;
  let stopped = false;
  const timer = setTimeout(() => {
    stopped = true;
    counted = responses;
  }, ms);
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise((resolve) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.setNoDelay(true);
          socket.setEncoding('latin1');
          let buf = '';
          socket.on('connect', () => socket.write(request));
          socket.on('data', (chunk) => {
            buf += chunk;
            for (;;) {
              const head = buf.indexOf('\r\n\r\n');
              if (head === -1) return;
              const length = /\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, head));
              const total = head + 4 + (length === null ? 0 : Number(length[1]));
              if (buf.length < total) return;
              if (!buf.startsWith('HTTP/1.1 200 ')) notOk++;
              buf = buf.slice(total);
              responses++;
              if (stopped) {
                socket.end();
                return;
              }
              socket.write(request);
            }
          });
          socket.on('error', () => errors++);
          socket.on('close', resolve);
        }),
    ),
  );
  clearTimeout(timer);
  return {
    requests: counted,
    responses,
    ms,
    totalMs: performance.now() - started,
    notOk,
    errors,
    cpu: process.cpuUsage(cpu),
  };
}

serve(
  { open, stall, closeAll, track, wait, churn, load, cpu: () => process.cpuUsage() },
  { pid: process.pid, fileLimit: await openFileLimit() },
);
