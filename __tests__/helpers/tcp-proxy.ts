import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1, on a port the OS chooses, in front of a server (Redis), that can cut a connection at one
 * exact moment: after the server answered a chosen request, before that answer reaches the client. An ioredis client
 * then reconnects through the proxy and resends the command whose reply it lost.
 */
export interface TcpProxy {
  port: number;
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** How many client connections the proxy has accepted so far. */
  readonly accepted: number;
  /**
   * Arms one cut: the first client -> server chunk containing `marker` (also across two chunks) is forwarded, and
   * the next data the server sends on that connection is dropped with both sockets. Resolves once cut. That data is
   * taken as the reply to the marker's command: arm it only while no other command is in flight on the connection.
   * With `hold`, connections accepted after the cut wait (their bytes buffered) until `release()`.
   */
  cutReplyTo(marker: string, options?: { hold?: boolean }): Promise<void>;
  /** Lets held connections through to the server. */
  release(): void;
  /** Closes the server and every socket. Idempotent. */
  close(): Promise<void>;
}

interface Cut {
  marker: Buffer;
  hold: boolean;
  done: () => void;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const held: Array<() => void> = [];
  let armed: Cut | undefined;
  let holding = false;
  let accepted = 0;
  let closing: Promise<void> | undefined;

  const track = (socket: net.Socket): net.Socket => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    return socket;
  };

  const forward = (client: net.Socket): void => {
    if (client.destroyed) return;
    const server = track(net.connect(target.port, target.host));
    let cut: Cut | undefined; // set once this connection carried the marker: its next reply is dropped
    let tail = Buffer.alloc(0); // the end of the previous chunk, for a marker split across two
    client.on('data', (chunk: Buffer) => {
      server.write(chunk);
      const wanted = armed;
      if (wanted === undefined) return;
      const seen = Buffer.concat([tail, chunk]);
      if (seen.includes(wanted.marker)) {
        cut = wanted;
        armed = undefined;
      }
      tail = seen.subarray(Math.max(0, seen.length - wanted.marker.length + 1));
    });
    server.on('data', (chunk: Buffer) => {
      if (cut === undefined) {
        client.write(chunk);
        return;
      }
      if (cut.hold) holding = true;
      client.destroy();
      server.destroy();
      cut.done();
    });
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
    client.resume();
  };

  const proxy = net.createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    track(client);
    if (holding) held.push(() => forward(client));
    else forward(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as net.AddressInfo;

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cutReplyTo(marker, { hold = false } = {}) {
      return new Promise<void>((done) => {
        armed = { marker: Buffer.from(marker), hold, done };
      });
    },
    release() {
      holding = false;
      for (const start of held.splice(0)) start();
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        armed = undefined;
        held.length = 0;
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      });
      return closing;
    },
  };
}
