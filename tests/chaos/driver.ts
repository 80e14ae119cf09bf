/**
 * `npm run chaos`: three playground Strapi instances on one PostgreSQL and one Redis (standalone,
 * Sentinel or Cluster), every feature on, a load generator in a process of its own, faults on a
 * seeded schedule, invariants checked from the records at the end. See RELIABILITY.md.
 *
 *   npm run chaos                                  standalone, 5 minutes of load, a random seed
 *   npm run chaos -- --seed 42 --topology cluster  replay a schedule on a Cluster
 *   npm run chaos -- --short                       CI: standalone, 75 s, seed 1
 *   npm run chaos -- --seconds 60 | --minutes 30   load duration
 *   npm run chaos -- --check <folder>              check a kept run's records again (its inputs.json)
 *
 * Exit code 0: every invariant held; 1: one broke (the table says which); 2: bad arguments.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { ensurePlaygroundInstalled, startApp, type AppHandle, type StartAppOptions } from '../e2e/app.js';
import { startPostgres, type PostgresHandle } from '../harness/postgres.js';
import {
  ADMIN_RATELIMIT,
  CHAOS_CONTROLLER,
  CHAOS_ROUTES,
  CHAOS_TABLES_SQL,
  CRON_TASKS,
  GRAPHQL_CONFIG,
  HANDLER_TIMER,
  MIDDLEWARES,
  PLUGIN_CONFIG,
} from './app-files.js';
import {
  isRedisFault,
  planFaults,
  rng,
  type FaultWindow,
  type LoadConfig,
  type LoadRecord,
  type PlannedFault,
  type RedisFaultKind,
  type Topology,
} from './common.js';
import { evaluate, printTable, type Inputs, type InstanceLife, type LongRun, type TickRow } from './invariants.js';
import { startChaosRedis, type ChaosRedis } from './redis.js';

const say = (line: string): void => void process.stdout.write(`[chaos] ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FAKETIME_LIB = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/faketime/libfaketimeMT.so.1',
  '/usr/local/lib/faketime/libfaketimeMT.so.1',
].find((p) => fs.existsSync(p));
const NAMES = ['A', 'B', 'C'];
const ARTICLES = 4;

interface Options {
  seed: number;
  topology: Topology;
  durationMs: number;
  short: boolean;
  keep: boolean;
  /** A kept run's folder: check its records again, run nothing. */
  check?: string;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Options {
  const options: Options = { seed: randomInt(1, 2 ** 31 - 1), topology: 'standalone', durationMs: 300_000, short: false, keep: false };
  let seedGiven = false;
  let durationGiven = false;
  const value = (i: number, name: string): string => {
    const v = argv[i];
    if (v === undefined) throw new UsageError(`${name}: missing value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--short') options.short = true;
    else if (a === '--keep') options.keep = true;
    else if (a === '--seed') {
      options.seed = Number(value(++i, a));
      seedGiven = true;
      if (!Number.isInteger(options.seed) || options.seed < 0) throw new UsageError(`--seed: got ${argv[i]}; expected an integer >= 0`);
    } else if (a === '--topology') {
      const t = value(++i, a);
      if (t !== 'standalone' && t !== 'sentinel' && t !== 'cluster') throw new UsageError(`--topology: got ${t}; expected standalone, sentinel or cluster`);
      options.topology = t;
    } else if (a === '--seconds' || a === '--minutes') {
      const n = Number(value(++i, a));
      if (!(n > 0)) throw new UsageError(`${a}: got ${argv[i]}; expected a number > 0`);
      options.durationMs = Math.round(n * (a === '--seconds' ? 1000 : 60_000));
      durationGiven = true;
    } else if (a === '--check') {
      options.check = value(++i, a);
    } else if (a === '--help' || a === '-h') {
      console.log(
        'usage: npm run chaos -- [--short] [--seed <n>] [--topology standalone|sentinel|cluster] [--seconds <n> | --minutes <n>] [--keep] | --check <kept run folder>',
      );
      process.exit(0);
    } else throw new UsageError(`unknown option ${a}`);
  }
  if (options.short) {
    if (!seedGiven) options.seed = 1;
    if (!durationGiven) options.durationMs = 75_000;
  }
  return options;
}

/** A Strapi instance across its restarts (a SIGKILLed one is booted again on the same port). */
class Instance {
  handle: AppHandle | undefined;
  readonly lives: InstanceLife[] = [];
  private ourKill = false;
  readonly log: fs.WriteStream;
  constructor(
    readonly name: string,
    readonly port: number,
    readonly opts: StartAppOptions,
    readonly logFile: string,
  ) {
    this.log = fs.createWriteStream(logFile, { flags: 'a' });
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async boot(): Promise<void> {
    const started = Date.now();
    this.log.write(`\n--- chaos: boot ${new Date(started).toISOString()} ---\n`);
    const handle = await startApp({ ...this.opts, port: this.port, onOutput: (chunk) => this.log.write(chunk) });
    this.handle = handle;
    this.ourKill = false;
    const life: InstanceLife = { name: this.name, pid: handle.pid, bootMs: Date.now() - started, start: Date.now() };
    this.lives.push(life);
    void handle.exited.then((exit) => {
      life.end = Date.now();
      life.exit = exit.signal ?? `code ${exit.code}`;
      life.ours = this.ourKill || stopping;
    });
  }
  async kill(): Promise<void> {
    const h = this.handle;
    if (!h) return;
    this.ourKill = true;
    process.kill(h.pid, 'SIGKILL');
    await h.exited;
    await h.stop();
  }
}

let stopping = false;

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (options.check !== undefined) {
    // check a kept run's records again (after a change to the checks), without running anything
    const file = path.join(options.check, 'inputs.json');
    if (!fs.existsSync(file)) throw new UsageError(`--check: ${file} does not exist (runs kept with --keep, or that broke, have it)`);
    const result = evaluate(JSON.parse(fs.readFileSync(file, 'utf8')) as Inputs);
    printTable(result, (line) => process.stdout.write(`${line}\n`));
    return result.broken === 0 ? 0 : 1;
  }
  const replay = `npm run chaos -- --seed ${options.seed} --topology ${options.topology} --seconds ${Math.round(options.durationMs / 1000)}`;
  say(`seed ${options.seed}, topology ${options.topology}, load ${Math.round(options.durationMs / 1000)} s; replay: ${replay}`);
  const r = rng(options.seed);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-chaos-'));
  const canary = {
    admin: `Canary-${randomBytes(8).toString('hex')}-Pw1`,
    redis: `canary${randomBytes(8).toString('hex')}`,
    login: `Canary-${randomBytes(8).toString('hex')}-Wrong1`,
  };
  const file = (name: string, text: string): string => {
    const p = path.join(runDir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  let pg: PostgresHandle | undefined;
  let redis: ChaosRedis | undefined;
  const instances: Instance[] = [];
  let loadChild: ReturnType<typeof spawn> | undefined;
  const cleanup = async (): Promise<void> => {
    stopping = true;
    loadChild?.kill('SIGKILL');
    await Promise.all(instances.map((i) => i.handle?.stop('SIGTERM', 15_000).catch(() => undefined)));
    await redis?.stop().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    say('SIGINT: stopping everything');
    void cleanup().then(() => process.exit(130));
  });

  try {
    const t0 = Date.now();
    await ensurePlaygroundInstalled({ quiet: true });
    [pg, redis] = await Promise.all([startPostgres(), startChaosRedis(options.topology, canary.redis)]);
    const db = await pg.createDatabase('chaos');
    await pg.query(CHAOS_TABLES_SQL, db);
    say(
      `PostgreSQL ${pg.version} on :${pg.port}; Redis ${options.topology} on ${redis
        .servers()
        .map((handle) => `:${handle.port}`)
        .join(' ')} (AOF, appendfsync always)`,
    );

    const offsets = NAMES.map(() => Math.round((r() * 2 - 1) * 300));
    const { freePort } = await import('../e2e/app.js');
    for (const [k, name] of NAMES.entries()) {
      const env: Record<string, string> = {
        CHAOS_INSTANCE: name,
        CHAOS_REDIS_CONNECTION: JSON.stringify(redis.connection),
        GRAPHQL_PLUGIN_CONFIG: file('graphql.js', GRAPHQL_CONFIG),
        ADMIN_RATELIMIT_CONFIG: file('admin-ratelimit.js', ADMIN_RATELIMIT),
        INSTANCE_ID: name,
      };
      if (FAKETIME_LIB) {
        const ms = offsets[k] as number;
        Object.assign(env, {
          LD_PRELOAD: FAKETIME_LIB,
          FAKETIME: `${ms >= 0 ? '+' : '-'}${(Math.abs(ms) / 1000).toFixed(3)}`,
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
          FAKETIME_DISABLE_SHM: '1',
        });
      }
      instances.push(
        new Instance(
          name,
          await freePort(),
          {
            pluginConfig: PLUGIN_CONFIG,
            middlewares: MIDDLEWARES,
            cronTasks: CRON_TASKS,
            databaseUrl: pg.url(db),
            readyTimeoutMs: 240_000,
            files: {
              'src/api/chaos/routes/chaos.js': CHAOS_ROUTES,
              'src/api/chaos/controllers/chaos.js': CHAOS_CONTROLLER,
              'src/middlewares/handler-timer.js': HANDLER_TIMER,
            },
            env,
          },
          path.join(runDir, `${name}.log`),
        ),
      );
    }
    say(
      FAKETIME_LIB
        ? `clock offsets (libfaketime): ${NAMES.map((n, k) => `${n} ${offsets[k]} ms`).join(', ')}`
        : 'libfaketime not found: no clock offsets in this run (apt-get install faketime)',
    );
    // The first boot creates the schema; the others then boot together (the boot lock orders them anyway).
    await instances[0]!.boot();
    await Promise.all(instances.slice(1).map((i) => i.boot()));
    say(
      `3 Strapi instances up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${instances.map((i) => `${i.name} ${i.url} (boot ${((i.lives[0]?.bootMs ?? 0) / 1000).toFixed(1)} s)`).join(', ')}`,
    );

    // An admin (the canary password), a full-access API token, the articles.
    const A = instances[0]!.url;
    const api = async (method: string, route: string, body?: unknown, token?: string): Promise<any> => {
      const res = await fetch(`${A}${route}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text.slice(0, 300)}`);
      return JSON.parse(text);
    };
    const admin = await api('POST', '/admin/register-admin', { firstname: 'Chaos', lastname: 'Admin', email: 'chaos@chaos.test', password: canary.admin });
    const tokenRes = await api('POST', '/admin/api-tokens', { name: 'chaos', description: 'chaos run', type: 'full-access', lifespan: null }, admin.data.token);
    const token = tokenRes.data.accessKey as string;
    const articles: string[] = [];
    for (let k = 0; k < ARTICLES; k++) {
      const created = await api('POST', '/api/articles', { data: { title: `pending:v0` } }, token);
      const id = created.data.documentId as string;
      await api('PUT', `/api/articles/${id}`, { data: { title: `${id}:v0` } }, token);
      articles.push(id);
    }
    const secrets = [canary.admin, canary.redis, canary.login, token];

    // The schedule.
    const plan = planFaults(options.seed, options.topology, options.durationMs, NAMES, { warmupMs: 8000, tailMs: 6000 });
    say(`fault schedule (${plan.length}): ${plan.map((f) => `${(f.at / 1000).toFixed(1)}s ${f.kind}${f.target ? `(${f.target})` : ''}`).join(', ')}`);

    // The load generator, in a process of its own.
    const loadFile = path.join(runDir, 'load.jsonl');
    const loadCfg: LoadConfig = {
      urls: Object.fromEntries(instances.map((i) => [i.name, i.url])),
      token,
      loginPassword: canary.login,
      articles,
      durationMs: options.durationMs,
      seed: options.seed,
      outFile: loadFile,
    };
    const loadCfgFile = file('load-config.json', JSON.stringify(loadCfg));
    fs.chmodSync(loadCfgFile, 0o600);
    const here = process.env.CHAOS_BUNDLE_DIR ?? process.cwd();
    const loadStart = Date.now();
    loadChild = spawn(process.execPath, [path.join(here, 'load.mjs'), loadCfgFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    const loadDone = new Promise<number | null>((res) => loadChild!.once('exit', (code) => res(code)));
    readline.createInterface({ input: loadChild.stdout! }).on('line', (line) => {
      try {
        const m = JSON.parse(line) as { progress?: boolean; total?: number; inFlight?: number };
        if (m.progress) say(`load: ${m.total} requests, ${m.inFlight} in flight, t=${((Date.now() - loadStart) / 1000).toFixed(0)} s`);
      } catch {
        say(`load: ${line}`);
      }
    });

    // Instance stats (cron guard counters), polled; the last answer of each life is kept.
    const stats = new Map<number, any>();
    // Event-loop stalls per instance, in the driver's clock (libfaketime's offset taken off).
    const stalls: Record<string, Array<[number, number]>> = Object.fromEntries(NAMES.map((n) => [n, []]));
    const poll = setInterval(() => {
      for (const [k, i] of instances.entries()) {
        const h = i.handle;
        if (!h?.isRunning()) continue;
        const offset = FAKETIME_LIB ? (offsets[k] as number) : 0;
        fetch(`${i.url}/api/chaos/stalls`, { signal: AbortSignal.timeout(3000) })
          .then((res) => (res.ok ? (res.json() as Promise<{ stalls?: Array<[number, number]> }>) : undefined))
          .then((body) => {
            for (const [t, ms] of body?.stalls ?? []) stalls[i.name]!.push([t - offset, ms]);
          })
          .catch(() => undefined);
        fetch(`${i.url}/api/chaos/stats`, { signal: AbortSignal.timeout(3000) })
          .then((res) => (res.ok ? res.json() : undefined))
          .then((body) => body && stats.set(h.pid, body))
          .catch(() => undefined);
      }
    }, 2000);

    // Faults: two lanes (Redis, Strapi), each in order, at their planned times.
    const windows: FaultWindow[] = [];
    const runFault = async (f: PlannedFault): Promise<void> => {
      const wait = loadStart + f.at - Date.now();
      if (wait > 0) await sleep(wait);
      const start = Date.now();
      let note: string;
      try {
        if (isRedisFault(f.kind)) note = await redis!.fault(f.kind as RedisFaultKind, f.holdMs, r);
        else {
          const inst = instances.find((i) => i.name === f.target)!;
          if (f.kind === 'strapi-stop') {
            process.kill(inst.handle!.pid, 'SIGSTOP');
            await sleep(f.holdMs);
            process.kill(inst.handle!.pid, 'SIGCONT');
            note = `SIGSTOP ${f.holdMs} ms`;
          } else {
            await inst.kill();
            await inst.boot();
            note = `SIGKILL, booted again in ${((inst.lives.at(-1)?.bootMs ?? 0) / 1000).toFixed(1)} s`;
          }
        }
      } catch (error) {
        note = `FAILED: ${(error as Error).message.split('\n')[0]}`;
      }
      const w: FaultWindow = { ...f, start, end: Date.now(), note };
      windows.push(w);
      say(`fault ${f.kind}${f.target ? ` on ${f.target}` : ''} at ${((start - loadStart) / 1000).toFixed(1)} s: ${note} (${w.end - start} ms)`);
    };
    const lane = async (faults: PlannedFault[]): Promise<void> => {
      for (const f of faults) await runFault(f);
    };
    await Promise.all([lane(plan.filter((f) => isRedisFault(f.kind))), lane(plan.filter((f) => !isRedisFault(f.kind)))]);
    const loadExit = await loadDone;
    const loadEnd = Date.now();
    // Let the last ticks be recorded, and take the last stats.
    await sleep(3000);
    clearInterval(poll);

    const ticks = (
      await pg.query<TickRow & Record<string, unknown>>(
        'select tick, instance, fencing, extract(epoch from at) * 1000 as at, extract(epoch from done) * 1000 as done from chaos_ticks order by id',
        db,
      )
    ).map((t) => ({ ...t, at: Number(t.at), done: t.done === null ? null : Number(t.done) }));
    const longRuns = (
      await pg.query<Record<string, unknown>>(
        'select tick, instance, fencing, extract(epoch from started_at) * 1000 as started, extract(epoch from ended_at) * 1000 as ended, aborted from chaos_long order by id',
        db,
      )
    ).map(
      (x) =>
        ({
          tick: String(x.tick),
          instance: String(x.instance),
          fencing: Number(x.fencing),
          started: Number(x.started),
          ended: x.ended === null ? null : Number(x.ended),
          aborted: x.aborted === true,
        }) as LongRun,
    );

    // Logs to scan (secrets, crashes): every Strapi life, every Redis server, PostgreSQL.
    const logTexts: Record<string, string> = {};
    for (const handle of redis.servers()) logTexts[`redis :${handle.port}`] = fs.existsSync(handle.logFile) ? fs.readFileSync(handle.logFile, 'utf8') : '';
    logTexts.postgres = fs.existsSync(pg.logFile) ? fs.readFileSync(pg.logFile, 'utf8') : '';

    stopping = true;
    await Promise.all(instances.map((i) => i.handle?.stop('SIGTERM', 15_000)));
    await Promise.all(instances.map((i) => new Promise<void>((res) => i.log.end(res))));
    // eslint-disable-next-line no-control-regex
    for (const i of instances) logTexts[`strapi ${i.name}`] = fs.readFileSync(i.logFile, 'utf8').replace(/\u001b\[[0-9;]*m/g, '');

    const records = fs
      .readFileSync(loadFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LoadRecord);
    const inputs: Inputs = {
      topology: options.topology,
      seed: options.seed,
      loadStart,
      loadEnd,
      records,
      windows,
      ticks,
      longRuns,
      lives: instances.flatMap((i) => i.lives),
      stats: [...stats.values()],
      stalls,
      logs: logTexts,
      secrets,
      loadExit,
    };
    // the check's inputs, so a run's records can be checked again (`--check <dir>`) without running it again
    fs.writeFileSync(path.join(runDir, 'inputs.json'), JSON.stringify(inputs));
    const result = evaluate(inputs);
    printTable(result, (line) => process.stdout.write(`${line}\n`));
    const out = path.join(runDir, 'result.json');
    fs.writeFileSync(
      out,
      `${JSON.stringify({ replay, offsets, plan, windows, ...result, ticks, longRuns, lives: instances.flatMap((i) => i.lives) }, null, 2)}\n`,
    );
    say(`records and result in ${runDir} (result.json, load.jsonl, <instance>.log)`);
    say(`${result.broken === 0 ? 'every invariant held' : `${result.broken} invariant(s) BROKEN`}; replay: ${replay}`);
    await cleanup();
    if (!options.keep && result.broken === 0) fs.rmSync(runDir, { recursive: true, force: true });
    return result.broken === 0 ? 0 : 1;
  } catch (error) {
    console.error(`[chaos] ${(error as Error).stack ?? String(error)}`);
    say(`logs kept in ${runDir}`);
    await cleanup();
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof UsageError ? `[chaos] ${error.message}` : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
