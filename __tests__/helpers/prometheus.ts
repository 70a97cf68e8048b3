import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitUntil } from './app';

/** A Prometheus server of the test's own: its port, configuration and storage, killed by `stop()`. */
export interface OwnPrometheus {
  url: string;
  /** The value of an instant query with a single result (`undefined` when it has none). */
  query(expression: string): Promise<number | undefined>;
  /** Waits until `expression` is `expected` in Prometheus (scraped and stored), and resolves with it. */
  waitFor(expression: string, expected: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `prometheus` on 127.0.0.1, scraping `target` (host:port) `/metrics` every second. */
export async function startPrometheus(target: string): Promise<OwnPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: koa-sse-tasks',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const query = async (expression: string): Promise<number | undefined> => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expression)}`);
    const body = (await response.json()) as {
      status: string;
      data?: { result: Array<{ value: [number, string] }> };
      error?: string;
    };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${expression}: ${body.error}`);
    const results = body.data!.result;
    if (results.length > 1) throw new Error(`${expression} has ${results.length} results`);
    return results[0] === undefined ? undefined : Number(results[0].value[1]);
  };
  try {
    await waitUntil(
      async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200,
      20_000,
      'Prometheus to be ready',
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its log ends with:\n${log}`, { cause: error });
  }
  return {
    url,
    query,
    async waitFor(expression, expected, timeoutMs = 20_000) {
      let last: number | undefined;
      try {
        await waitUntil(async () => (last = await query(expression)) === expected, timeoutMs, expression);
      } catch (error) {
        throw new Error(`${expression} stayed ${last} in Prometheus, expected ${expected}`, { cause: error });
      }
    },
    stop,
  };
}
