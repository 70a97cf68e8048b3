// A Redis Cluster of the benchmark's own: three masters without persistence on free loopback ports, in a temporary
// folder, joined with redis-cli --cluster create, stopped by PID.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './nginx.mjs';

const run = promisify(execFile);

export async function startRedisCluster(masters = 3) {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-cluster-'));
  const children = [];
  const ports = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', resolve);
            child.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    while (ports.length < masters) {
      // The cluster bus listens on port + 10000: both must be free.
      const port = await freePort();
      if (port > 55_000 || ports.includes(port)) continue;
      ports.push(port);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'];
      args.push('--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir);
      args.push('--save', '', '--appendonly', 'no', '--cluster-node-timeout', '2000');
      children.push(spawn('redis-server', args, { stdio: 'ignore' }));
    }
    for (const port of ports) {
      for (let tries = 0; ; tries++) {
        try {
          await run('redis-cli', ['-p', String(port), 'ping']);
          break;
        } catch (error) {
          if (tries > 100) throw error;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes']);
    for (const port of ports) {
      for (let tries = 0; ; tries++) {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
        if (stdout.includes('cluster_state:ok')) break;
        if (tries > 200) throw new Error(`the cluster is not ok on ${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => `127.0.0.1:${port}`).join(','), stop };
}
