// A throwaway redis-server for a benchmark run: free loopback port, no persistence, temp dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('error', () => resolve(false));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.write('PING\r\n');
  });
}

export async function startRedis() {
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-suite-bench-'));
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  child.on('error', (err) => {
    console.error(`cannot start ${bin}: ${err.message}. Install it: apt-get install -y redis-server`);
    process.exit(1);
  });
  for (let i = 0; i < 200; i++) {
    if (await ping(port)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    async stop() {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A throwaway 3-master Cluster (no replicas) for the scenarios that measure a Cluster: three
 * redis-servers with cluster-enabled, joined with `redis-cli --cluster create`.
 */
export async function startCluster() {
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const cli = process.env.REDIS_CLI_BIN ?? 'redis-cli';
  const ports = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-suite-bench-cluster-'));
  const children = ports.map((port) =>
    spawn(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
      ],
      { stdio: 'ignore' },
    ),
  );
  for (const port of ports) {
    for (let i = 0; i < 200 && !(await ping(port)); i++) await new Promise((r) => setTimeout(r, 25));
  }
  const create = spawn(cli, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
  const code = await new Promise((r) => create.once('exit', r));
  if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}`);
  // every node agrees on the slots before the first request
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise((resolve) => {
      const info = spawn(cli, ['-p', String(ports[0]), 'cluster', 'info'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      info.stdout.on('data', (d) => (out += d));
      info.once('exit', () => resolve(out.includes('cluster_state:ok')));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    pids: children.map((c) => c.pid),
    async stop() {
      await Promise.all(
        children.map((c) => {
          c.kill('SIGKILL');
          return new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r)));
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
