/**
 * Real Redis test harness: starts throw-away redis-server processes
 * (standalone, Cluster, Sentinel) on free loopback ports, each in its own temp
 * dir, and tears them down by PID. Never touches the machine's own Redis.
 *
 * Binaries: REDIS_SERVER_BIN (default `redis-server`), REDIS_CLI_BIN (default
 * `redis-cli`), REDIS_SENTINEL_BIN (default `redis-sentinel` when on PATH,
 * otherwise `<server bin> <conf> --sentinel`). Point them at valkey-* to test
 * against Valkey.
 */
import { execFile, spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const HOST = '127.0.0.1' as const;

export interface HostPort {
  host: string;
  port: number;
}

export interface ServerHandle {
  readonly host: typeof HOST;
  readonly port: number;
  /** PID of the current process (changes after restart()). */
  readonly pid: number;
  /** redis://[:password@]127.0.0.1:port */
  readonly url: string;
  readonly dir: string;
  readonly logFile: string;
  readonly password: string | undefined;
  readonly role: 'server' | 'sentinel';
  /** Send `signal` (default SIGTERM) and wait until /proc says dead/zombie/gone. Keeps the dir for restart(). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (SIGKILL after a bound), then remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Kill if alive, start again on the same port with the same config/args, wait until it answers. */
  restart(): Promise<void>;
  /** Liveness read from /proc/<pid>/stat ('Z'/'X'/missing = dead). */
  isAlive(): boolean;
  /** SIGSTOP: the process keeps its sockets but stops answering (simulates a hang). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Last `lines` lines of the server log. */
  logTail(lines?: number): string;
}

export interface StandaloneOptions {
  password?: string;
  /** Extra command-line args appended after the config file, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
}

export interface ClusterHandle {
  /** All 6 nodes as startup nodes, the 3 initial masters first (ordered by slot). */
  nodes: HostPort[];
  /** Same order as `nodes`. */
  servers: ServerHandle[];
  /** Asks the cluster which node currently serves the key's slot. */
  masterFor(key: string): Promise<ServerHandle>;
  /** Nodes that are currently replicas (asked live, so correct after a failover). */
  replicas(): Promise<ServerHandle[]>;
  stop(): Promise<void>;
}

export interface SentinelHandle {
  sentinels: HostPort[];
  name: 'mymaster';
  /** The initial master; after a failover ask currentMaster(). */
  master: ServerHandle;
  /** The initial replica. */
  replica: ServerHandle;
  sentinelServers: ServerHandle[];
  /** Asks the sentinels (first one that answers) for the current master address. */
  currentMaster(): Promise<HostPort>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// binaries

export interface RedisBinaries {
  server: string;
  cli: string;
  /** How to run a sentinel: `bin` then `<conf>` then `extraArgs`. */
  sentinel: { bin: string; extraArgs: string[] };
}

const INSTALL_HINT =
  'Install it with: apt-get update && apt-get install -y redis-server redis-sentinel ' +
  '(or set REDIS_SERVER_BIN / REDIS_CLI_BIN / REDIS_SENTINEL_BIN, e.g. to valkey-server / valkey-cli / valkey-sentinel).';

function which(name: string): string | undefined {
  const isExec = (p: string): boolean => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return isExec(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    if (isExec(p)) return p;
  }
  return undefined;
}

let cachedBinaries: RedisBinaries | undefined;

/** Resolves the binaries or throws at once with the install command. */
/** The server these tests run on, and its version, as `<server> --version` prints them. */
export function serverUnderTest(): { product: 'redis' | 'valkey'; version: string } {
  const bin = process.env.REDIS_SERVER_BIN || 'redis-server';
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  return { product: /^valkey/i.test(out) ? 'valkey' : 'redis', version: /v=(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? 'unknown' };
}

export function requireRedisServer(): RedisBinaries {
  if (cachedBinaries) return cachedBinaries;
  const serverName = process.env.REDIS_SERVER_BIN || 'redis-server';
  const cliName = process.env.REDIS_CLI_BIN || 'redis-cli';
  const server = which(serverName);
  if (!server) throw new Error(`redis test harness: '${serverName}' not found on PATH. ${INSTALL_HINT}`);
  const cli = which(cliName);
  if (!cli) throw new Error(`redis test harness: '${cliName}' not found on PATH. ${INSTALL_HINT}`);
  let sentinel: RedisBinaries['sentinel'];
  const sentinelEnv = process.env.REDIS_SENTINEL_BIN;
  if (sentinelEnv) {
    const bin = which(sentinelEnv);
    if (!bin) throw new Error(`redis test harness: REDIS_SENTINEL_BIN '${sentinelEnv}' not found. ${INSTALL_HINT}`);
    sentinel = { bin, extraArgs: path.basename(bin).includes('sentinel') ? [] : ['--sentinel'] };
  } else {
    // redis-sentinel only goes with redis-server; another server (Valkey) runs its own sentinels
    const bin = path.basename(server) === 'redis-server' ? which('redis-sentinel') : undefined;
    sentinel = bin ? { bin, extraArgs: [] } : { bin: server, extraArgs: ['--sentinel'] };
  }
  cachedBinaries = { server, cli, sentinel };
  return cachedBinaries;
}

let cachedMajor: number | undefined;
async function detectVersion(bin: string): Promise<number> {
  if (cachedMajor !== undefined) return cachedMajor;
  const out = await run(bin, ['--version'], 10_000).catch(() => ({ stdout: '', stderr: '' }));
  const m = /v=(\d+)\./.exec(out.stdout);
  cachedMajor = m?.[1] ? Number(m[1]) : 7;
  return cachedMajor;
}

function run(bin: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${path.basename(bin)} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      } else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

// ---------------------------------------------------------------------------
// /proc liveness

interface ProcStat {
  state: string;
  startTime: string;
}

function readProcStat(pid: number): ProcStat | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = raw.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after "pid (comm) ": index 0 = field 3 (state), field 22 (starttime) = index 19.
  const fields = raw.slice(close + 2).split(' ');
  return { state: fields[0] ?? '?', startTime: fields[19] ?? '' };
}

/** True if the PID exists and is neither a zombie nor dead. */
export function pidAlive(pid: number, startTime?: string): boolean {
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X' || st.state === 'x') return false;
  return startTime === undefined || startTime === '' || st.startTime === startTime;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitDead(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await sleep(20);
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

// ---------------------------------------------------------------------------
// crash-safe PID registry + process-wide state

const TMP_PREFIX = 'redis-suite-harness-';
const REGISTRY_DIR = path.join(os.tmpdir(), `${TMP_PREFIX}pids`);

interface RegistryEntry {
  pid: number;
  pidStart: string;
  ownerPid: number;
  ownerStart: string;
  port: number;
  dir: string;
  bin: string;
}

interface HarnessState {
  live: Set<ServerImpl>;
  reservedPorts: Set<number>;
  hooksInstalled: boolean;
}

const STATE_KEY = Symbol.for('strapi-plugin-redis-suite.test-harness');
const state: HarnessState =
  ((globalThis as Record<symbol, unknown>)[STATE_KEY] as HarnessState | undefined) ??
  (((globalThis as Record<symbol, unknown>)[STATE_KEY] = {
    live: new Set<ServerImpl>(),
    reservedPorts: new Set<number>(),
    hooksInstalled: false,
  } satisfies HarnessState) as HarnessState);

function ownerStart(): string {
  return readProcStat(process.pid)?.startTime ?? '';
}

function registryWrite(entry: RegistryEntry): void {
  fs.mkdirSync(REGISTRY_DIR, { recursive: true });
  fs.writeFileSync(path.join(REGISTRY_DIR, `${entry.pid}.json`), JSON.stringify(entry));
}

function registryRemove(pid: number): void {
  fs.rmSync(path.join(REGISTRY_DIR, `${pid}.json`), { force: true });
}

function safeRmDir(dir: string): void {
  // Only ever delete our own temp dirs.
  if (path.dirname(dir) === os.tmpdir() && path.basename(dir).startsWith(TMP_PREFIX) && dir !== REGISTRY_DIR) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Kills servers recorded by test-runner processes that no longer exist (crashed
 * or SIGKILLed runs) and removes their temp dirs. Returns how many were killed.
 */
export async function reapOrphans(): Promise<number> {
  let files: string[];
  try {
    files = fs.readdirSync(REGISTRY_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return 0;
  }
  let killed = 0;
  const waits: Promise<boolean>[] = [];
  for (const f of files) {
    const file = path.join(REGISTRY_DIR, f);
    let entry: RegistryEntry;
    try {
      entry = JSON.parse(fs.readFileSync(file, 'utf8')) as RegistryEntry;
    } catch {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (pidAlive(entry.ownerPid, entry.ownerStart)) continue;
    if (pidAlive(entry.pid, entry.pidStart)) {
      signal(entry.pid, 'SIGKILL');
      killed++;
      waits.push(waitDead(entry.pid, 5000));
    }
    safeRmDir(entry.dir);
    fs.rmSync(file, { force: true });
  }
  await Promise.all(waits);
  return killed;
}

function killAllSync(): void {
  for (const server of state.live) server.killSync();
}

function installHooks(): void {
  if (state.hooksInstalled) return;
  state.hooksInstalled = true;
  process.on('exit', killAllSync);
  // vitest stops fork workers with SIGTERM; without a handler 'exit' never fires.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync();
      process.off(sig, onSignal);
      // Keep the default behaviour (die) unless someone else handles the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// ---------------------------------------------------------------------------
// ports

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen({ port, host: HOST, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(got));
    });
  });
}

/**
 * A free loopback port (bind port 0). With `clusterBus`, port+10000 is free too
 * and port < 55535. Ports handed out by this process are never handed out twice.
 */
export async function freePort(opts: { clusterBus?: boolean } = {}): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const port = await listenOnce(0);
    if (port === undefined || state.reservedPorts.has(port)) continue;
    if (opts.clusterBus) {
      if (port >= 55535 || state.reservedPorts.has(port + 10000)) continue;
      if ((await listenOnce(port + 10000)) === undefined) continue;
      state.reservedPorts.add(port + 10000);
    }
    state.reservedPorts.add(port);
    return port;
  }
  throw new Error('redis test harness: could not find a free loopback port');
}

// ---------------------------------------------------------------------------
// minimal RESP2 client (health checks and admin commands; no retries)

export class RespError extends Error {}
export type RespValue = string | number | null | RespError | RespValue[];

function parseResp(buf: Buffer, pos: number): [RespValue, number] | undefined {
  if (pos >= buf.length) return undefined;
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return [line, next];
    case '-':
      return [new RespError(line), next];
    case ':':
      return [Number(line), next];
    case '$': {
      const len = Number(line);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) return undefined;
      return [buf.toString('utf8', next, next + len), next + len + 2];
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return [null, next];
      const out: RespValue[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, p);
        if (!r) return undefined;
        out.push(r[0]);
        p = r[1];
      }
      return [out, p];
    }
    default:
      throw new Error(`bad RESP type byte '${type}'`);
  }
}

function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Opens a connection, sends the commands pipelined, returns one reply per
 * command (server errors come back as RespError values, not thrown), closes.
 * Throws on connection errors and timeouts.
 */
export function respPipeline(target: HostPort, commands: readonly (readonly string[])[], timeoutMs = 5000): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: target.host, port: target.port });
    let buf: Buffer = Buffer.alloc(0);
    const replies: RespValue[] = [];
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(() => finish(new Error(`RESP ${target.host}:${target.port} timed out after ${timeoutMs} ms`)), timeoutMs);
    sock.once('error', (e) => finish(e));
    sock.once('close', () => finish(new Error(`RESP ${target.host}:${target.port} closed before replying`)));
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      try {
        let pos = 0;
        for (;;) {
          const r = parseResp(buf, pos);
          if (!r) break;
          replies.push(r[0]);
          pos = r[1];
          if (replies.length === commands.length) return finish();
        }
        buf = buf.subarray(pos);
      } catch (e) {
        finish(e as Error);
      }
    });
    sock.write(Buffer.concat(commands.map(encodeCommand)));
  });
}

/** One command; throws on a server error reply. Pass `password` to AUTH first. */
export async function redisCommand(target: HostPort & { password?: string | undefined }, args: readonly string[], timeoutMs = 5000): Promise<RespValue> {
  const cmds: string[][] = target.password ? [['AUTH', target.password], [...args]] : [[...args]];
  const replies = await respPipeline(target, cmds, timeoutMs);
  const last = replies[replies.length - 1];
  for (const r of replies) if (r instanceof RespError) throw r;
  return last ?? null;
}

/** Parses `INFO`/`CLUSTER INFO` text into a map. */
export function parseInfo(text: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof text !== 'string') return out;
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------
// server processes

interface ServerSpec {
  role: 'server' | 'sentinel';
  /** Extra config file lines (after the base ones). */
  confLines: string[];
  args: string[];
  password: string | undefined;
  clusterBus: boolean;
  label: string;
}

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

function tail(file: string, lines = 30): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

function confValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

class ServerImpl implements ServerHandle {
  readonly host = HOST;
  readonly logFile: string;
  readonly confFile: string;
  private currentPid = 0;
  private currentPidStart = '';
  private stopped = false;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly spec: ServerSpec,
    private readonly bin: string,
    private readonly argv: string[],
  ) {
    this.logFile = path.join(dir, 'server.log');
    this.confFile = argv[0] ?? '';
  }

  get role(): 'server' | 'sentinel' {
    return this.spec.role;
  }
  get pid(): number {
    return this.currentPid;
  }
  get password(): string | undefined {
    return this.spec.password;
  }
  get url(): string {
    const auth = this.spec.password ? `:${encodeURIComponent(this.spec.password)}@` : '';
    return `redis://${auth}${HOST}:${this.port}`;
  }

  isAlive(): boolean {
    return this.currentPid > 0 && pidAlive(this.currentPid, this.currentPidStart);
  }

  logTail(lines = 30): string {
    return tail(this.logFile, lines);
  }

  /** Spawns the process and waits until INFO reports our PID. */
  async spawnAndWait(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    if (this.stopped) throw new Error(`${this.spec.label} :${this.port} was stopped`);
    fs.appendFileSync(this.logFile, `\n--- harness spawn ${new Date().toISOString()} ---\n`);
    const fd = fs.openSync(this.logFile, 'a');
    let spawnError: Error | undefined;
    try {
      const child = spawn(this.bin, this.argv, { cwd: this.dir, stdio: ['ignore', fd, fd] });
      child.once('error', (e) => (spawnError = e));
      child.unref();
      if (child.pid === undefined) {
        await sleep(0);
        throw new Error(`could not spawn ${this.bin}: ${spawnError?.message ?? 'unknown error'}`);
      }
      this.currentPid = child.pid;
    } finally {
      fs.closeSync(fd);
    }
    this.currentPidStart = readProcStat(this.currentPid)?.startTime ?? '';
    state.live.add(this);
    installHooks();
    registryWrite({
      pid: this.currentPid,
      pidStart: this.currentPidStart,
      ownerPid: process.pid,
      ownerStart: ownerStart(),
      port: this.port,
      dir: this.dir,
      bin: this.bin,
    });

    const deadline = Date.now() + timeoutMs;
    let lastErr = '';
    while (Date.now() < deadline) {
      if (spawnError) throw this.failure(`spawn failed: ${spawnError.message}`);
      if (!this.isAlive()) throw this.failure('exited during startup');
      try {
        const cmds: string[][] = this.spec.password ? [['AUTH', this.spec.password]] : [];
        cmds.push(['INFO', 'server']);
        const replies = await respPipeline({ host: HOST, port: this.port }, cmds, 1000);
        const info = replies[replies.length - 1];
        if (info instanceof RespError) lastErr = info.message;
        else if (parseInfo(info ?? null).process_id === String(this.currentPid)) return;
        else lastErr = 'port answered by another process';
      } catch (e) {
        lastErr = (e as Error).message;
      }
      await sleep(25);
    }
    throw this.failure(`did not answer within ${timeoutMs} ms (last error: ${lastErr})`);
  }

  private failure(what: string): Error {
    return new Error(
      `redis test harness: ${this.spec.label} 127.0.0.1:${this.port} (pid ${this.currentPid}) ${what}\n` +
        `cmd: ${this.bin} ${this.argv.join(' ')}\n--- log tail (${this.logFile}) ---\n${this.logTail()}`,
    );
  }

  bindFailed(): boolean {
    return /Address already in use|bind: /i.test(this.logTail(10));
  }

  killSync(): void {
    if (this.isAlive()) signal(this.currentPid, 'SIGKILL');
    registryRemove(this.currentPid);
    safeRmDir(this.dir);
  }

  async kill(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (sig === 'SIGSTOP' || sig === 'SIGCONT' || sig === 'SIGTSTP') {
      throw new Error('use pause()/resume() for SIGSTOP/SIGCONT');
    }
    const pid = this.currentPid;
    if (pid > 0 && this.isAlive()) {
      signal(pid, sig);
      // A paused (SIGSTOPped) process only acts on the signal once continued.
      if (sig !== 'SIGKILL') signal(pid, 'SIGCONT');
      if (!(await waitDead(pid, sig === 'SIGKILL' ? 10_000 : STOP_TIMEOUT_MS))) {
        signal(pid, 'SIGCONT');
        signal(pid, 'SIGKILL');
        if (!(await waitDead(pid, 10_000))) throw this.failure(`did not die after ${sig} and SIGKILL`);
      }
    }
    registryRemove(pid);
  }

  pause(): void {
    if (this.isAlive()) signal(this.currentPid, 'SIGSTOP');
  }

  resume(): void {
    if (this.isAlive()) signal(this.currentPid, 'SIGCONT');
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`${this.spec.label} :${this.port} was stopped; cannot restart`);
    if (this.isAlive()) await this.kill('SIGTERM');
    // The port (or cluster bus port) may briefly be held by someone else: retry within a bound.
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await this.spawnAndWait(Math.max(1000, deadline - Date.now()));
        return;
      } catch (e) {
        if (!this.bindFailed() || Date.now() > deadline) throw e;
        await sleep(200);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.kill('SIGTERM');
    } finally {
      state.live.delete(this);
      safeRmDir(this.dir);
    }
  }
}

async function startServer(spec: ServerSpec): Promise<ServerImpl> {
  const bins = requireRedisServer();
  const major = await detectVersion(bins.server);
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort({ clusterBus: spec.clusterBus });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${TMP_PREFIX}${spec.label}-${port}-`));
    const conf = path.join(dir, spec.role === 'sentinel' ? 'sentinel.conf' : 'redis.conf');
    const lines = [`port ${port}`, `bind ${HOST}`, `dir ${confValue(dir)}`, 'daemonize no', 'protected-mode no', 'logfile ""'];
    if (spec.role === 'server') {
      lines.push('save ""', 'appendonly no', 'repl-diskless-sync-delay 0');
      // Redis >= 7 waits up to 10 s for lagging replicas on SIGTERM; tests want it fast.
      if (major >= 7) lines.push('shutdown-on-sigterm nosave now');
      if (spec.password) {
        lines.push(`requirepass ${confValue(spec.password)}`, `masterauth ${confValue(spec.password)}`);
      }
    }
    lines.push(...spec.confLines.map((l) => l.replaceAll('{port}', String(port))));
    fs.writeFileSync(conf, `${lines.join('\n')}\n`);
    const bin = spec.role === 'sentinel' ? bins.sentinel.bin : bins.server;
    const argv = [conf, ...(spec.role === 'sentinel' ? bins.sentinel.extraArgs : []), ...spec.args];
    const srv = new ServerImpl(port, dir, spec, bin, argv);
    try {
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

async function stopAll(servers: readonly ServerHandle[]): Promise<void> {
  const results = await Promise.allSettled(servers.map((handle) => handle.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Starts the tasks in parallel; if any fails, stops the ones that started and rethrows. */
async function startMany<T extends ServerHandle>(tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results = await Promise.allSettled(tasks.map((t) => t()));
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopAll(ok).catch(() => undefined);
    throw failed.reason;
  }
  return ok;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<string | true>, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await check();
      if (r === true) return;
      last = r;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`redis test harness: timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})\n${logs()}`);
}

function logsOf(servers: readonly ServerHandle[]): string {
  return servers.map((handle) => `--- ${handle.role} :${handle.port} log tail ---\n${handle.logTail(15)}`).join('\n');
}

// ---------------------------------------------------------------------------
// topologies

/** One standalone redis-server on a free loopback port. */
export async function startStandalone(opts: StandaloneOptions = {}): Promise<ServerHandle> {
  return startServer({
    role: 'server',
    confLines: [],
    args: opts.args ?? [],
    password: opts.password,
    clusterBus: false,
    label: 'standalone',
  });
}

/** 3 masters + 3 replicas, created with `redis-cli --cluster create`. */
export async function startCluster(opts: { args?: string[] } = {}): Promise<ClusterHandle> {
  const bins = requireRedisServer();
  const spec: ServerSpec = {
    role: 'server',
    confLines: ['cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 2000'],
    args: opts.args ?? [],
    password: undefined,
    clusterBus: true,
    label: 'cluster',
  };
  const all = await startMany(Array.from({ length: 6 }, () => () => startServer(spec)));
  try {
    await run(bins.cli, ['--cluster', 'create', ...all.map((server) => `${HOST}:${server.port}`), '--cluster-replicas', '1', '--cluster-yes'], 60_000);
    const byPort = new Map(all.map((server) => [server.port, server]));
    const roles = new Map<number, Record<string, string>>();
    await waitFor(
      'cluster_state:ok, replicas linked, and every node agreeing on 3 masters + 3 replicas',
      30_000,
      async () => {
        for (const server of all) {
          const [ci, repl] = await respPipeline(
            server,
            [
              ['CLUSTER', 'INFO'],
              ['INFO', 'replication'],
            ],
            2000,
          );
          const c = parseInfo(ci ?? null);
          if (c.cluster_state !== 'ok') return `:${server.port} cluster_state:${c.cluster_state}`;
          if (c.cluster_known_nodes !== '6') return `:${server.port} cluster_known_nodes:${c.cluster_known_nodes}`;
          const r = parseInfo(repl ?? null);
          if (r.role === 'slave' && r.master_link_status !== 'up') return `:${server.port} master_link_status:${r.master_link_status}`;
          roles.set(server.port, r);
        }
        const masters = all.filter((server) => roles.get(server.port)?.role === 'master');
        if (masters.length !== 3) return `${masters.length} masters`;
        // Roles spread by gossip: wait until every node's CLUSTER NODES agrees (3 masters, 3 slaves).
        for (const server of all) {
          const view = String(await redisCommand(server, ['CLUSTER', 'NODES'], 2000));
          const flags = view
            .split('\n')
            .filter(Boolean)
            .map((l) => l.split(' ')[2] ?? '');
          const m = flags.filter((f) => f.split(',').includes('master')).length;
          const r = flags.filter((f) => f.split(',').includes('slave')).length;
          if (m !== 3 || r !== 3) return `:${server.port} sees ${m} masters / ${r} replicas`;
        }
        return true;
      },
      () => logsOf(all),
    );
    // Order: masters by their first slot, then replicas.
    const slots = await redisCommand(all[0] as ServerImpl, ['CLUSTER', 'SLOTS']);
    const firstSlot = new Map<number, number>();
    if (Array.isArray(slots)) {
      for (const range of slots) {
        if (!Array.isArray(range)) continue;
        const [start, , master] = range;
        const port = Array.isArray(master) ? Number(master[1]) : NaN;
        if (typeof start === 'number') firstSlot.set(port, Math.min(start, firstSlot.get(port) ?? Infinity));
      }
    }
    const masters = all
      .filter((server) => roles.get(server.port)?.role === 'master')
      .sort((a, b) => (firstSlot.get(a.port) ?? 0) - (firstSlot.get(b.port) ?? 0));
    const replicas = all.filter((server) => roles.get(server.port)?.role !== 'master');
    const servers: ServerHandle[] = [...masters, ...replicas];

    const ask = async (args: string[]): Promise<RespValue> => {
      let last: unknown;
      for (const handle of servers) {
        if (!handle.isAlive()) continue;
        try {
          return await redisCommand(handle, args, 2000);
        } catch (e) {
          last = e;
        }
      }
      throw new Error(`no cluster node answered ${args.join(' ')}: ${String(last)}`);
    };

    return {
      nodes: servers.map((handle) => ({ host: handle.host, port: handle.port })),
      servers,
      async masterFor(key: string): Promise<ServerHandle> {
        const slot = Number(await ask(['CLUSTER', 'KEYSLOT', key]));
        const ranges = await ask(['CLUSTER', 'SLOTS']);
        if (Array.isArray(ranges)) {
          for (const range of ranges) {
            if (!Array.isArray(range)) continue;
            const [start, end, master] = range;
            if (typeof start === 'number' && typeof end === 'number' && slot >= start && slot <= end && Array.isArray(master)) {
              const h = byPort.get(Number(master[1]));
              if (h) return h;
            }
          }
        }
        throw new Error(`no master found for slot ${slot}`);
      },
      async replicas(): Promise<ServerHandle[]> {
        const out: ServerHandle[] = [];
        for (const handle of servers) {
          if (!handle.isAlive()) continue;
          const r = parseInfo(await redisCommand(handle, ['INFO', 'replication'], 2000).catch(() => null));
          if (r.role === 'slave') out.push(handle);
        }
        return out;
      },
      stop: () => stopAll(all),
    };
  } catch (e) {
    await stopAll(all).catch(() => undefined);
    throw e;
  }
}

export interface SentinelOptions {
  /** `down-after-milliseconds`: how long the master may be silent before failover. @default 1000 */
  downAfterMs?: number;
}

/** 1 master, 1 replica, 3 sentinels (quorum 2) monitoring `mymaster`. */
export async function startSentinel(opts: SentinelOptions = {}): Promise<SentinelHandle> {
  const downAfterMs = opts.downAfterMs ?? 1000;
  const name = 'mymaster' as const;
  const master = await startStandalone();
  let replica: ServerImpl | undefined;
  let sentinelServers: ServerImpl[] = [];
  const everything = (): ServerHandle[] => [master, ...(replica ? [replica] : []), ...sentinelServers];
  try {
    replica = await startServer({
      role: 'server',
      confLines: [`replicaof ${HOST} ${master.port}`],
      args: [],
      password: undefined,
      clusterBus: false,
      label: 'replica',
    });
    const rep = replica;
    // Sentinels discover replicas from the master's INFO; link first so they see it at once.
    await waitFor(
      'replica master_link_status:up',
      20_000,
      async () => {
        const r = parseInfo(await redisCommand(rep, ['INFO', 'replication'], 2000));
        return r.master_link_status === 'up' ? true : `master_link_status:${r.master_link_status}`;
      },
      () => logsOf(everything()),
    );
    // Fresh config every start: sentinel rewrites its own config file.
    const sentinelSpec: ServerSpec = {
      role: 'sentinel',
      confLines: [
        `sentinel monitor ${name} ${HOST} ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
      ],
      args: [],
      password: undefined,
      clusterBus: false,
      label: 'sentinel',
    };
    sentinelServers = await startMany([0, 1, 2].map(() => () => startServer(sentinelSpec)));
    await waitFor(
      'every sentinel to see the master, 1 replica and 2 other sentinels',
      30_000,
      async () => {
        for (const server of sentinelServers) {
          const reply = await redisCommand(server, ['SENTINEL', 'MASTER', name], 2000);
          const m: Record<string, string> = {};
          if (Array.isArray(reply)) {
            for (let i = 0; i + 1 < reply.length; i += 2) m[String(reply[i])] = String(reply[i + 1]);
          }
          if (m.flags !== 'master') return `sentinel :${server.port} flags=${m.flags}`;
          if (m.port !== String(master.port)) return `sentinel :${server.port} master port=${m.port}`;
          if (m['num-slaves'] !== '1') return `sentinel :${server.port} num-slaves=${m['num-slaves']}`;
          if (m['num-other-sentinels'] !== '2') return `sentinel :${server.port} num-other-sentinels=${m['num-other-sentinels']}`;
        }
        return true;
      },
      () => logsOf(everything()),
    );
  } catch (e) {
    await stopAll(everything()).catch(() => undefined);
    throw e;
  }
  const sentinels = sentinelServers.map((server) => ({ host: server.host, port: server.port }));
  const all = everything();
  return {
    sentinels,
    name,
    master,
    replica,
    sentinelServers,
    async currentMaster(): Promise<HostPort> {
      let last: unknown;
      for (const server of sentinelServers) {
        if (!server.isAlive()) continue;
        try {
          const r = await redisCommand(server, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name], 2000);
          if (Array.isArray(r) && r.length === 2) return { host: String(r[0]), port: Number(r[1]) };
          last = new Error(`unexpected reply ${JSON.stringify(r)}`);
        } catch (e) {
          last = e;
        }
      }
      throw new Error(`no sentinel answered for ${name}: ${String(last)}`);
    },
    stop: () => stopAll(all),
  };
}

// ---------------------------------------------------------------------------
// misc

/** `t:<label>:<random>:` — a unique key prefix for isolating a test's keys. */
export function randomPrefix(label = 'test'): string {
  return `t:${label}:${randomBytes(6).toString('hex')}:`;
}
