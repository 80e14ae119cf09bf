/**
 * End-to-end runner: boots the playground Strapi app (with the packed plugin installed, as a
 * user installs it) in a real child process, one app folder and sqlite database per app.
 *
 *   await ensurePlaygroundInstalled();                 // once, e.g. in beforeAll / globalSetup
 *   const app = await startApp({ redisUrl });          // or pluginConfig / env.REDIS_URL
 *   await fetch(`${app.url}/api/articles`);
 *   const exit = await app.stop();                     // SIGTERM, SIGKILL after a bound
 *
 * The Redis address always comes from the caller: the child never inherits REDIS_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** A module source (string) or a value written as JSON. */
export type ModuleSpec = string | object;

export interface StartAppOptions {
  /**
   * The redis plugin's `config` (what `config/plugins.js` puts under `redis.config`). An object
   * is written as JSON; a string is the source of a CommonJS module (`module.exports = ...`) so
   * functions, class instances and odd values can be passed. Omitted: one `default` connection
   * to `redisUrl` / `env.REDIS_URL`.
   */
  pluginConfig?: ModuleSpec;
  /** Shorthand for `env.REDIS_URL` (used when `pluginConfig` is omitted). */
  redisUrl?: string;
  /** The whole middleware list (array), or module source exporting an array or `(defaults) => array`. */
  middlewares?: ModuleSpec;
  /** Module source (or object) for Strapi's `server.cron.tasks`; cron is enabled only when given. */
  cronTasks?: ModuleSpec;
  /**
   * PostgreSQL instead of the app's own SQLite file (`DATABASE_URL`), e.g. a database of the
   * throw-away cluster from tests/harness/postgres.ts that several apps share.
   */
  databaseUrl?: string;
  /**
   * Files written into the app folder before boot, by path relative to it, e.g.
   * `{ 'database/migrations/2020.01.01T00.00.00.probe.js': source }` (user migrations) or a
   * changed content-type schema under `src/api/...`.
   */
  files?: Record<string, string>;
  /** Called with each chunk of the child's stdout/stderr as it arrives (ANSI colours left in). */
  onOutput?: (chunk: string) => void;
  /** Extra environment for the child (wins over everything the runner sets). */
  env?: Record<string, string>;
  /** Fixed port; default: a free port picked per start (retried if it was taken meanwhile). */
  port?: number;
  /** How long to wait for HTTP (or, with expectBootFailure, for the exit). Default 60 s. */
  readyTimeoutMs?: number;
  /** Resolve once the process exits (boot must fail); reject if it answers HTTP instead. */
  expectBootFailure?: boolean;
  /** Keep the app folder after stop (also E2E_KEEP_APPS=1). */
  keepAppDir?: boolean;
}

export interface AppExit {
  code: number | null;
  signal: string | null;
  /** From the stop signal to the exit; from the start when it exited by itself. */
  durationMs: number;
}

export interface StopResult extends AppExit {
  /** True when the process outlived the bound and was SIGKILLed. */
  killed: boolean;
}

export interface AppHandle {
  url: string;
  port: number;
  pid: number;
  appDir: string;
  /** stdout + stderr so far, ANSI colours removed. */
  logs(): string;
  /** Send `signal`, wait up to `timeoutMs` (default 10 s), then SIGKILL. Removes the app folder. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<StopResult>;
  /** Settles when the process exits, whoever caused it. */
  exited: Promise<AppExit>;
  /** True while the process runs. */
  isRunning(): boolean;
}

interface PlaygroundModule {
  install(opts?: { force?: boolean; log?: (line: string) => void }): Promise<unknown>;
  createAppDir(dir: string): string;
  ROOT_DIR: string;
  PLAYGROUND_MODULES: string;
}

const findRoot = (): string => {
  const starts = [typeof __dirname === 'string' ? __dirname : undefined, process.cwd()];
  for (const start of starts) {
    let dir = start;
    while (dir) {
      if (fs.existsSync(path.join(dir, 'scripts', 'playground.mjs')) && fs.existsSync(path.join(dir, 'playground'))) {
        return dir;
      }
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error('tests/e2e/app.ts: cannot find the repository root (scripts/playground.mjs)');
};

export const ROOT_DIR = findRoot();

let playgroundModule: Promise<PlaygroundModule> | undefined;
const loadPlayground = (): Promise<PlaygroundModule> => {
  playgroundModule ??= import(pathToFileURL(path.join(ROOT_DIR, 'scripts', 'playground.mjs')).href) as Promise<PlaygroundModule>;
  return playgroundModule;
};

let installed: Promise<void> | undefined;

/**
 * Installs the playground and the freshly built + packed plugin (scripts/playground.mjs
 * install). Once per process; concurrent processes serialize on a lock and find it done.
 */
export function ensurePlaygroundInstalled(opts: { force?: boolean; quiet?: boolean } = {}): Promise<void> {
  installed ??= (async () => {
    const mod = await loadPlayground();
    const lines: string[] = [];
    const log = (line: string): void => {
      lines.push(line);
      if (!opts.quiet) console.error(`[playground] ${line}`);
    };
    await mod.install({ force: opts.force ?? false, log });
  })();
  installed.catch(() => {
    installed = undefined;
  });
  return installed;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

// Variables the child must not inherit from the test process: the app's own knobs (the caller
// sets them), npm's script variables and vitest's.
const DROPPED_ENV = [
  /^npm_/i,
  /^REDIS_/,
  /^(PORT|HOST|APP_DIR|DATABASE_FILENAME|DATABASE_URL|MIDDLEWARES_CONFIG|CRON_TASKS_CONFIG|NODE_ENV)$/,
  /^VITEST/,
  /^NODE_OPTIONS$/,
];

const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !DROPPED_ENV.some((re) => re.test(key))) env[key] = value;
  }
  return env;
};

const writeModule = (dir: string, name: string, spec: ModuleSpec): string => {
  const file = path.join(dir, typeof spec === 'string' ? `${name}.js` : `${name}.json`);
  fs.writeFileSync(file, typeof spec === 'string' ? spec : JSON.stringify(spec, null, 2));
  return file;
};

const APP_DIR_PREFIX = 'redis-suite-e2e-';
const OWNER_FILE = '.e2e-owner.json';

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

// App folders whose test process is gone (killed worker, forgotten stop()) are removed by the
// next run; kept ones (keepAppDir / E2E_KEEP_APPS) stay.
let swept = false;
const sweepStaleAppDirs = (): void => {
  if (swept) return;
  swept = true;
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(APP_DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    try {
      const owner = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as { pid?: number; keep?: boolean };
      if (owner.keep || (typeof owner.pid === 'number' && pidAlive(owner.pid))) continue;
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Not ours, or being created right now.
    }
  }
};

// Last resort when a test forgets stop(): kill the children and remove their app folders.
const running = new Set<ChildProcess>();
const appDirs = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of appDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Any HTTP answer on /_health means Strapi finished bootstrap and listens. */
const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/_health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A wait that does not keep the process alive (for races against an exit). */
const sleepUnref = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

class BootError extends Error {
  constructor(
    message: string,
    readonly logs: string,
    readonly portInUse: boolean,
  ) {
    super(`${message}\n--- app logs ---\n${logs.slice(-8000)}`);
    this.name = 'BootError';
  }
}

async function startOnce(opts: StartAppOptions, port: number): Promise<AppHandle> {
  const mod = await loadPlayground();
  sweepStaleAppDirs();
  const appDir = fs.mkdtempSync(path.join(os.tmpdir(), APP_DIR_PREFIX));
  const keep = opts.keepAppDir === true || process.env.E2E_KEEP_APPS === '1';
  fs.writeFileSync(path.join(appDir, OWNER_FILE), JSON.stringify({ pid: process.pid, keep }));
  if (!keep) appDirs.add(appDir);
  const removeAppDir = (): void => {
    if (keep) return;
    fs.rmSync(appDir, { recursive: true, force: true });
    appDirs.delete(appDir);
  };

  let child: ChildProcess;
  try {
    mod.createAppDir(appDir);
    for (const [rel, content] of Object.entries(opts.files ?? {})) {
      const file = path.resolve(appDir, rel);
      if (!file.startsWith(appDir + path.sep)) throw new Error(`startApp: files["${rel}"] is outside the app folder`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
    const env: Record<string, string> = {
      ...baseEnv(),
      NODE_ENV: 'production',
      STRAPI_TELEMETRY_DISABLED: 'true',
      HOST: '127.0.0.1',
      PORT: String(port),
      PLAYGROUND_EXIT_ON_STDIN_END: '1',
    };
    if (opts.redisUrl !== undefined) env.REDIS_URL = opts.redisUrl;
    if (opts.databaseUrl !== undefined) env.DATABASE_URL = opts.databaseUrl;
    if (opts.pluginConfig !== undefined) env.REDIS_PLUGIN_CONFIG = writeModule(appDir, 'redis-plugin-config', opts.pluginConfig);
    if (opts.middlewares !== undefined) env.MIDDLEWARES_CONFIG = writeModule(appDir, 'middlewares-config', opts.middlewares);
    if (opts.cronTasks !== undefined) env.CRON_TASKS_CONFIG = writeModule(appDir, 'cron-tasks-config', opts.cronTasks);
    Object.assign(env, opts.env);
    if (env.REDIS_PLUGIN_CONFIG === undefined && env.REDIS_URL === undefined) {
      throw new Error('startApp: pass pluginConfig, redisUrl or env.REDIS_URL (the runner never guesses a Redis address)');
    }
    // stdin stays an open pipe: if this process dies, the app sees it end and shuts down.
    child = spawn(process.execPath, ['server.js'], { cwd: appDir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    removeAppDir();
    throw error;
  }

  const started = Date.now();
  child.stdin?.on('error', () => undefined);
  let output = '';
  const onOutput = (chunk: Buffer): void => {
    const text = chunk.toString();
    output += text;
    opts.onOutput?.(text);
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const logs = (): string => output.replace(ANSI, '');

  running.add(child);
  let exitInfo: { code: number | null; signal: string | null; at: number } | undefined;
  let stopSentAt: number | undefined;
  const exitedRaw = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) => {
    const settle = (code: number | null, signal: string | null): void => {
      if (exitInfo) return;
      running.delete(child);
      exitInfo = { code, signal, at: Date.now() };
      resolve(exitInfo);
    };
    child.once('exit', settle);
    // Spawning itself failed: there will be no 'exit'.
    child.once('error', (error) => {
      output += `\n[e2e] ${String(error)}\n`;
      if (child.pid === undefined) settle(null, null);
    });
  });
  // Streams may still hold the last lines when 'exit' fires; 'close' waits for them.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited: Promise<AppExit> = exitedRaw.then(async (info) => {
    await Promise.race([closed, sleepUnref(500)]);
    return { code: info.code, signal: info.signal, durationMs: info.at - (stopSentAt ?? started) };
  });

  const pid = child.pid;
  if (pid === undefined) {
    await exited;
    removeAppDir();
    throw new BootError('startApp: the child process could not be spawned', logs(), false);
  }

  let stopping: Promise<StopResult> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<StopResult> => {
    stopping ??= (async () => {
      let killed = false;
      if (!exitInfo) {
        stopSentAt = Date.now();
        child.kill(signal);
        const bounded = await Promise.race([exitedRaw.then(() => true), sleepUnref(timeoutMs).then(() => false)]);
        if (!bounded) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
      const info = await exited;
      removeAppDir();
      return { ...info, killed };
    })();
    return stopping;
  };

  const handle: AppHandle = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid,
    appDir,
    logs,
    stop,
    exited,
    isRunning: () => exitInfo === undefined,
  };

  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const deadline = started + timeoutMs;
  for (;;) {
    if (exitInfo) {
      await exited;
      if (opts.expectBootFailure) return handle;
      removeAppDir();
      const how = exitInfo.signal ? `signal ${exitInfo.signal}` : `code ${exitInfo.code}`;
      throw new BootError(`startApp: the app exited with ${how} before it answered HTTP`, logs(), /EADDRINUSE/.test(logs()));
    }
    if (await answers(port)) {
      if (!opts.expectBootFailure) return handle;
      // The answer is this app's only once it says it started: another process (an app of
      // another test file, on a busy machine) may have taken the port between the probe and this
      // app's listen. A clean-clone CI run saw that: an answer while this app had logged nothing.
      const startedLine = /Strapi started successfully/;
      const waitUntil = Date.now() + 5000;
      while (!startedLine.test(logs()) && !exitInfo && Date.now() < waitUntil) await sleep(50);
      if (exitInfo) continue; // it failed to boot, as expected: the next turn returns it
      await stop();
      if (!startedLine.test(logs())) throw new BootError('startApp: another process answers HTTP on the port this app was given', logs(), true);
      throw new BootError('startApp: expected the boot to fail, but the app answers HTTP', logs(), false);
    }
    if (Date.now() > deadline) {
      await stop('SIGKILL');
      throw new BootError(`startApp: no ${opts.expectBootFailure ? 'exit' : 'HTTP answer'} within ${timeoutMs} ms`, logs(), false);
    }
    await sleep(opts.expectBootFailure ? 50 : 100);
  }
}

/** Boots the playground app in a child process and waits until it answers HTTP (or exits). */
export async function startApp(opts: StartAppOptions = {}): Promise<AppHandle> {
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await startOnce(opts, port);
    } catch (error) {
      // Another process took the free port between the probe and Strapi's listen: try another.
      if (error instanceof BootError && error.portInUse && opts.port === undefined && attempt < 3) continue;
      throw error;
    }
  }
}

/**
 * vitest globalSetup entry: `globalSetup: ['tests/harness/global-setup.ts', 'tests/e2e/app.ts']`
 * installs the playground once, before any worker starts (a clean machine: about two minutes).
 */
export default async function globalSetup(): Promise<void> {
  await ensurePlaygroundInstalled();
}
