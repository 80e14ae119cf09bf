/**
 * The chaos run's checks (tests/chaos/invariants.ts) on small hand-made records: each invariant
 * holds on a clean record and breaks on the fault it is there to catch, and documented behaviour
 * during a fault is set apart, not counted as held or broken. The run itself: `npm run chaos`.
 */
import { describe, expect, it } from 'vitest';
import { RATE_LIMIT } from './app-files.js';
import { planFaults, type FaultWindow, type LoadRecord } from './common.js';
import { evaluate, type Inputs } from './invariants.js';

const T = 1_700_000_000_000;
const base = (over: Partial<Inputs> = {}): Inputs => ({
  topology: 'standalone',
  seed: 1,
  loadStart: T,
  loadEnd: T + 10_000,
  records: [],
  windows: [],
  ticks: [],
  longRuns: [],
  lives: [],
  stats: [],
  logs: {},
  secrets: ['s3cret-canary'],
  loadExit: 0,
  ...over,
});
const ticksEverySecond = (skip: number[] = [], twice: number[] = []) => {
  const rows = [];
  for (let s = T / 1000 + 1; s <= T / 1000 + 9; s++) {
    if (skip.includes(s - T / 1000)) continue;
    rows.push({ tick: new Date(s * 1000).toISOString(), instance: 'A', fencing: '1', at: s * 1000 });
    if (twice.includes(s - T / 1000)) rows.push({ tick: new Date(s * 1000).toISOString(), instance: 'B', fencing: '2', at: s * 1000 });
  }
  return rows;
};
const rowOf = (res: ReturnType<typeof evaluate>, start: string) => res.rows.find((r) => r.name.startsWith(start))!;
const redisKill: FaultWindow = { kind: 'redis-kill', at: 4000, holdMs: 1000, start: T + 4000, end: T + 5000 };

describe('chaos invariants', () => {
  it('cron: a tick run twice breaks; a tick skipped during a Redis fault is set apart; one missed while all is up breaks', () => {
    expect(rowOf(evaluate(base({ ticks: ticksEverySecond() })), 'cron: the 1 s').broken).toBe(0);
    expect(rowOf(evaluate(base({ ticks: ticksEverySecond([], [3]) })), 'cron: the 1 s').broken).toBe(1);
    const skipped = rowOf(evaluate(base({ ticks: ticksEverySecond([5]), windows: [redisKill] })), 'cron: the 1 s');
    expect([skipped.apart, skipped.broken]).toEqual([1, 0]);
    expect(rowOf(evaluate(base({ ticks: ticksEverySecond([5]) })), 'cron: the 1 s').broken).toBe(1);
  });

  it('cron: a tick run twice across a master change is set apart (asynchronous replication); elsewhere it breaks', () => {
    const failover: FaultWindow = { kind: 'sentinel-failover', at: 4000, holdMs: 0, start: T + 4000, end: T + 5000 };
    const across = rowOf(evaluate(base({ topology: 'sentinel', ticks: ticksEverySecond([], [4]), windows: [failover] })), 'cron: the 1 s');
    expect([across.apart, across.broken]).toEqual([1, 0]);
    const later = rowOf(evaluate(base({ topology: 'sentinel', ticks: ticksEverySecond([], [9]), windows: [failover] })), 'cron: the 1 s');
    expect(later.broken).toBe(1);
  });

  it("cron: a tick skipped while the previous tick's run, whose task started late, still held the run lock is set apart", () => {
    // The 30-minute Cluster run: tick 24's task started 1.3 s after its tick (the guard's history
    // write waited on a hung master), so at tick 25 its run lock was still held.
    const at = (second: number) => T + second * 1000;
    const run = (second: number, start = at(second) + 1) => ({
      tick: new Date(at(second)).toISOString(),
      instance: 'A',
      fencing: String(second),
      at: start,
      done: start + 2,
    });
    const ticks = [1, 2, 3, 4, 6, 7, 8, 9].map((sec) => (sec === 4 ? run(4, at(5) + 300) : run(sec)));
    const logs = { strapiA: `info: [redis] cron task "chaosTick" tick ${new Date(at(5)).toISOString()} skipped: its previous run is still running` };
    const row = rowOf(evaluate(base({ ticks, logs })), 'cron: the 1 s');
    expect([row.apart, row.broken]).toEqual([1, 0]);
    // the same skip with the previous run long over breaks (a run lock held after its run)
    const stale = rowOf(evaluate(base({ ticks: [1, 2, 3, 4, 6, 7, 8, 9].map((sec) => run(sec)), logs })), 'cron: the 1 s');
    expect(stale.broken).toBe(1);
  });

  it('long task: an overlap breaks unless the earlier run was frozen (or lost its lock) and fenced off', () => {
    const runs = [
      { tick: 'a', instance: 'A', fencing: 1, started: T + 1000, ended: T + 7000, aborted: false },
      { tick: 'b', instance: 'B', fencing: 2, started: T + 5000, ended: T + 9000, aborted: false },
    ];
    expect(rowOf(evaluate(base({ longRuns: runs })), 'cron: the long').broken).toBe(1);
    const frozen: FaultWindow = { kind: 'strapi-stop', at: 2000, holdMs: 5000, target: 'A', start: T + 2000, end: T + 6500 };
    const fenced = rowOf(evaluate(base({ longRuns: [{ ...runs[0]!, aborted: true }, runs[1]!], windows: [frozen] })), 'cron: the long');
    expect([fenced.apart, fenced.broken]).toEqual([1, 0]);
  });

  it('cache: a read older than an acknowledged write breaks; during a Redis fault it is set apart', () => {
    const write: LoadRecord = { k: 'write', i: 'A', t0: T + 4500, t1: T + 4600, st: 200, a: 0, v: 2, via: 'rest' };
    const stale: LoadRecord = { k: 'read', i: 'B', t0: T + 4700, t1: T + 4710, st: 200, a: 0, v: 1, x: 'HIT' };
    const fresh: LoadRecord = { ...stale, v: 2 };
    expect(rowOf(evaluate(base({ records: [write, fresh] })), 'cache').broken).toBe(0);
    expect(rowOf(evaluate(base({ records: [write, stale] })), 'cache').broken).toBe(1);
    const apart = rowOf(evaluate(base({ records: [write, stale], windows: [redisKill] })), 'cache');
    expect([apart.apart, apart.broken]).toEqual([1, 0]);
    // A read that started before the write was acknowledged may be older.
    expect(rowOf(evaluate(base({ records: [write, { ...stale, t0: T + 4550 }] })), 'cache').checked).toBe(0);
  });

  it('rate limit: more than max counted passes in one bucket breaks; a lost count breaks; failOpen passes are set apart', () => {
    const hit = (n: number, st = 200, counted = true): LoadRecord => ({
      k: 'rl',
      i: 'A',
      t0: T + 1000 + n,
      t1: T + 1010 + n,
      st,
      b: 'b1',
      counted,
      ...(st === 200 && counted ? { cur: n } : {}),
    });
    const ok = Array.from({ length: RATE_LIMIT.max }, (_, n) => hit(n + 1)).concat([hit(11, 429), hit(12, 429)]);
    expect(rowOf(evaluate(base({ records: ok })), 'rateLimit').held).toBe(1);
    expect(rowOf(evaluate(base({ records: [...ok, hit(RATE_LIMIT.max + 1)] })), 'rateLimit').broken).toBe(1);
    expect(rowOf(evaluate(base({ records: [hit(1), hit(2), { ...hit(3), cur: 2 }] })), 'rateLimit').broken).toBe(1);
    const open = rowOf(evaluate(base({ records: [...ok, hit(13, 200, false)] })), 'rateLimit');
    expect([open.apart, open.broken]).toEqual([1, 0]);
  });

  it('rate limit: counts lost to a failover (the count starts again) are set apart, with as many more passes; one pass beyond that breaks', () => {
    // The 30-minute Sentinel run: counts 1-3 on the master a SENTINEL FAILOVER demoted, then 1..9 on the promoted replica.
    const failover: FaultWindow = { kind: 'sentinel-failover', at: 1000, holdMs: 0, start: T + 1000, end: T + 12_000 };
    const hit = (n: number, cur: number): LoadRecord => ({ k: 'rl', i: 'A', t0: T + 1000 + n, t1: T + 1010 + n, st: 200, b: 'b1', counted: true, cur });
    const counts = [1, 2, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const lost = counts.map((cur, n) => hit(n, cur));
    const row = rowOf(evaluate(base({ topology: 'sentinel', records: lost, windows: [failover] })), 'rateLimit');
    expect([row.apart, row.broken]).toEqual([1, 0]);
    expect(row.note).toMatch(/3 counts lost to a failover/);
    const beyond = rowOf(evaluate(base({ topology: 'sentinel', records: [...lost, hit(20, 11)], windows: [failover] })), 'rateLimit');
    expect(beyond.broken).toBe(1);
  });

  it('sessions: another user, an emptied session or a lost write breaks', () => {
    const s = (n: number, op: 'login' | 'read' | 'incr', ru: string | null, rn: number | null, st = 200): LoadRecord => ({
      k: 'sess',
      i: 'A',
      t0: T + n * 10,
      t1: T + n * 10 + 5,
      st,
      u: 'u1',
      op,
      ru,
      rn,
    });
    const clean = [s(1, 'login', 'u1', 0), s(2, 'incr', 'u1', 1), s(3, 'read', 'u1', 1), s(4, 'incr', 'u1', 2)];
    expect(rowOf(evaluate(base({ records: clean })), 'sessions').broken).toBe(0);
    expect(rowOf(evaluate(base({ records: [...clean, s(5, 'read', 'u2', 2)] })), 'sessions').broken).toBe(1);
    expect(rowOf(evaluate(base({ records: [...clean, s(5, 'read', null, null)] })), 'sessions').broken).toBe(1);
    expect(rowOf(evaluate(base({ records: [...clean, s(5, 'read', 'u1', 1)] })), 'sessions').broken).toBe(1);
    // After a write that timed out (503), either value is fine.
    const unknown = rowOf(evaluate(base({ records: [...clean, s(5, 'incr', null, null, 503), s(6, 'read', 'u1', 2)] })), 'sessions');
    expect(unknown.broken).toBe(0);
  });

  it('answers and logs: a request with no answer, a 500, a crash, an unhandled rejection or a leaked secret breaks', () => {
    const r = (st: number, k: LoadRecord['k'] = 'read'): LoadRecord => ({ k, i: 'A', t0: T + 1000, t1: T + 1010, st, a: 0, v: -1 });
    expect(rowOf(evaluate(base({ records: [r(200), r(503, 'sess')] })), 'every request').broken).toBe(0);
    expect(rowOf(evaluate(base({ records: [r(0)] })), 'every request').broken).toBe(1);
    expect(rowOf(evaluate(base({ records: [r(500)] })), 'every request').broken).toBe(1);
    const killed: FaultWindow = { kind: 'strapi-kill', at: 500, holdMs: 0, target: 'A', start: T + 500, end: T + 3000 };
    expect(rowOf(evaluate(base({ records: [r(0)], windows: [killed] })), 'every request').apart).toBe(1);
    expect(rowOf(evaluate(base({ lives: [{ name: 'A', pid: 1, bootMs: 1, start: T, end: T + 1, exit: 'SIGSEGV', ours: false }] })), 'no crash').broken).toBe(1);
    expect(rowOf(evaluate(base({ logs: { 'strapi A': 'ok\n[error] Unhandled rejection: boom\n' } })), 'no crash').broken).toBe(1);
    expect(rowOf(evaluate(base({ logs: { 'strapi A': 'login with s3cret-canary\n' } })), 'no password').broken).toBe(1);
  });

  it('answer time: a request beyond the handler by more than the bound during a Redis fault breaks', () => {
    const q: LoadRecord = { k: 'sess', i: 'A', t0: T + 1000, t1: T + 1100, st: 200, rq: 100, hd: 60 };
    const slow: LoadRecord = { ...q, t0: T + 4200, t1: T + 4700, rq: 400, hd: 10 };
    const ok: LoadRecord = { ...q, t0: T + 4200, t1: T + 4400, rq: 200, hd: 10 };
    expect(rowOf(evaluate(base({ records: [q, ok], windows: [redisKill] })), 'answer time').broken).toBe(0);
    expect(rowOf(evaluate(base({ records: [q, slow], windows: [redisKill] })), 'answer time').broken).toBe(1);
  });

  it("answer time: what the request's kind costs beyond its handler with no fault is not counted as Redis's", () => {
    // Usually up to 30 ms beyond the handler on A (the 90th percentile of the quiet sess requests there).
    const quiet = [20, 30, 45].map((o, n): LoadRecord => ({ k: 'sess', i: 'A', t0: T + 100 + n, t1: T + 150 + n, st: 200, rq: 10 + o, hd: 10 }));
    const oneBound: LoadRecord = { k: 'sess', i: 'A', t0: T + 4200, t1: T + 4500, st: 503, rq: 275, hd: 0 }; // 250 + 25
    const twoBounds: LoadRecord = { ...oneBound, rq: 510 };
    const otherKind: LoadRecord = { ...oneBound, k: 'rl' }; // no quiet rl record: nothing to take off
    expect(rowOf(evaluate(base({ records: [...quiet, oneBound], windows: [redisKill] })), 'answer time').broken).toBe(0);
    expect(rowOf(evaluate(base({ records: [...quiet, twoBounds], windows: [redisKill] })), 'answer time').broken).toBe(1);
    expect(rowOf(evaluate(base({ records: [...quiet, otherKind], windows: [redisKill] })), 'answer time').broken).toBe(1);
  });

  it('the schedule: one seed gives one schedule; every fault kind of the topology comes up', () => {
    const a = planFaults(7, 'standalone', 180_000, ['A', 'B', 'C'], { warmupMs: 8000, tailMs: 6000 });
    expect(planFaults(7, 'standalone', 180_000, ['A', 'B', 'C'], { warmupMs: 8000, tailMs: 6000 })).toEqual(a);
    expect(new Set(a.map((f) => f.kind))).toEqual(new Set(['redis-kill', 'redis-stop', 'client-kill', 'strapi-stop', 'strapi-kill']));
    expect(planFaults(8, 'standalone', 180_000, ['A', 'B', 'C'], { warmupMs: 8000, tailMs: 6000 })).not.toEqual(a);
  });
});
