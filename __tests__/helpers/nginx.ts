import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const NGINX = '/usr/sbin/nginx';

/** A port nothing listens on right now, for a server the test starts next. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface Nginx {
  /** `http://127.0.0.1:<port>`: nginx's side. */
  base: string;
  /** What nginx logged at `warn` and above. */
  errorLog(): string;
  /** SIGTERM (a fast stop: a graceful one would wait for open streams), then removes the temporary directory. */
  stop(): Promise<void>;
}

/**
 * Runs Debian's nginx (one process, no daemon) with a configuration in a temporary directory: `http` is the inside
 * of its `http {}` block besides the `server {}` it listens with, `location` the inside of that server.
 */
export async function startNginx({ http = '', location }: { http?: string; location: string }): Promise<Nginx> {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: apt-get install -y nginx (npm test does as root)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'sse-nginx-'));
  const port = await freePort();
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((name) => `${name}_temp_path ${path.join(dir, name)};`)
    .join('\n    ');
  const log = path.join(dir, 'error.log');
  const errorLog = (): string => (existsSync(log) ? readFileSync(log, 'utf8') : '');
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${log} warn;
events { worker_connections 256; }
http {
    access_log off;
    ${temp}
    ${http}
    server {
        listen 127.0.0.1:${port};
        ${location}
    }
}
`,
  );
  const nginx: ChildProcess = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'inherit' });
  const started = Date.now();
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(true));
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.destroy());
    });
    if (up) break;
    if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}: ${errorLog()}`);
    if (Date.now() - started > 10_000) throw new Error('nginx did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base: `http://127.0.0.1:${port}`,
    errorLog,
    async stop() {
      if (nginx.exitCode === null && nginx.signalCode === null) {
        const exited = new Promise((resolve) => nginx.once('exit', resolve));
        nginx.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The documented nginx example (the first `nginx` code block of docs/deployment.md) for `startNginx()`: its
 * `upstream app {}` with `servers` in place of the page's, each with the parameters the page gives its own
 * (`max_fails=0`), and its `location`.
 */
export function readmeNginx(servers: string[]): { http: string; location: string } {
  const page = readFileSync(path.join(__dirname, '..', '..', 'docs', 'deployment.md'), 'utf8');
  const block = /```nginx\n([\s\S]*?)```/.exec(page)?.[1] ?? '';
  const upstream = /^\s*upstream app \{[^}]*\}/m.exec(block)?.[0];
  const location = /^\s*location \/tasks \{[^}]*\}/m.exec(block)?.[0];
  const params = [...block.matchAll(/^\s*server \S+(.*?);/gm)].map((m) => m[1]!);
  if (upstream === undefined || location === undefined || params.length === 0 || new Set(params).size !== 1) {
    throw new Error(
      'docs/deployment.md: expected one nginx block with `upstream app {}` (alike servers) and `location /tasks {}`',
    );
  }
  const ours = servers.map((server) => `server ${server}${params[0]};`).join(' ');
  return { http: upstream.replace(/\{[^}]*\}/, `{ ${ours} }`), location };
}
