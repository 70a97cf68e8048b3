import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import Koa from 'koa';
import { startEventStream } from '../../src/middleware/open-stream';
import type { EventStream } from '../../src/sse/stream';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';

const EVENTS = 100_000;

/** The heap in use after a full collection (jest runs without --expose-gc; V8 lends the function on request). */
function heapAfterGc(): number {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}
const HEALTHY = 100;

/** A client that sends its request and then never reads a byte: its socket fills, then the server's buffers. */
function stalledClient(base: string, path: string): Promise<net.Socket> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: Number(port) }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
      socket.once('data', () => {
        socket.pause(); // read the headers, then nothing more
        resolve(socket);
      });
    });
    socket.on('error', reject);
  });
}

/** A healthy client that reads everything and counts progress frames, keeping nothing: 100 of them read ~500 MB. */
function countingClient(url: string): Promise<{ progress: () => number; ended: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      let progress = 0;
      let tail = '';
      let last = '';
      const ended = new Promise<string>((done) => response.on('end', () => done(last)));
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const text = tail + chunk;
        for (let at = text.indexOf('event: progress\n'); at !== -1; at = text.indexOf('event: progress\n', at + 1)) {
          progress++;
        }
        last = text.slice(-400); // the end of the stream, for its last event
        const cut = text.lastIndexOf('\n\n');
        tail = cut === -1 ? text.slice(-200) : text.slice(cut + 2); // an incomplete frame waits for the next chunk
      });
      resolve({ progress: () => progress, ended });
    });
    request.on('error', reject);
  });
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An EventStream alone on a real socket, its client stalled and the stream backed up: nothing else allocates. */
async function stalledEventStream(): Promise<{ stream: EventStream; stalled: net.Socket; close(): Promise<void> }> {
  let stream!: EventStream;
  const app = new Koa();
  app.use((ctx) => {
    stream = startEventStream(ctx, 1_000, { bufferBytes: 65_536, slowClientMs: 120_000 });
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stalled = await stalledClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, '/');
  const filler = Buffer.from(`data: ${'x'.repeat(1_000)}\n\n`);
  for (let i = 0; i < 1_000 && !stream.backedUp; i++) stream.write(filler);
  if (!stream.backedUp) throw new Error('the stream did not back up');
  return {
    stream,
    stalled,
    async close() {
      stream.close();
      stalled.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a client that stops reading', () => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;

  beforeEach(async () => {
    t = await startApp({
      middleware: { slowClientMs: 120_000, heartbeatMs: 60_000 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
  });
  afterEach(() => t.close());

  it(`costs bounded memory while ${EVENTS} progress events pass, and slows no healthy client`, async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    const stalled = await stalledClient(t.base, `/tasks/${id}/events`);
    const healthy = await Promise.all(
      Array.from({ length: HEALTHY }, () => countingClient(`${t.base}/tasks/${id}/events`)),
    );
    await waitUntil(() => t.tasks.openStreams === HEALTHY + 1, 5_000, 'every client to connect');

    const heapBefore = heapAfterGc();
    const BATCH = 500; // ~24 KB a batch: below bufferBytes, so a client that keeps up is never coalesced
    for (let sent = 0; sent < EVENTS; sent += BATCH) {
      for (let i = 1; i <= BATCH; i++) job.progress(((sent + i) % 10_000) / 100);
      // Healthy clients keep up: each batch reaches them before the next is emitted.
      await waitUntil(() => healthy.every((c) => c.progress() >= sent + BATCH), 10_000, `batch ${sent / BATCH}`);
    }
    const retained = heapAfterGc() - heapBefore;
    expect(t.tasks.openStreams).toBe(HEALTHY + 1); // the stalled client is still connected, still owed its events
    complete('done');
    const tails = await Promise.all(healthy.map((c) => c.ended));
    expect(healthy.map((c) => c.progress())).toEqual(Array(HEALTHY).fill(EVENTS));
    for (const tail of tails) expect(tail).toMatch(/event: complete\n/);

    // 100,000 frames are ~6 MB; held for the stalled client they would show. Coalesced, they do not.
    expect(retained).toBeLessThan(2 * 1024 * 1024);
    stalled.destroy();
    await waitUntil(() => t.tasks.openStreams === 0, 5_000, 'every stream to close');
  }, 120_000);

  it('is disconnected once it has been backed up for slowClientMs', async () => {
    await t.close();
    t = await startApp({
      middleware: { slowClientMs: 300, heartbeatMs: 60_000 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    const id = await startTask(t.base, 'controlled');
    const { job } = await controlled.running(id);
    const stalled = await stalledClient(t.base, `/tasks/${id}/events`);
    let closedByServer = false;
    stalled.on('close', () => (closedByServer = true));
    // The kernel keeps taking bytes from a client that reads nothing until its socket buffers are full (megabytes on
    // loopback), and every time it does the stream drains and is no longer backed up. So events keep coming until
    // the buffers are full and the client has stayed backed up for slowClientMs; 1 KB frames fill them quickly.
    const filler = 'x'.repeat(1_000);
    const deadline = Date.now() + 20_000;
    for (let i = 1; t.tasks.openStreams > 0 && Date.now() < deadline; i++) {
      job.progress((i % 10_000) / 100, filler);
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(t.tasks.openStreams).toBe(0); // cut off, not still open when the deadline passed
    stalled.resume(); // drain what the kernel held, to see the server's end of the connection
    await waitUntil(() => closedByServer, 5_000, 'the connection to close');
    stalled.destroy();
  });

  it('gets the latest progress, and every status and terminal event, once it reads again', async () => {
    await t.close();
    t = await startApp({
      middleware: { heartbeatMs: 60_000 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    const stalled = await stalledClient(t.base, `/tasks/${id}/events`);
    for (let i = 1; i <= EVENTS; i++) {
      job.progress((i % 10_000) / 100, `step ${i}`);
      if (i % 1_000 === 0) await new Promise((r) => setImmediate(r));
    }
    job.progress(99.99, 'last');
    complete('done');
    let text = '';
    stalled.setEncoding('utf8');
    stalled.on('data', (chunk: string) => (text += chunk));
    stalled.resume();
    await waitUntil(() => text.includes('event: complete'), 5_000, 'the terminal event');
    const names = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    const progress = names.filter((n) => n === 'progress').length;
    expect(progress).toBeLessThan(EVENTS); // coalesced while it was backed up...
    expect(text).toContain('"message":"last"'); // ...to the latest one
    expect(names.filter((n) => n === 'complete')).toHaveLength(1);
    expect(names.at(-1)).toBe('complete');
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual([...ids].sort((a, b) => a - b)); // in order, never a step back
    stalled.destroy();
  });

  it("is handed no bytes for progress once the system's buffers are full: each event only replaces its held frame", async () => {
    await t.close();
    t = await startApp({
      middleware: { slowClientMs: 120_000, heartbeatMs: 60_000 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    const connections: net.Socket[] = [];
    t.server.on('connection', (socket: net.Socket) => connections.push(socket));
    const stalled = await stalledClient(t.base, `/tasks/${id}/events`);
    const server = connections.find((socket) => socket.remotePort === stalled.localPort)!;
    const filler = 'x'.repeat(1_000);
    const emit = async (events: number): Promise<void> => {
      for (let i = 1; i <= events; i++) {
        job.progress((i % 10_000) / 100, `${i} ${filler}`);
        if (i % 100 === 0) await turn();
      }
    };

    // The kernel takes megabytes from a client that reads nothing before its buffers are full; until then each drain
    // makes the stream writable again. Emit until ten batches in a row handed the socket nothing.
    let steady = 0;
    const deadline = Date.now() + 20_000;
    while (steady < 10 && Date.now() < deadline) {
      const before = server.bytesWritten;
      await emit(100);
      steady = server.bytesWritten === before ? steady + 1 : 0;
    }
    expect(steady).toBe(10);

    const handed = server.bytesWritten;
    await emit(10_000); // 10 MB of progress
    job.progress(99.99, 'newest');
    await turn();
    expect(server.bytesWritten).toBe(handed); // nothing handed to the socket: each event replaced the held one
    expect(t.tasks.openStreams).toBe(1); // still connected, still owed its events

    // Closing sends what is held, the newest progress, then the terminal event: a few hundred bytes, not 10 MB.
    complete('done');
    await waitUntil(() => t.tasks.openStreams === 0, 5_000, 'the stream to close');
    expect(server.bytesWritten - handed).toBeLessThan(1_000);
    let text = '';
    stalled.setEncoding('utf8');
    stalled.on('data', (chunk: string) => (text += chunk));
    stalled.resume();
    await waitUntil(() => text.includes('event: complete'), 5_000, 'the terminal event');
    const tail = text.slice(text.lastIndexOf('event: progress'));
    expect(tail).toContain('"message":"newest"');
    expect(tail).toMatch(/event: complete\n/);
    stalled.destroy();
  });

  it('makes no garbage for each event it is not sent: its held frame is replaced in place', async () => {
    const { stream, close } = await stalledEventStream();
    try {
      const frames = ['a', 'b'].map((data) => Buffer.from(`event: progress\ndata: ${data}\n\n`));
      const profiler = new v8.GCProfiler();
      profiler.start();
      for (let i = 0; i < 1_000_000; i++) stream.write(frames[i & 1]!, 'progress');
      const { statistics } = profiler.stop();
      // Deleting and re-inserting the held frame made V8 rehash its Map every few events: 10-11 scavenges here.
      expect(statistics.map((gc) => gc.gcType)).toEqual([]);
    } finally {
      await close();
    }
  });

  it('gets one frame per key of what was held, in the order each was last written', async () => {
    const { stream, stalled, close } = await stalledEventStream();
    try {
      const write = (key: string, data: string): void => stream.write(`event: ${key}\ndata: ${data}\n\n`, key);
      write('a', 'a1');
      write('b', 'b2');
      write('a', 'a3'); // a moves after b
      write('a', 'a4'); // a is the key held last: replaced where it is
      stream.close(); // sends what is held, then ends
      let text = '';
      stalled.setEncoding('utf8');
      stalled.on('data', (chunk: string) => (text += chunk));
      stalled.resume();
      await waitUntil(() => text.includes('\r\n0\r\n\r\n'), 5_000, 'the end of the response');
      const held = [...text.matchAll(/^data: ([ab]\d)$/gm)].map((m) => m[1]);
      expect(held).toEqual(['b2', 'a4']);
    } finally {
      await close();
    }
  });
});
