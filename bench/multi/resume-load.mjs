// The mass-resume load client, its own process: `count` event streams through a proxy, each reconnecting by itself
// `retryMs` after its connection ends, with the Last-Event-ID of the last event it got, as EventSource does. It
// keeps, per stream, which progress events (`seq:hrtime` messages) it received, so it can tell when a stream has
// every event after an instance died, and whether any came twice or never. Driven over IPC (../lib/ipc.mjs).
import http from 'node:http';
import { serve } from '../lib/ipc.mjs';

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const MESSAGE = '"message":"';
/** @type {Stream[]} */
let streams = [];
let killedAt = 0;
let seqAtKill = 0;
/** When each reconnection was answered 200, ms since the epoch. */
let reconnects = [];
let reconnectErrors = 0;
/** `reset` events received: a stream told its Last-Event-ID could not be replayed (it then starts afresh). */
let resets = 0;
let options;

class Stream {
  constructor(maxSeq) {
    this.seen = new Uint8Array(maxSeq + 2);
    this.next = 1; // the lowest progress seq not received yet
    this.lastId = undefined;
    this.dup = 0;
    this.buf = '';
    this.complete = false;
    this.connections = 0;
    this.recoveredAt = 0;
    this.reconnectedAt = 0;
    /** When the latest request was sent, when the connection first ended after the kill, how long B took to answer. */
    this.requestedAt = 0;
    this.closedAt = NaN;
    this.answeredInMs = NaN;
    this.onReady = undefined;
    /** The last progress seq received, and whether it came on the connection open now. */
    this.lastSeq = 0;
    this.lastSeqHere = false;
    /** Progress seqs jumped over on one connection (a backed-up client's progress coalesced, which is allowed)... */
    this.skipped = 0;
    /** ...and across a reconnection: the resume did not replay them, which is a loss. */
    this.gapAcrossResume = 0;
  }
}

function onFrame(stream, frame) {
  let id;
  let event = 'message';
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data = line.slice(6);
  }
  if (id !== undefined) stream.lastId = id;
  if (event === 'reset') resets++;
  if (event === 'status') stream.onReady?.();
  if (event === 'complete') stream.complete = true;
  if (event !== 'progress') return;
  const at = data.indexOf(MESSAGE);
  const seq = Number(data.slice(at + MESSAGE.length, data.indexOf(':', at + MESSAGE.length)));
  if (!(seq >= 1 && seq < stream.seen.length)) return;
  if (stream.seen[seq] === 1) return void stream.dup++;
  stream.seen[seq] = 1;
  if (seq > stream.lastSeq + 1) {
    if (stream.lastSeqHere) stream.skipped += seq - stream.lastSeq - 1;
    else stream.gapAcrossResume += seq - stream.lastSeq - 1;
  }
  if (seq > stream.lastSeq) stream.lastSeq = seq;
  stream.lastSeqHere = true;
  while (stream.seen[stream.next] === 1) stream.next++;
  if (killedAt !== 0 && stream.recoveredAt === 0 && stream.reconnectedAt !== 0 && stream.next > seqAtKill + 1) {
    stream.recoveredAt = Date.now();
  }
}

function connect(stream) {
  const headers = { accept: 'text/event-stream' };
  if (stream.lastId !== undefined) headers['last-event-id'] = stream.lastId;
  const req = http.get({ host: '127.0.0.1', port: options.port, path: options.path, agent, headers });
  const again = () => {
    if (stream.complete) return;
    setTimeout(() => connect(stream), options.retryMs);
  };
  req.on('response', (res) => {
    if (res.statusCode === 204) {
      stream.complete = true;
      return void res.resume();
    }
    if (res.statusCode !== 200) {
      reconnectErrors++;
      res.resume();
      return;
    }
    stream.connections++;
    if (stream.connections > 1) {
      stream.reconnectedAt = Date.now();
      stream.answeredInMs = stream.reconnectedAt - stream.requestedAt;
      reconnects.push(stream.reconnectedAt);
    }
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      const text = stream.buf + chunk;
      let start = 0;
      let end;
      while ((end = text.indexOf('\n\n', start)) !== -1) {
        onFrame(stream, text.slice(start, end));
        start = end + 2;
      }
      stream.buf = text.slice(start);
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  stream.requestedAt = Date.now();
  req.on('close', () => {
    if (killedAt !== 0 && Number.isNaN(stream.closedAt)) stream.closedAt = Date.now();
    stream.buf = '';
    stream.lastSeqHere = false;
    again();
  });
}

/** Opens `count` streams to `path` on `port`, `parallel` at a time; resolves once each had its `status`. */
async function open(args) {
  options = { parallel: 200, ...args };
  killedAt = 0;
  reconnects = [];
  reconnectErrors = 0;
  resets = 0;
  streams = [];
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: options.parallel }, async () => {
      while (next < options.count) {
        next++;
        const stream = new Stream(options.maxSeq);
        streams.push(stream);
        await new Promise((resolve) => {
          stream.onReady = resolve;
          connect(stream);
        });
        stream.onReady = undefined;
      }
    }),
  );
  return { ms: Date.now() - started };
}

/** The harness killed the instance at `at` (ms since the epoch), when the job's last event was `seq`. */
async function killed({ at, seq }) {
  killedAt = at;
  seqAtKill = seq;
  return {};
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const quantiles = (values) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return [0.5, 0.9, 0.99, 1].map((q) => quantile(sorted, q));
};

/** Resolves once every stream has every event up to one after the kill (or `timeoutMs`), with the times. */
async function recovered({ timeoutMs }) {
  const until = Date.now() + timeoutMs;
  while (streams.some((s) => s.recoveredAt === 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const times = streams
    .filter((s) => s.recoveredAt !== 0)
    .map((s) => s.recoveredAt - killedAt)
    .sort((a, b) => a - b);
  const perSecond = new Map();
  for (const at of reconnects)
    perSecond.set(Math.floor((at - killedAt) / 1000), (perSecond.get(Math.floor((at - killedAt) / 1000)) ?? 0) + 1);
  return {
    recovered: times.length,
    streams: streams.length,
    p50Ms: quantile(times, 0.5),
    p90Ms: quantile(times, 0.9),
    p99Ms: quantile(times, 0.99),
    perSecond: Object.fromEntries(perSecond),
    // Where the time goes, as p50/p90/p99/max (ms): from the kill until a stream's connection ended, and from its
    // reconnection's request until the 200.
    closedAfterKill: quantiles(streams.map((s) => s.closedAt - killedAt)),
    answeredIn: quantiles(streams.map((s) => s.answeredInMs)),
    connections: Object.fromEntries(
      streams.reduce((m, s) => m.set(s.connections, (m.get(s.connections) ?? 0) + 1), new Map()),
    ),
    maxMs: times.at(-1) ?? NaN,
    reconnects: reconnects.length,
    peakReconnectsPerSec: Math.max(0, ...perSecond.values()),
    reconnectErrors,
  };
}

/** Resolves once every stream had `complete` (or `timeoutMs`): events 1..total lost and duplicated, in all. */
async function completed({ total, timeoutMs }) {
  const until = Date.now() + timeoutMs;
  while (streams.some((s) => !s.complete) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  let lost = 0;
  let dup = 0;
  let skipped = 0;
  let gapAcrossResume = 0;
  for (const s of streams) {
    for (let seq = 1; seq <= total; seq++) if (s.seen[seq] !== 1) lost++;
    dup += s.dup;
    skipped += s.skipped;
    gapAcrossResume += s.gapAcrossResume;
  }
  const done = streams.filter((s) => s.complete).length;
  for (const s of streams) s.complete = true; // no more reconnections
  return { done, streams: streams.length, lost, dup, resets, skipped, gapAcrossResume };
}

serve({ open, killed, recovered, completed, cpu: async () => process.cpuUsage() });
