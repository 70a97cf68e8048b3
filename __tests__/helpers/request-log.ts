import net from 'node:net';

/** One HTTP/1.1 request that went through a request log. */
export interface LoggedRequest {
  method: string;
  /** The request target: path and query. */
  url: string;
  /** When its head had arrived (Date.now()). */
  at: number;
}

/**
 * A TCP proxy on 127.0.0.1 in front of an HTTP/1.1 server that writes down every request a browser sends through
 * it, with the time its head arrived. The bytes pass unchanged, one server connection per browser connection, so
 * the browser behaves as it would without it (its reconnections, its connection limit); it only reads the requests,
 * which tells what a page asked for in any engine, including what EventSource does on its own.
 */
export interface RequestLog {
  /** `http://127.0.0.1:<port>`: the proxy's side; open the page here. */
  base: string;
  /** The requests so far, in the order their heads arrived. */
  readonly requests: readonly LoggedRequest[];
  /** Closes the proxy and every connection through it. Idempotent. */
  close(): Promise<void>;
}

export async function startRequestLog(target: string): Promise<RequestLog> {
  const { hostname, port } = new URL(target);
  const requests: LoggedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {}); // a browser or a server that hangs up: the other side is closed below
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.on(
      'data',
      readRequests((request) => requests.push(request)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  let closing: Promise<void> | undefined;
  return {
    base: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      })),
  };
}

/**
 * A reader of one connection's requests, chunk by chunk: a head up to its blank line, then as many body bytes as its
 * Content-Length says. A chunked request body (no browser sends one for these pages) is a test bug: it throws.
 */
function readRequests(onRequest: (request: LoggedRequest) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  let bodyLeft = 0;
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (bodyLeft > 0) {
        const skipped = Math.min(bodyLeft, pending.length);
        bodyLeft -= skipped;
        pending = pending.subarray(skipped);
        if (bodyLeft > 0) return;
      }
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = pending.subarray(0, end).toString('latin1');
      pending = pending.subarray(end + 4);
      const [method = '', url = ''] = head.slice(0, head.indexOf('\r\n')).split(' ');
      if (/^transfer-encoding:.*chunked/im.test(head)) throw new Error(`a chunked request body: ${method} ${url}`);
      bodyLeft = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      onRequest({ method, url, at: Date.now() });
    }
  };
}
