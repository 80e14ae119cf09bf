// Strapi apps for the Strapi-level benchmark: an app folder per server (its own sqlite file),
// booted as `node server.js` in its own process, ready when it answers /_health.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './redis.mjs';

const answers = (port) =>
  new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/_health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });

/** A temp folder for an app; removed by the handle's stop(). */
export const tempAppDir = (label) => fs.mkdtempSync(path.join(os.tmpdir(), `redis-suite-bench-${label}-`));

/**
 * Boot `node server.js` in `appDir` with `env` (no REDIS_* or npm_* inherited from the bench).
 * Resolves with `{ url, port, pid, bootMs, stop() }` once it answers HTTP (polled every `pollMs`;
 * `bootMs`: from the spawn to that first answer); rejects with its log tail when it exits first or
 * takes longer than `timeoutMs`. `keepDir`: stop() leaves the app folder (booted again later).
 */
export async function startStrapi(appDir, env, { label = path.basename(appDir), timeoutMs = 120_000, pollMs = 200, keepDir = false } = {}) {
  const port = await freePort();
  const spawnedAt = performance.now();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|REDIS_|NODE_OPTIONS$)/i.test(k)));
  const child = spawn(process.execPath, ['server.js'], {
    cwd: appDir,
    env: { ...base, NODE_ENV: 'production', STRAPI_TELEMETRY_DISABLED: 'true', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (d) => {
    log = (log + d).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => ((exited = true), resolve({ code, signal }))));
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    }
    if (!keepDir) fs.rmSync(appDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`${label}: Strapi exited before it answered HTTP\n--- log tail ---\n${log.slice(-6000)}`);
    }
    if (await answers(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${label}: no HTTP answer within ${timeoutMs} ms\n--- log tail ---\n${log.slice(-6000)}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const bootMs = performance.now() - spawnedAt;
  return { url: `http://127.0.0.1:${port}`, port, pid: child.pid, label, bootMs, logs: () => log, stop };
}
