/**
 * `npm run demo`, run as a user runs it (npm, a terminal's Ctrl-C), non-interactively, one
 * describe block per way of running it (tests/demo/*.demo.ts). For each: every step prints a
 * progress line with its time; the printed tour is the one scripts/demo/tour.js renders; every tour
 * command, run with sh as printed, shows what the tour says it shows (each step's check); the
 * admin panel opens with the printed login (Chromium); Ctrl-C (SIGINT to the process group) stops
 * every process the demo started and removes its folder.
 *
 * Run: npm run test:demo (not part of `npm test`: the demo serves the admin panel, whose build
 * `npm run test:admin` makes and caches; without a cached build the demo builds it first, 1-3
 * minutes). The demo's Redis comes from REDIS_SERVER_BIN / REDIS_CLI_BIN, as the harness' does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR as ROOT } from '../e2e/app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface TourContext {
  a: string;
  b: string;
  urls: string[];
  names: string[];
  multi: boolean;
  admin: { email: string; password: string } | null;
  [key: string]: unknown;
}

interface TourStep {
  id: string;
  section: string;
  title(ctx: TourContext): string;
  command(ctx: TourContext): string;
  expect(ctx: TourContext): string;
  check(output: string, ctx: TourContext): void;
  when?(ctx: TourContext): boolean;
  before?(ctx: TourContext): Promise<void>;
  after?(ctx: TourContext): Promise<void>;
}

interface TourModule {
  STEPS: TourStep[];
  ADMIN_VIEWS: Array<{ path: string; heading: string }>;
  stepsFor(ctx: Pick<TourContext, 'multi' | 'admin'>): TourStep[];
  renderTour(ctx: TourContext): string;
}

interface DemoState {
  ctx: TourContext;
  readyMs: number;
  pids: { demo: number; children: Array<{ name: string; pid: number; pids: number[] }> };
  runDir: string;
}

// CommonJS, shared with scripts/demo.mjs.
const tour = createRequire(path.join(ROOT, 'package.json'))('./scripts/demo/tour.js') as TourModule;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- processes, read from /proc ---------------------------------------------------------------

const statOf = (pid: number): { state: string; ppid: number } | undefined => {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
};

/** Exists and is not a zombie. */
const running = (pid: number): boolean => {
  const st = statOf(pid);
  return Boolean(st) && !['Z', 'X', 'x'].includes(st!.state);
};

const allPids = (): number[] =>
  fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);

/** Every process below `root` (children, their children, ...), whatever their process group. */
function descendants(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const pid of allPids()) {
    const st = statOf(pid);
    if (st) byParent.set(st.ppid, [...(byParent.get(st.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length)
    for (const child of byParent.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  return out;
}

const describeProcess = (pid: number): string => {
  try {
    return `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`;
  } catch {
    return `${pid} (gone)`;
  }
};

/** Processes whose command line or working directory is inside `dir`. */
const processesIn = (dir: string): string[] =>
  allPids().flatMap((pid) => {
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return running(pid) && (cwd.startsWith(dir) || cmd.includes(dir)) ? [describeProcess(pid)] : [];
    } catch {
      return [];
    }
  });

const portOpen = (url: string): Promise<boolean> =>
  new Promise((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

const sh = (command: string): Promise<string> =>
  new Promise((resolve) => {
    // A grep that finds nothing exits 1: the output is what is checked.
    execFile('sh', ['-c', command], { timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (_error, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });

/**
 * Two consecutive free loopback ports (the demo takes PORT and PORT + 1), below Linux' ephemeral
 * range (32768-60999), where the harness' and other tests' port-0 servers never land while Strapi boots.
 */
async function freePortPair(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if ((await free(port)) && (await free(port + 1))) return port;
  }
  throw new Error('no two consecutive free ports in 20000-29999');
}

// --- one demo run ---------------------------------------------------------------------------

interface DemoRun {
  npm: ChildProcess;
  output(): string;
  state: DemoState;
  /** Every process below npm once the demo was ready. */
  tree: number[];
  exited: Promise<{ code: number | null; signal: string | null }>;
  dir: string;
}

async function startDemo(args: string[], extraEnv: Record<string, string> = {}): Promise<DemoRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-demo-test-'));
  const stateFile = path.join(dir, 'state.json');
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(npm_|VITEST|REDIS_URL$|PORT$|HOST$|NODE_OPTIONS$)/i.test(key)) env[key] = value;
  }
  Object.assign(env, extraEnv);
  env.DEMO_STATE_FILE = stateFile;
  // Its own process group, as a shell gives a foreground job: Ctrl-C is SIGINT to the group.
  const npm = spawn('npm', ['run', 'demo', ...(args.length ? ['--', ...args] : [])], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  npm.stdout!.on('data', (chunk) => (output += chunk));
  npm.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => npm.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  // The first run may install the playground (npm ci) and build the admin panel: minutes.
  const deadline = Date.now() + 14 * 60_000;
  while (!fs.existsSync(stateFile)) {
    if (done) throw new Error(`npm run demo ${args.join(' ')} exited before it was ready:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm run demo ${args.join(' ')} not ready in time:\n${output}`);
    await sleep(250);
  }
  await sleep(100); // the state file is written after the tour is printed; let the pipe drain
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as DemoState;
  return { npm, output: () => output, state, tree: descendants(npm.pid!), exited, dir };
}

// --- the scenarios ----------------------------------------------------------------------------

export interface DemoMode {
  /** What follows `npm run demo --`. */
  args: string[];
  /** 'default': as a user runs it (1337, or a free port if taken); 'free': PORT set to a free pair. */
  ports: 'default' | 'free';
  multi: boolean;
  admin: boolean;
  /** Also log in to the admin panel in Chromium. */
  browser: boolean;
}

/** The whole scenario for one way of running the demo: one describe block. */
export function describeDemo(mode: DemoMode): void {
  const { args, multi, admin, browser } = mode;
  describe(['npm run demo', ...(args.length ? ['--', ...args] : [])].join(' '), () => {
    let run: DemoRun;
    let stopped = false;
    const steps = tour.stepsFor({ multi, admin: admin ? { email: '', password: '' } : null });

    beforeAll(async () => {
      run = await startDemo(args, mode.ports === 'free' ? { PORT: String(await freePortPair()) } : {});
    });

    afterAll(async () => {
      if (!run) return;
      if (stopped) return fs.rmSync(run.dir, { recursive: true, force: true });
      // A failed test above: stop it anyway, harder.
      try {
        process.kill(-run.npm.pid!, 'SIGINT');
      } catch {
        /* gone */
      }
      await Promise.race([run.exited, sleep(30_000)]);
      for (const pid of run.tree) if (running(pid)) process.kill(pid, 'SIGKILL');
      fs.rmSync(run.dir, { recursive: true, force: true });
    });

    it('prints a progress line with its elapsed time for every step, then the URLs and the login', () => {
      const out = run.output();
      const done = (what: RegExp) => new RegExp(`^\\[demo\\] ${what.source} \\.\\.\\. done in \\d+\\.\\d s`, 'm');
      const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      expect(out).toMatch(done(/installing the playground app with the packed plugin/));
      if (admin) expect(out).toMatch(done(/building the admin panel/));
      expect(out).toMatch(done(multi ? /starting a Redis Cluster \(3 masters \+ 3 replicas, throwaway\)/ : /starting a throwaway redis-server/));
      run.state.ctx.urls.forEach((url, i) => {
        expect(out).toMatch(done(new RegExp(`booting Strapi ${run.state.ctx.names[i]} on ${escape(url)}${i === 0 ? ' \\(fresh database, seeded\\)' : ''}`)));
      });
      expect(out).toMatch(done(/creating the demo admin and an API token/));
      // The server the harness runs (REDIS_SERVER_BIN: Valkey too).
      const bin = path.basename(process.env.REDIS_SERVER_BIN || 'redis-server');
      expect(out).toMatch(new RegExp(`\\(${escape(bin)} on 127\\.0\\.0\\.1:\\d+`));
      expect(run.state.ctx.urls).toHaveLength(multi ? 2 : 1);
      expect(out).toContain(`Admin panel: ${run.state.ctx.a}/admin   email ${run.state.ctx.admin!.email}   password ${run.state.ctx.admin!.password}`);
      console.log(`[demo test] ${args.join(' ') || '(no options)'}: ready in ${(run.state.readyMs / 1000).toFixed(1)} s`);
    });

    it('prints the tour of scripts/demo/tour.js, every step with its command', () => {
      expect(run.output()).toContain(tour.renderTour(run.state.ctx));
      expect(tour.stepsFor(run.state.ctx).map((s) => s.id)).toEqual(steps.map((s) => s.id));
    });

    for (const step of steps) {
      it(`tour step "${step.id}": its command's output shows what the tour says`, async () => {
        const ctx = run.state.ctx;
        await step.before?.(ctx);
        const output = await sh(step.command(ctx));
        step.check(output, ctx);
        await step.after?.(ctx);
      });
    }

    if (browser) {
      it('the admin panel opens with the printed login, and every Redis view shows', async () => {
        const ctx = run.state.ctx;
        const b = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
        try {
          const page = await (await b.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' })).newPage();
          page.setDefaultTimeout(30_000);
          await page.goto(`${ctx.a}/admin`);
          await page.locator('input[name="email"]').fill(ctx.admin!.email);
          await page.locator('input[name="password"]').fill(ctx.admin!.password);
          await page.getByRole('button', { name: /login/i }).click();
          await page.waitForURL((url) => !url.pathname.includes('/auth/'), { timeout: 60_000 });
          // The Redis menu entry opens the first view; the others through the side navigation.
          await page.getByRole('link', { name: 'Redis', exact: true }).click();
          await page.keyboard.press('Escape'); // the menu link's tooltip
          for (const view of tour.ADMIN_VIEWS) {
            if (view !== tour.ADMIN_VIEWS[0]) await page.getByRole('link', { name: view.heading, exact: true }).click();
            await page.getByRole('heading', { name: view.heading, exact: true, level: 1 }).waitFor();
            expect(new URL(page.url()).pathname).toBe(`/admin/plugins/redis/${view.path}`);
          }
          // Every feature of the demo uses the one connection.
          await page.getByRole('link', { name: tour.ADMIN_VIEWS[0]!.heading, exact: true }).click();
          const row = page.getByTestId('connection-default');
          await expect.poll(() => row.getByTestId('connection-state').textContent()).toBe('ready');
          const features = (await row.getByTestId('connection-features').textContent()) ?? '';
          for (const feature of ['locks', 'cron', 'rateLimit', 'session', 'cache', 'apollo']) expect(features).toContain(feature);
        } finally {
          await b.close();
        }
      });
    }

    it('Ctrl-C stops every process it started and removes its folder', async () => {
      const { state, tree } = run;
      // What the demo says it started is below it.
      const started = [...state.pids.children.map((c) => c.pid), ...state.pids.children.flatMap((c) => c.pids)];
      expect(started.length).toBeGreaterThanOrEqual(multi ? 2 + 1 + 6 : 1 + 1 + 1);
      for (const pid of started) expect(tree).toContain(pid);
      expect(fs.existsSync(state.runDir)).toBe(true);

      const t0 = Date.now();
      process.kill(-run.npm.pid!, 'SIGINT');
      const exit = await Promise.race([run.exited, sleep(60_000).then(() => undefined)]);
      stopped = true;
      expect(exit, run.output().slice(-3000)).toBeDefined();
      // npm forwards the SIGINT and then dies of it, as in a terminal; the demo itself ends with 0
      // (it prints "stopped everything" only then) and npm prints no error.
      expect(exit!.code === 0 || exit!.signal === 'SIGINT', JSON.stringify(exit)).toBe(true);
      expect(run.output()).not.toMatch(/npm (error|ERR!)/);
      // The demo itself too (npm may return first).
      const deadline = Date.now() + 30_000;
      while (running(state.pids.demo) && Date.now() < deadline) await sleep(100);
      const stopMs = Date.now() - t0;
      expect(run.output()).toMatch(/^\[demo\] stopped everything it started in \d+\.\d s/m);
      const left = tree.filter(running).map(describeProcess);
      expect(left, 'processes left behind').toEqual([]);
      expect(processesIn(state.runDir)).toEqual([]);
      expect(fs.existsSync(state.runDir)).toBe(false);
      for (const url of state.ctx.urls) expect(await portOpen(url), url).toBe(false);
      console.log(`[demo test] ${args.join(' ') || '(no options)'}: stopped in ${(stopMs / 1000).toFixed(1)} s, ${tree.length} processes checked`);
      fs.rmSync(run.dir, { recursive: true, force: true });
    });
  });
}
