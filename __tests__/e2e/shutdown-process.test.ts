import { spawn } from 'node:child_process';
import path from 'node:path';
import { startTask } from '../helpers/app';
import { openStream, type OpenStream } from '../helpers/sse';

const FIXTURES = path.join(__dirname, 'fixtures');
const STREAMS = 1_000;

jest.setTimeout(60_000);

it('serves 1,000 streams, shuts down on SIGTERM by the README sequence, and exits by itself', async () => {
  const child = spawn(
    process.execPath,
    ['--require', path.join(FIXTURES, 'register.js'), path.join(FIXTURES, 'shutdown-app.ts')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: Array<Record<string, unknown>> = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      lines.push(JSON.parse(buffered.slice(0, at)) as Record<string, unknown>);
      buffered = buffered.slice(at + 1);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let killer: NodeJS.Timeout | undefined;
  try {
    const started = Date.now();
    while (lines.length === 0 && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 20));
    const base = `http://127.0.0.1:${String(lines[0]?.port)}`;

    const ids = [
      ...(await Promise.all(Array.from({ length: 5 }, () => startTask(base, 'endless')))),
      ...(await Promise.all(Array.from({ length: 5 }, () => startTask(base, 'short')))),
    ];
    const streams: OpenStream[] = [];
    for (let batch = 0; batch < STREAMS / 100; batch++) {
      const opened = await Promise.all(
        Array.from({ length: 100 }, (_, i) => openStream(`${base}/tasks/${ids[(batch * 100 + i) % 10]!}/events`)),
      );
      await Promise.all(opened.map((stream) => stream.waitForEvents(1, { timeoutMs: 10_000 })));
      streams.push(...opened);
    }
    expect(streams.every((stream) => stream.status === 200)).toBe(true);

    const signalled = Date.now();
    child.kill('SIGTERM');
    killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const { code, signal } = await exited;
    const tookMs = Date.now() - signalled;
    expect({ code, signal }).toEqual({ code: 0, signal: null }); // exited by itself, not killed
    expect(tookMs).toBeLessThan(5_000);
    await Promise.all(streams.map((stream) => stream.ended));
    expect(streams.every((stream) => stream.hasEnded())).toBe(true);

    const report = lines.at(-1) as {
      openStreams: number;
      after: number;
      resources: string[];
      outcomes: Record<string, string[]>;
    };
    expect(report.openStreams).toBe(STREAMS);
    expect(report.after).toBe(0);
    // The short jobs finished within the grace; the endless ones were aborted when it ended.
    expect(report.outcomes).toEqual({ short: Array(5).fill('completed'), endless: Array(5).fill('failed') });
    expect(tookMs).toBeGreaterThanOrEqual(1_000);
    // Only the stdio pipes may remain: no timer, no socket, no server.
    expect(report.resources.filter((name) => !['PipeWrap', 'TTYWrap'].includes(name))).toEqual([]);
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
