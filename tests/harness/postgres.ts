/**
 * Real PostgreSQL test harness: starts throw-away clusters (`initdb`, then the `postgres` server
 * binary itself, so the harness knows the postmaster's PID) on a free loopback port, with trust
 * auth, no fsync, the data directory and the Unix socket in one temp folder. Never touches the
 * machine's own PostgreSQL (its port, its data, its socket directory).
 *
 *   const pg = await startPostgres();
 *   const db = await pg.createDatabase('boot');       // a fresh, empty database
 *   pg.url(db)                                        // postgres://postgres@127.0.0.1:<port>/<db>
 *   await pg.query('SELECT 1', db);
 *   await pg.stop();                                  // SIGINT (fast shutdown), SIGKILL after a bound
 *
 * Binaries: `PG_BIN_DIR` (default: the newest /usr/lib/postgresql/<version>/bin, else PATH).
 * initdb refuses to run as root: as root the cluster is created and run as the `postgres` user
 * (or `PG_HARNESS_USER`), through spawn's uid/gid.
 *
 * Crash safety, as the Redis harness: every postmaster is recorded in
 * `$TMPDIR/redis-suite-harness-pg-pids/`; clusters whose test process is gone are killed and
 * their folders removed by the next `startPostgres()` (or `reapPostgresOrphans()`).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { freePort, HOST, pidAlive } from './servers.js';

export interface PostgresHandle {
  readonly host: typeof HOST;
  readonly port: number;
  /** PID of the postmaster (changes after restart()). */
  readonly pid: number;
  /** The superuser every test connects as (trust auth, no password). */
  readonly user: string;
  /** The temp folder: data directory, socket directory and log. */
  readonly dir: string;
  readonly logFile: string;
  /** Server version, as `postgres --version` prints it (e.g. `15.14`). */
  readonly version: string;
  /** `postgres://<user>@127.0.0.1:<port>/<database>` (default database: `postgres`). */
  url(database?: string): string;
  /** A fresh empty database named `<label>_<random>`; returns its name. */
  createDatabase(label?: string): Promise<string>;
  /** One query on a short-lived connection; returns the rows. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, database?: string, params?: unknown[]): Promise<R[]>;
  /** Send `signal` to the postmaster and wait until it is gone (SIGKILL after a bound). Keeps the folder for restart(). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same port and data directory; waits until it answers. */
  restart(): Promise<void>;
  /** Fast shutdown (SIGINT), SIGKILL after a bound, then remove the folder. Idempotent. */
  stop(): Promise<void>;
  isAlive(): boolean;
  logTail(lines?: number): string;
}

export interface PostgresOptions {
  /** Extra `-c name=value` server settings, e.g. `{ max_connections: '200' }`. */
  settings?: Record<string, string>;
}

const TMP_PREFIX = 'redis-suite-harness-pg-';
const REGISTRY_DIR = path.join(os.tmpdir(), `${TMP_PREFIX}pids`);
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const SUPERUSER = 'postgres';

const INSTALL_HINT = 'Install it with: apt-get update && apt-get install -y postgresql (or set PG_BIN_DIR to a folder with initdb and postgres).';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// binaries and the user the cluster runs as

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

let cachedBins: PostgresBinaries | undefined;

function isExec(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Resolves initdb and postgres, or throws at once with the install command. */
export function requirePostgres(): PostgresBinaries {
  if (cachedBins) return cachedBins;
  const dirs: string[] = [];
  if (process.env.PG_BIN_DIR) dirs.push(process.env.PG_BIN_DIR);
  else {
    try {
      const versions = fs
        .readdirSync('/usr/lib/postgresql')
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a));
      for (const v of versions) dirs.push(path.join('/usr/lib/postgresql', v, 'bin'));
    } catch {
      // not a Debian layout: PATH below
    }
    dirs.push(...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean));
  }
  for (const dir of dirs) {
    const initdb = path.join(dir, 'initdb');
    const postgres = path.join(dir, 'postgres');
    if (isExec(initdb) && isExec(postgres)) {
      cachedBins = { initdb, postgres };
      return cachedBins;
    }
  }
  throw new Error(`postgres test harness: initdb/postgres not found (looked in ${dirs.slice(0, 3).join(', ')}, ...). ${INSTALL_HINT}`);
}

interface RunAs {
  uid?: number;
  gid?: number;
  name: string;
  home: string;
}

let cachedRunAs: RunAs | undefined;

/** Root: the `postgres` user (initdb refuses root). Anyone else: themselves. */
function runAs(): RunAs {
  if (cachedRunAs) return cachedRunAs;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    cachedRunAs = { name: os.userInfo().username, home: os.homedir() };
    return cachedRunAs;
  }
  const name = process.env.PG_HARNESS_USER || 'postgres';
  let entry: string | undefined;
  try {
    entry = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
  } catch {
    // no /etc/passwd
  }
  const fields = entry?.split(':');
  if (!fields || fields.length < 6) {
    throw new Error(
      `postgres test harness: running as root and there is no user "${name}" to run initdb as (it refuses root). ` +
        `${INSTALL_HINT} (the package creates the postgres user), or set PG_HARNESS_USER to an unprivileged user.`,
    );
  }
  cachedRunAs = { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] || '/tmp' };
  return cachedRunAs;
}

function childEnv(who: RunAs): NodeJS.ProcessEnv {
  // No PG* variables from the caller (PGHOST, PGPORT, ...): they would point tools elsewhere.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^PG/.test(k)) env[k] = v;
  return { ...env, HOME: who.home, USER: who.name, LOGNAME: who.name, LC_ALL: 'C', LANG: 'C' };
}

function execAs(bin: string, args: string[], timeoutMs: number): Promise<string> {
  const who = runAs();
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, env: childEnv(who), cwd: '/', ...(who.uid !== undefined ? { uid: who.uid, gid: who.gid } : {}) },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${path.basename(bin)} ${args.join(' ')} failed: ${err.message}\n${String(stdout)}\n${String(stderr)}`));
        else resolve(String(stdout));
      },
    );
  });
}

let cachedVersion: string | undefined;
function serverVersion(bin: string): string {
  cachedVersion ??= /(\d+(?:\.\d+)+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  return cachedVersion;
}

// ---------------------------------------------------------------------------
// crash-safe registry

interface RegistryEntry {
  pid: number;
  pidStart: string;
  ownerPid: number;
  ownerStart: string;
  port: number;
  dir: string;
}

function procStart(pid: number): string {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function registryWrite(entry: RegistryEntry): void {
  fs.mkdirSync(REGISTRY_DIR, { recursive: true });
  fs.writeFileSync(path.join(REGISTRY_DIR, `${entry.pid}.json`), JSON.stringify(entry));
}

function registryRemove(pid: number): void {
  fs.rmSync(path.join(REGISTRY_DIR, `${pid}.json`), { force: true });
}

function safeRmDir(dir: string): void {
  // Only ever delete our own temp folders.
  if (path.dirname(dir) === os.tmpdir() && path.basename(dir).startsWith(TMP_PREFIX) && dir !== REGISTRY_DIR) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function waitDead(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await sleep(25);
  }
  return !pidAlive(pid);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Kills clusters recorded by test processes that no longer exist (crashed or SIGKILLed runs) and
 * removes their folders. SIGQUIT first (immediate shutdown: the postmaster stops its backends),
 * then SIGKILL. Returns how many were killed.
 */
export async function reapPostgresOrphans(): Promise<number> {
  let files: string[];
  try {
    files = fs.readdirSync(REGISTRY_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return 0;
  }
  let killed = 0;
  await Promise.all(
    files.map(async (f) => {
      const file = path.join(REGISTRY_DIR, f);
      let entry: RegistryEntry;
      try {
        entry = JSON.parse(fs.readFileSync(file, 'utf8')) as RegistryEntry;
      } catch {
        fs.rmSync(file, { force: true });
        return;
      }
      if (pidAlive(entry.ownerPid, entry.ownerStart)) return;
      if (pidAlive(entry.pid, entry.pidStart)) {
        killed++;
        signal(entry.pid, 'SIGQUIT');
        if (!(await waitDead(entry.pid, 5000))) {
          signal(entry.pid, 'SIGKILL');
          await waitDead(entry.pid, 5000);
        }
      }
      safeRmDir(entry.dir);
      fs.rmSync(file, { force: true });
    }),
  );
  return killed;
}

// Last resort when a test process exits without stop(): SIGQUIT every cluster it started.
const live = new Set<PostgresImpl>();
let hooksInstalled = false;
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = (): void => {
    for (const s of live) s.killSync();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      process.off(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// ---------------------------------------------------------------------------
// the cluster

function tail(file: string, lines = 30): string {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

class PostgresImpl implements PostgresHandle {
  readonly host = HOST;
  readonly user = SUPERUSER;
  readonly logFile: string;
  readonly dataDir: string;
  readonly socketDir: string;
  private currentPid = 0;
  private currentPidStart = '';
  private stopped = false;

  constructor(
    readonly port: number,
    readonly dir: string,
    readonly version: string,
    private readonly bins: PostgresBinaries,
    private readonly settings: Record<string, string>,
  ) {
    this.dataDir = path.join(dir, 'data');
    this.socketDir = path.join(dir, 'sock');
    this.logFile = path.join(dir, 'postgres.log');
  }

  get pid(): number {
    return this.currentPid;
  }

  url(database = 'postgres'): string {
    return `postgres://${this.user}@${HOST}:${this.port}/${encodeURIComponent(database)}`;
  }

  isAlive(): boolean {
    return this.currentPid > 0 && pidAlive(this.currentPid, this.currentPidStart);
  }

  logTail(lines = 30): string {
    return tail(this.logFile, lines);
  }

  private failure(what: string): Error {
    return new Error(`postgres test harness: 127.0.0.1:${this.port} (pid ${this.currentPid}) ${what}\n--- log tail (${this.logFile}) ---\n${this.logTail()}`);
  }

  async spawnAndWait(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    if (this.stopped) throw new Error(`postgres :${this.port} was stopped`);
    const who = runAs();
    const args = ['-D', this.dataDir, '-p', String(this.port), '-k', this.socketDir, '-c', `listen_addresses=${HOST}`];
    const settings: Record<string, string> = {
      // Throw-away data: durability off, start-up and writes fast.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '200',
      shared_buffers: '32MB',
      ...this.settings,
    };
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
    fs.appendFileSync(this.logFile, `\n--- harness spawn ${new Date().toISOString()} ---\n`);
    const fd = fs.openSync(this.logFile, 'a');
    let spawnError: Error | undefined;
    try {
      const child = spawn(this.bins.postgres, args, {
        cwd: this.dir,
        env: childEnv(who),
        stdio: ['ignore', fd, fd],
        ...(who.uid !== undefined ? { uid: who.uid, gid: who.gid } : {}),
      });
      child.once('error', (e) => (spawnError = e));
      child.unref();
      if (child.pid === undefined) {
        await sleep(0);
        throw new Error(`could not spawn ${this.bins.postgres}: ${spawnError?.message ?? 'unknown error'}`);
      }
      this.currentPid = child.pid;
    } finally {
      fs.closeSync(fd);
    }
    this.currentPidStart = procStart(this.currentPid);
    live.add(this);
    installHooks();
    registryWrite({
      pid: this.currentPid,
      pidStart: this.currentPidStart,
      ownerPid: process.pid,
      ownerStart: procStart(process.pid),
      port: this.port,
      dir: this.dir,
    });

    const deadline = Date.now() + timeoutMs;
    let lastErr = '';
    while (Date.now() < deadline) {
      if (spawnError) throw this.failure(`spawn failed: ${spawnError.message}`);
      if (!this.isAlive()) throw this.failure('exited during startup');
      try {
        // Ours, not another server that took the port: the data directory must be this one.
        const [row] = await this.query<{ data_directory: string }>('SHOW data_directory');
        if (row && path.resolve(row.data_directory) === path.resolve(this.dataDir)) return;
        lastErr = `port answered by another server (data_directory ${row?.data_directory})`;
      } catch (e) {
        lastErr = (e as Error).message;
      }
      await sleep(50);
    }
    throw this.failure(`did not answer within ${timeoutMs} ms (last error: ${lastErr})`);
  }

  bindFailed(): boolean {
    return /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(this.logTail(20));
  }

  async query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, database = 'postgres', params: unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ host: HOST, port: this.port, user: this.user, database, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const res = await client.query(sql, params);
      return res.rows as R[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async createDatabase(label = 'test'): Promise<string> {
    const name = `${label.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${randomBytes(5).toString('hex')}`;
    await this.query(`CREATE DATABASE "${name}"`);
    return name;
  }

  killSync(): void {
    if (this.isAlive()) signal(this.currentPid, 'SIGQUIT');
    registryRemove(this.currentPid);
    safeRmDir(this.dir);
  }

  async kill(sig: NodeJS.Signals = 'SIGINT'): Promise<void> {
    const pid = this.currentPid;
    if (pid > 0 && this.isAlive()) {
      signal(pid, sig);
      if (sig !== 'SIGKILL' && sig !== 'SIGSTOP') signal(pid, 'SIGCONT');
      if (!(await waitDead(pid, sig === 'SIGKILL' ? 10_000 : STOP_TIMEOUT_MS))) {
        signal(pid, 'SIGCONT');
        signal(pid, 'SIGKILL');
        if (!(await waitDead(pid, 10_000))) throw this.failure(`did not die after ${sig} and SIGKILL`);
      }
    }
    registryRemove(pid);
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`postgres :${this.port} was stopped; cannot restart`);
    if (this.isAlive()) await this.kill('SIGINT');
    // After a SIGKILL the backends may still hold the shared memory for a moment.
    fs.rmSync(path.join(this.dataDir, 'postmaster.pid'), { force: true });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await this.spawnAndWait(Math.max(1000, deadline - Date.now()));
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(250);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      // SIGINT = "fast" shutdown: backends are told to quit, no checkpoint wait for clients.
      await this.kill('SIGINT');
    } finally {
      live.delete(this);
      safeRmDir(this.dir);
    }
  }
}

let reaped = false;

/** One throw-away PostgreSQL cluster on a free loopback port (trust auth, user `postgres`). */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresHandle> {
  const bins = requirePostgres();
  const who = runAs();
  if (!reaped) {
    reaped = true;
    const n = await reapPostgresOrphans();
    if (n > 0) console.warn(`[postgres harness] killed ${n} orphaned cluster(s) from a previous run`);
  }
  const version = serverVersion(bins.postgres);
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${TMP_PREFIX}${port}-`));
    const srv = new PostgresImpl(port, dir, version, bins, opts.settings ?? {});
    try {
      fs.mkdirSync(srv.socketDir);
      if (who.uid !== undefined) {
        fs.chownSync(dir, who.uid, who.gid!);
        fs.chownSync(srv.socketDir, who.uid, who.gid!);
      }
      fs.writeFileSync(srv.logFile, '');
      if (who.uid !== undefined) fs.chownSync(srv.logFile, who.uid, who.gid!);
      await execAs(bins.initdb, ['-D', srv.dataDir, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions'], 120_000);
      await srv.spawnAndWait();
      return srv;
    } catch (e) {
      lastError = e;
      const retry = srv.bindFailed();
      await srv.stop().catch(() => undefined);
      if (!retry) throw e;
    }
  }
  throw lastError;
}
