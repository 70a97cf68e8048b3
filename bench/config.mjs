// What each scenario does, full and --quick. Every count and duration of the benchmark is here.

export const FULL = {
  passes: 3,
  // The 50,000 step needs `ulimit -n` above it: run.mjs raises it with prlimit when it may (root), else caps the step.
  idle: { steps: [1000, 5000, 10000, 50000], batch: 500 },
  fanout: { subscribers: 1000, events: 2000, warmupEvents: 200, burst: 10 },
  latency: { subscribers: 1000, rates: [50, 200], seconds: 3, warmupSeconds: 0.5 },
  churn: { cycles: 5000, segments: 10, parallel: 50, warmupCycles: 500 },
  overhead: { connections: 50, windowMs: 500, rounds: 8, warmupMs: 1000 },
  manyTasks: { tasks: 1000, subscribersPerTask: 2, events: 20 },
  // 1 task, 50 clients that read everything and, in the `with` variant, 1 that never reads: 100,000 progress events
  // of 270 bytes, 500 per event-loop turn (~135 KB a turn, past bufferBytes: every client is coalesced each turn).
  stalled: { healthy: 50, events: 100_000, warmupEvents: 5_000, burst: 500, frameBytes: 270 },
};

export const QUICK = {
  passes: 3,
  idle: { steps: [1000, 2000], batch: 500 },
  fanout: { subscribers: 200, events: 500, warmupEvents: 100, burst: 10 },
  latency: { subscribers: 200, rates: [50, 200], seconds: 0.5, warmupSeconds: 0.2 },
  churn: { cycles: 400, segments: 2, parallel: 50, warmupCycles: 100 },
  // A cold server answers at half speed: the warm-up lets V8 optimize each app's request path first.
  overhead: { connections: 50, windowMs: 200, rounds: 3, warmupMs: 600 },
  manyTasks: { tasks: 200, subscribersPerTask: 2, events: 20 },
  // Not a fifth: the kernel takes the first ~4 MB of a stalled client's events (its send buffer), so a shorter run
  // would measure only that. One pass (~75 s, the baseline's 5 M deliveries most of it) instead; --passes=N for more.
  stalled: { healthy: 50, events: 100_000, warmupEvents: 5_000, burst: 500, frameBytes: 270, passes: 1 },
};

/** The event-stream targets; the first is the baseline the others are compared with. */
export const SSE_TARGETS = ['baseline', 'koa-sse-tasks', 'better-sse'];
/** The stalled-client scenario's: node:http alone for reference, to keep a pass to ~2 minutes (better-sse left out). */
export const STALLED_TARGETS = ['baseline', 'koa-sse-tasks'];
/** The `overhead` scenario compares Koa apps; its baseline is Koa without any SSE library. */
export const KOA_TARGETS = ['koa-plain', 'koa-sse-tasks', 'better-sse'];

/** What a client waits for before a stream counts as open (and subscribed). */
export const READY_TOKEN = {
  baseline: 'retry:',
  'better-sse': 'retry:',
  // koa-sse-tasks writes `retry:` before it joins the task's feed, and the `status` event once it has.
  'koa-sse-tasks': 'event: status',
};
