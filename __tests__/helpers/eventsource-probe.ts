import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request an EventSource made to a probe. */
export interface ProbeRequest {
  at: number;
  lastEventId: string | undefined;
  /** When the answer ended (Date.now()); `undefined` while it is held open. */
  endedAt?: number;
}

/**
 * A bare node:http server that answers EventSource requests as a test says, to see what a browser's EventSource
 * does by itself, and notes each request: when it came, its Last-Event-ID, when its answer ended.
 *
 * `/page` is an empty page; `/stream?key=K` answers 200 with one event (`id: <n>`), `retry: R` first when the query
 * has `retry=R`, and ends. `answer=S` answers every request with S instead, `then=S` every request after the first:
 * an HTTP status (`204`, `502`...), `text` (200 with Content-Type text/plain) or `end` (as above). `/hold?key=K`
 * answers 200 (`retry: R` first with `retry=R`) and holds the stream open. Every answer allows any origin (CORS).
 * `POST /post` reads its body and answers 200 `ok`.
 */
export interface Probe {
  base: string;
  port: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  requests(key: string): ProbeRequest[];
  /** Gaps between one answer's end and the next request, in ms. */
  gaps(key: string): number[];
  /** Stops accepting connections and drops the open ones (a server that went away); `listen()` comes back. */
  stop(): Promise<void>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

export async function startProbe(): Promise<Probe> {
  const log = new Map<string, ProbeRequest[]>();
  const requests = (key: string): ProbeRequest[] => log.get(key) ?? log.set(key, []).get(key)!;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://probe');
    if (url.pathname === '/post') {
      req.resume();
      req.once('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
      return;
    }
    if (url.pathname === '/page') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>probe</title>');
      return;
    }
    const key = url.searchParams.get('key') ?? '';
    const list = requests(key);
    const request: ProbeRequest = { at: Date.now(), lastEventId: req.headers['last-event-id'] as string | undefined };
    list.push(request);
    const cors = { 'access-control-allow-origin': '*' };
    const stream = { ...cors, 'content-type': 'text/event-stream', 'cache-control': 'no-store' };
    const retry = url.searchParams.get('retry');
    const retryLine = retry === null ? '' : `retry: ${retry}\n`;
    const answer =
      url.searchParams.get('answer') ?? (list.length === 1 ? 'end' : (url.searchParams.get('then') ?? 'end'));
    if (url.pathname === '/hold') {
      res.writeHead(200, stream);
      res.write(`${retryLine}: open\n\n`);
      return;
    }
    if (/^\d{3}$/.test(answer)) {
      res.writeHead(Number(answer), cors);
    } else if (answer === 'text') {
      res.writeHead(200, { ...cors, 'content-type': 'text/plain' });
      res.write(`id: ${list.length}\ndata: x\n\n`);
    } else {
      res.writeHead(200, stream);
      res.write(`${retryLine}id: ${list.length}\ndata: x\n\n`);
    }
    res.end();
    request.endedAt = Date.now();
  });
  let connections = 0;
  server.on('connection', () => connections++);
  const listen = (port = 0): Promise<void> =>
    new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  await listen();
  const { port } = server.address() as AddressInfo;
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    get connections() {
      return connections;
    },
    requests,
    gaps: (key) => {
      const list = requests(key);
      return list.slice(1).map((request, i) => request.at - (list[i]!.endedAt ?? list[i]!.at));
    },
    stop,
    listen: () => listen(port),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}
