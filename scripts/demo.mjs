#!/usr/bin/env node
// `npm run demo`: every feature of the plugin in a real Strapi 5 app, with no extra steps.
//
//   npm run demo                        one instance
//   npm run demo -- --instances 2       two instances behind one Redis, on two ports
//   npm run demo -- --cluster           against a local Redis Cluster (3 masters + 3 replicas)
//   npm run demo -- --no-admin          skip the admin panel (no build, headless)
//
// Steps, each with a progress line: install the playground with the freshly packed plugin, build
// the admin panel (cached: rebuilt only when what it is made from changed, see
// scripts/playground.mjs), start Redis (REDIS_URL when set, else a throwaway redis-server, or a
// Cluster with --cluster, both from the test harness), boot Strapi with every feature switched on
// (config modules in scripts/demo/config/), seed it (scripts/demo/seed.json), create a demo admin
// and a full-access API token, then print the tour (scripts/demo/tour.js). Every run starts from a
// fresh database in a temporary folder. Ctrl-C stops Strapi, then Redis, and removes the folder.
//
// Environment: REDIS_URL (use this Redis), PORT (first instance's port, the next ones follow;
// default 1337, or the next free one), HOST (default 127.0.0.1), REDIS_SERVER_BIN / REDIS_CLI_BIN
// (e.g. valkey-server / valkey-cli). DEMO_STATE_FILE: once ready, write the tour's context and
// every PID to this JSON file (tests/demo uses it; it holds the demo's credentials).
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ROOT_DIR, createAppDir, buildAdmin, install } from './playground.mjs';
import tour from './demo/tour.js';

const { ADMIN_VIEWS, renderTour, stepsFor } = tour;

const DEMO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'demo');
const CONFIG = (name) => path.join(DEMO_DIR, 'config', name);
const ADMIN_EMAIL = 'demo@example.com';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const say = (line) => process.stdout.write(`[demo] ${line}\n`);

// --- arguments -----------------------------------------------------------------------------------

const USAGE = `usage: npm run demo [-- --instances <n>] [--cluster] [--no-admin]
  --instances <n>  run n Strapi instances (default 1) behind one Redis, on consecutive ports
  --cluster        run against a local Redis Cluster (3 masters + 3 replicas) instead of one server
  --no-admin       do not build or serve the admin panel`;

function parseArgs(argv) {
  const opts = { instances: 1, cluster: false, admin: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--cluster') opts.cluster = true;
    else if (arg === '--no-admin') opts.admin = false;
    else if (arg === '--instances' || arg.startsWith('--instances=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      opts.instances = Number(value);
      if (!Number.isInteger(opts.instances) || opts.instances < 1 || opts.instances > 9) {
        throw new UsageError(`--instances: got ${JSON.stringify(value)}; expected an integer from 1 to 9`, { showUsage: true });
      }
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`unknown option ${JSON.stringify(arg)}`, { showUsage: true });
  }
  return opts;
}

class UsageError extends Error {
  constructor(message, { showUsage = false } = {}) {
    super(message);
    this.showUsage = showUsage;
  }
}

// --- progress lines ------------------------------------------------------------------------------

// `[demo] <step> ... done in 2.3 s`: on a terminal the step's name is shown while it runs.
async function step(title, fn) {
  const tty = process.stdout.isTTY;
  if (tty) process.stdout.write(`[demo] ${title} ... `);
  const started = Date.now();
  try {
    const result = await fn();
    const note = result && typeof result === 'object' && typeof result.note === 'string' ? ` (${result.note})` : '';
    const done = `done in ${seconds(Date.now() - started)}${note}`;
    process.stdout.write(tty ? `${done}\n` : `[demo] ${title} ... ${done}\n`);
    return result;
  } catch (error) {
    process.stdout.write(tty ? 'failed\n' : `[demo] ${title} ... failed after ${seconds(Date.now() - started)}\n`);
    throw error;
  }
}

// --- processes -----------------------------------------------------------------------------------

// Every child runs in its own process group (detached), so Ctrl-C reaches only this script, which
// stops them in order: Strapi first (its destroy() still talks to Redis), Redis last. Each also
// has a pipe on stdin: if this script dies without stopping them, the pipe ends and they stop.
const children = [];
let runDir;

// A zombie (exited, not yet reaped by its parent) counts as gone.
const alive = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZXx]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
  } catch (error) {
    if (error.code !== 'ENOENT' || fs.existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

async function stopChild(entry, timeoutMs = 15_000) {
  const { child } = entry;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      say(`${entry.name} still running ${seconds(timeoutMs)} after SIGTERM: SIGKILL`);
      child.kill('SIGKILL');
    }, timeoutMs);
    await exited;
    clearTimeout(timer);
  }
  // Processes it started itself (the Redis servers of servers.mjs): gone with it, or killed here.
  const deadline = Date.now() + 2000;
  while ((entry.pids?.() ?? []).some(alive) && Date.now() < deadline) await sleep(50);
  for (const pid of entry.pids?.() ?? []) {
    if (!alive(pid)) continue;
    say(`${entry.name}: pid ${pid} outlived it: SIGKILL`);
    process.kill(pid, 'SIGKILL');
  }
}

let shutdown;
function stopAll(code, reason) {
  shutdown ??= (async () => {
    const started = Date.now();
    if (reason) say(reason);
    const strapis = children.filter((c) => c.kind === 'strapi');
    const others = children.filter((c) => c.kind !== 'strapi');
    const what = [strapis.length && `${strapis.length} Strapi instance${strapis.length > 1 ? 's' : ''}`, ...others.map((c) => c.name)].filter(Boolean);
    // After a failure the folder stays, for its logs (the next run removes it).
    const keep = code !== 0 && children.some((c) => c.kind === 'strapi');
    if (what.length) {
      await step(`stopping ${what.join(', ')}`, async () => {
        await Promise.all(strapis.map((c) => stopChild(c)));
        for (const c of others) await stopChild(c);
      });
    }
    if (runDir && !keep) fs.rmSync(runDir, { recursive: true, force: true });
    if (keep) say(`the logs are in ${runDir}`);
    if (code === 0) say(`stopped everything it started in ${seconds(Date.now() - started)}`);
    process.exit(code);
  })();
  return shutdown;
}

function onSignals() {
  let signals = 0;
  const handler = (sig) => {
    signals += 1;
    if (signals === 1) {
      process.stdout.write('\n');
      void stopAll(0, `${sig}: stopping`);
      return;
    }
    // A second Ctrl-C: no more waiting.
    say(`${sig} again: SIGKILL to everything`);
    for (const { child, pids } of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const pid of pids?.() ?? []) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
}

// A demo killed with SIGKILL leaves its folder (its children stop by themselves: their stdin
// ends). The next run removes such folders.
const RUN_DIR_PREFIX = 'redis-suite-demo-';
function sweepRunDirs() {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    try {
      const owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
      if (owner > 0 && !alive(owner)) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // not a run folder, or being made right now
    }
  }
}

// npm passes its settings to scripts as npm_* variables; the children must not see them.
function baseEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && value !== undefined) env[key] = value;
  }
  return env;
}

// --- Redis ---------------------------------------------------------------------------------------

const onPath = (bin) => {
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const redact = (url) => url.replace(/\/\/([^@/]*)@/, '//***@');

/** A throwaway standalone server or Cluster from the test harness, in a process of its own. */
async function startServers(topology) {
  const child = spawn(process.execPath, [path.join(DEMO_DIR, 'servers.mjs'), topology], {
    cwd: ROOT_DIR,
    env: baseEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let info;
  const entry = { child, kind: 'redis', name: topology === 'cluster' ? 'the Redis Cluster' : 'redis-server', pids: () => info?.pids ?? [] };
  children.push(entry);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const lines = readline.createInterface({ input: child.stdout });
  info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`servers.mjs ${topology}: no answer within 90 s\n${stderr}`)), 90_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`servers.mjs ${topology}: ${line}\n${stderr}`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`servers.mjs ${topology} exited (${signal ?? `code ${code}`})\n${stderr}`));
    });
  });
  if (!info.ready) throw new Error(`could not start ${entry.name}: ${info.error}`);
  child.removeAllListeners('exit');
  child.once('exit', (code, signal) => {
    if (!shutdown) void stopAll(1, `${entry.name} exited (${signal ?? `code ${code}`})`);
  });
  return info;
}

// --- Strapi --------------------------------------------------------------------------------------

const portFree = (port, host) =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });

const freePort = (host) =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

// PORT given: exactly PORT, PORT + 1, ... Otherwise 1337, 1338, ... or the next free ones (kept
// out of the ephemeral range, where other programs' port-0 sockets could take one while Strapi boots).
async function pickPorts(n, host) {
  if (process.env.PORT) {
    const base = Number(process.env.PORT);
    if (!Number.isInteger(base) || base < 1 || base + n - 1 > 65535) {
      throw new UsageError(`PORT: got ${JSON.stringify(process.env.PORT)}; expected a port from 1 to ${65536 - n}`);
    }
    const ports = Array.from({ length: n }, (_, i) => base + i);
    for (const port of ports)
      if (!(await portFree(port, host))) throw new UsageError(`PORT=${base}: port ${port} is in use; pick another PORT or leave it unset`);
    return ports;
  }
  const ports = [];
  for (let port = 1337; ports.length < n && port < 1337 + 200; port++) if (await portFree(port, host)) ports.push(port);
  while (ports.length < n) ports.push(await freePort(host));
  return ports;
}

const httpAnswers = (host, port) =>
  new Promise((resolve) => {
    const req = http.get({ host, port, path: '/_health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });

// Strapi's log goes to <run dir>/<name>.log; warnings and errors are echoed here as `[A] ...`.
function pipeLog(stream, name, file) {
  const out = fs.createWriteStream(file, { flags: 'a' });
  const lines = readline.createInterface({ input: stream });
  let echo = false;
  lines.on('line', (line) => {
    out.write(`${line}\n`);
    // eslint-disable-next-line no-control-regex
    const plain = line.replace(/\u001b\[[0-9;]*m/g, '');
    const stamped = /^\[\d{4}-\d\d-\d\d /.test(plain);
    if (stamped) echo = /\] (warn|error):/.test(plain);
    if (echo || (!stamped && plain.trim() && !shutdown)) process.stdout.write(`[${name}] ${plain}\n`);
  });
}

async function bootStrapi({ name, appDir, host, port, env }) {
  const logFile = path.join(runDir, `${name}.log`);
  const child = spawn(process.execPath, ['server.js'], {
    cwd: appDir,
    env: { ...baseEnv(), ...env, HOST: host, PORT: String(port), DEMO_INSTANCE: name, PLAYGROUND_EXIT_ON_STDIN_END: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const entry = { child, kind: 'strapi', name: `Strapi ${name}`, logFile };
  children.push(entry);
  pipeLog(child.stdout, name, logFile);
  pipeLog(child.stderr, name, logFile);
  let exited = false;
  child.once('exit', (code, signal) => {
    exited = true;
    if (!shutdown) void stopAll(1, `Strapi ${name} exited (${signal ?? `code ${code}`})`);
  });
  const deadline = Date.now() + 180_000;
  while (!(await httpAnswers(host, port))) {
    if (exited) throw new Error(`Strapi ${name} exited during boot`);
    if (Date.now() > deadline) throw new Error(`Strapi ${name} did not answer on ${host}:${port} within 180 s`);
    await sleep(100);
  }
  return entry;
}

async function api(base, method, route, { token, body } = {}) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

// The demo admin (the first admin of the fresh database, so a super admin) with a password made for
// this run, a full-access API token for the tour's write, and the article the tour reads.
async function demoCredentials(base) {
  const password = `Demo-${randomBytes(6).toString('hex')}-Pw1`;
  const registered = await api(base, 'POST', '/admin/register-admin', {
    body: { firstname: 'Demo', lastname: 'Admin', email: ADMIN_EMAIL, password },
  });
  const jwt = registered.data.token;
  const token = await api(base, 'POST', '/admin/api-tokens', {
    token: jwt,
    body: { name: 'demo (full access)', description: 'made by npm run demo', type: 'full-access', lifespan: null },
  });
  const list = await api(base, 'GET', '/content-manager/collection-types/api::article.article?page=1&pageSize=1&sort=id:ASC', { token: jwt });
  const [article] = list.results;
  return { admin: { email: ADMIN_EMAIL, password }, token: token.data.accessKey, article: { documentId: article.documentId, title: article.title } };
}

// --- main ----------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  onSignals();
  const started = Date.now();
  const host = process.env.HOST || '127.0.0.1';
  const multi = opts.instances > 1;

  const useUrl = process.env.REDIS_URL && !opts.cluster;
  if (!useUrl && !onPath(process.env.REDIS_SERVER_BIN || 'redis-server')) {
    console.error(
      [
        `[demo] No Redis: REDIS_URL is not set and ${process.env.REDIS_SERVER_BIN || 'redis-server'} is not on PATH.`,
        '[demo] Either install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)',
        '[demo] or point the demo at one: REDIS_URL=redis://127.0.0.1:6379 npm run demo',
      ].join('\n'),
    );
    process.exit(1);
  }

  if (!fs.existsSync(path.join(ROOT_DIR, 'playground', 'node_modules', '@strapi', 'strapi'))) {
    say('first run: installs the playground app (npm ci of Strapi 5.54: a few minutes, better-sqlite3 compiles)');
    if (opts.admin) say('           and builds its admin panel (strapi build: 1-3 minutes); later runs reuse both');
  }
  const installLog = [];
  const quiet = (line) => installLog.push(line);
  await step('installing the playground app with the packed plugin', async () => {
    try {
      const did = await install({ log: quiet });
      const work = [did.npmCi && 'npm ci', did.build && 'build + pack', did.pluginInstall && 'plugin install'].filter(Boolean);
      return { note: work.length ? work.join(', ') : 'up to date' };
    } catch (error) {
      console.error(installLog.join('\n'));
      throw error;
    }
  });
  if (opts.admin) {
    await step('building the admin panel', async () => {
      try {
        const built = await buildAdmin({ log: quiet });
        return { note: built.built ? 'strapi build; cached for the next runs' : 'cached build, nothing it is made from changed' };
      } catch (error) {
        console.error(installLog.join('\n'));
        throw error;
      }
    });
  }

  let connection;
  let redisLabel;
  if (useUrl) {
    connection = process.env.REDIS_URL;
    redisLabel = `REDIS_URL=${redact(connection)}`;
    say(`using ${redisLabel}`);
  } else {
    const topology = opts.cluster ? 'cluster' : 'standalone';
    if (opts.cluster && process.env.REDIS_URL) say('--cluster: REDIS_URL is not used, the demo starts a Cluster of its own');
    const info = await step(opts.cluster ? 'starting a Redis Cluster (3 masters + 3 replicas, throwaway)' : 'starting a throwaway redis-server', async () => {
      const servers = await startServers(topology);
      const where = servers.nodes.map((n) => `${n.host}:${n.port}`);
      return {
        ...servers,
        note: `${path.basename(servers.bin)} on ${opts.cluster ? `${where.slice(0, 3).join(', ')} + 3 replicas` : where[0]}, no persistence`,
      };
    });
    connection = opts.cluster ? { nodes: info.nodes.slice(0, 3) } : info.url;
    redisLabel = opts.cluster
      ? `Redis Cluster ${info.nodes
          .slice(0, 3)
          .map((n) => `${n.host}:${n.port}`)
          .join(', ')} (+3 replicas)`
      : info.url;
  }

  sweepRunDirs();
  runDir = fs.mkdtempSync(path.join(os.tmpdir(), RUN_DIR_PREFIX));
  fs.writeFileSync(path.join(runDir, 'owner.pid'), String(process.pid));
  const appDir = createAppDir(path.join(runDir, 'app'));
  const ports = await pickPorts(opts.instances, host);
  const names = ports.map((_, i) => String.fromCharCode(65 + i));
  const urlOf = (port) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const urls = ports.map(urlOf);
  const env = {
    NODE_ENV: 'production',
    STRAPI_TELEMETRY_DISABLED: 'true',
    DATABASE_FILENAME: path.join(runDir, 'data.db'),
    DEMO_REDIS_CONNECTION: JSON.stringify(connection),
    REDIS_PLUGIN_CONFIG: CONFIG('redis.js'),
    MIDDLEWARES_CONFIG: CONFIG('middlewares.js'),
    GRAPHQL_PLUGIN_CONFIG: CONFIG('graphql.js'),
    ADMIN_RATELIMIT_CONFIG: CONFIG('admin-ratelimit.js'),
    UP_RATELIMIT_CONFIG: CONFIG('auth-ratelimit.js'),
    CRON_TASKS_CONFIG: CONFIG('cron-tasks.js'),
    PLAYGROUND_DEMO: '1',
    ...(opts.admin ? { PLAYGROUND_SERVE_ADMIN: '1' } : {}),
  };

  const strapis = [];
  // One after the other: the first boot creates the schema and seeds the shared database.
  for (let i = 0; i < ports.length; i++) {
    const seed = i === 0 ? { PLAYGROUND_DEMO_SEED: path.join(DEMO_DIR, 'seed.json') } : {};
    strapis.push(
      await step(`booting Strapi ${names[i]} on ${urls[i]}${i === 0 ? ' (fresh database, seeded)' : ''}`, () =>
        bootStrapi({ name: names[i], appDir, host, port: ports[i], env: { ...env, ...seed } }),
      ),
    );
  }
  const creds = await step(opts.admin ? 'creating the demo admin and an API token' : 'creating an API token', () => demoCredentials(urls[0]));

  const ctx = {
    a: urls[0],
    b: urls[1] ?? urls[0],
    urls,
    names,
    multi,
    topology: opts.cluster ? 'cluster' : 'standalone',
    article: creds.article,
    editedTitle: `Edited at ${new Date().toISOString().slice(11, 19)}`,
    token: creds.token,
    admin: opts.admin ? creds.admin : null,
    authFile: path.join(runDir, 'authorization.txt'),
    jar: path.join(runDir, 'cookies.txt'),
  };
  fs.writeFileSync(ctx.authFile, `Authorization: Bearer ${creds.token}\n`, { mode: 0o600 });

  const lines = [
    '',
    `[demo] Ready in ${seconds(Date.now() - started)}: ${multi ? `${urls.length} Strapi instances` : 'Strapi'} with strapi-plugin-redis-suite on ${redisLabel}`,
    ...urls.map((url, i) => `         ${names[i]}: ${url}   (log: ${strapis[i].logFile})`),
    opts.admin
      ? `       Admin panel: ${urls[0]}/admin   email ${creds.admin.email}   password ${creds.admin.password}`
      : '       Admin panel: not built (--no-admin)',
    ...(opts.admin ? [`       Redis views: ${ADMIN_VIEWS.map((view) => `/admin/plugins/redis/${view.path}`).join(', ')}`] : []),
    `       API token (full access, this run only): as a header in ${ctx.authFile} (curl -H @file)`,
    '',
    `[demo] Tour: run each command; the line under it says what its output shows.\n${renderTour(ctx)}`,
    '',
    `[demo] ${stepsFor(ctx).length} steps. Ctrl-C stops everything the demo started.`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  if (process.env.DEMO_STATE_FILE) {
    const state = {
      ctx,
      readyMs: Date.now() - started,
      pids: { demo: process.pid, children: children.map((c) => ({ name: c.name, pid: c.child.pid, pids: c.pids?.() ?? [] })) },
      runDir,
    };
    fs.writeFileSync(process.env.DEMO_STATE_FILE, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  }
}

main().catch(async (error) => {
  console.error(`[demo] ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof UsageError && error.showUsage) console.error(USAGE);
  await stopAll(error instanceof UsageError ? 2 : 1);
});
