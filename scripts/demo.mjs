#!/usr/bin/env node
// `npm run demo`: installs the playground with the freshly packed plugin, makes sure there is a
// Redis (REDIS_URL, or a throwaway redis-server of its own), boots Strapi headless and prints
// what to try. Ctrl-C stops Strapi, then the throwaway Redis.
//
// Environment: REDIS_URL (use this Redis), PORT (default 1337, or a free one if taken),
// HOST (default 127.0.0.1), REDIS_PLUGIN_CONFIG (a config module, see playground/config/plugins.js).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PLAYGROUND_DIR, createAppDir, install } from './playground.mjs';

const log = (line) => console.log(`[demo] ${line}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const portFree = (port, host) =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const onPath = (bin) => {
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const redisAnswers = (port) =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => socket.destroy());
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => {
      socket.end();
      resolve(chunk.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });

const httpAnswers = (host, port) =>
  new Promise((resolve) => {
    const req = http.get({ host, port, path: '/_health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });

// Children run in their own process groups (detached) so that Ctrl-C reaches only this script,
// which then stops them in order: Strapi first (its destroy() still talks to Redis), Redis last.
const children = [];

const stopChild = async (child, name, timeoutMs = 10_000) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    log(`${name} still running after ${timeoutMs} ms: SIGKILL`);
    child.kill('SIGKILL');
  }, timeoutMs);
  await exited;
  clearTimeout(timer);
};

let shuttingDown = false;
const shutdown = async (code) => {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const { child, name, cleanup } of [...children].reverse()) {
    await stopChild(child, name);
    cleanup?.();
  }
  process.exit(code);
};

async function startThrowawayRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-demo-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore', detached: true },
  );
  children.push({ child, name: 'redis-server', cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) });
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await sleep(50);
  }
  return `redis://127.0.0.1:${port}`;
}

async function main() {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  let redisUrl = process.env.REDIS_URL;
  const ownRedis = !redisUrl && onPath('redis-server');
  if (!redisUrl && !ownRedis) {
    console.error(
      [
        '[demo] No Redis: REDIS_URL is not set and redis-server is not on PATH.',
        '[demo] Either install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)',
        '[demo] or point the demo at one: REDIS_URL=redis://127.0.0.1:6379 npm run demo',
      ].join('\n'),
    );
    process.exit(1);
  }

  await install({ log: (line) => log(line) });

  if (ownRedis) {
    redisUrl = await startThrowawayRedis();
    log(`started a throwaway redis-server at ${redisUrl} (no persistence; stopped on exit)`);
  } else {
    log(`using REDIS_URL=${redisUrl.replace(/\/\/([^@/]*)@/, '//***@')}`);
  }

  const host = process.env.HOST || '127.0.0.1';
  let port = Number(process.env.PORT || 1337);
  if (!process.env.PORT && !(await portFree(port, host))) port = await freePort();

  const appDir = createAppDir(path.join(PLAYGROUND_DIR, '.tmp', 'demo-app'));
  const env = { ...process.env, REDIS_URL: redisUrl, HOST: host, PORT: String(port) };
  for (const key of Object.keys(env)) if (key.toLowerCase().startsWith('npm_')) delete env[key];
  env.NODE_ENV ||= 'production';
  env.STRAPI_TELEMETRY_DISABLED ||= 'true';

  log(`booting Strapi in ${path.relative(process.cwd(), appDir) || appDir}`);
  const started = Date.now();
  const strapi = spawn(process.execPath, ['server.js'], { cwd: appDir, env, stdio: 'inherit', detached: true });
  children.push({ child: strapi, name: 'strapi' });
  strapi.once('exit', (code, signal) => {
    if (shuttingDown) return;
    log(`Strapi exited (${signal ?? `code ${code}`})`);
    void shutdown(code || 1);
  });

  while (!(await httpAnswers(host, port))) {
    if (strapi.exitCode !== null || strapi.signalCode !== null) return;
    await sleep(100);
  }
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  console.log(
    [
      '',
      `[demo] Strapi is up in ${((Date.now() - started) / 1000).toFixed(1)}s with strapi-plugin-redis-suite. Try:`,
      `  curl '${base}/api/redis-demo/ping?connection=default'`,
      `  curl '${base}/api/redis-demo/status'`,
      `  curl '${base}/api/articles'`,
      '[demo] Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

main().catch(async (error) => {
  console.error(`[demo] ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
});
