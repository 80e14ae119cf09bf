// Runs a server under test in its own process and autocannon in another, then reports each
// variant's requests/s as a ratio to the scenario's baseline measured in the same run.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const autocannonBin = path.join(path.dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
const distinctBin = fileURLToPath(new URL('./autocannon-distinct.mjs', import.meta.url));

/** Start `node <script>`; it prints `LISTENING <port>` when ready. */
export async function startServer(script, env) {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
  });
  return {
    port,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** CPU time (user + system) of these processes so far, in seconds (Linux /proc; clock ticks of 10 ms). */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks / 100;
}

/**
 * One autocannon run in a separate process; returns mean requests/s and latency percentiles (ms).
 * With `cpuPids`, also the requests served per CPU-second of those processes (the server under
 * test and its Redis): a cost per request that other load on the machine hardly changes.
 * `status: 304` expects every answer to be a 304 instead of a 2xx; `distinct: true` appends a
 * new `bench=<n>` query parameter to every request, `cookies: [...]` sends the next Cookie header
 * of the list with each, `paths: [...]` the next path (see autocannon-distinct.mjs).
 */
export async function load(
  url,
  { connections = 50, durationS = 5, pipelining = 1, headers = {}, status = 200, distinct = false, cookies, paths, cpuPids } = {},
) {
  const args = [autocannonBin, '-c', String(connections), '-d', String(durationS), '-p', String(pipelining), '--json'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  let specFile;
  if (distinct || cookies || paths) {
    // a long list (10,000 cookies) does not fit in argv (E2BIG): it goes in a file, named `@<path>`
    const spec = JSON.stringify({ url, connections, durationS, pipelining, headers, cookies, paths });
    if (spec.length > 50_000) {
      specFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'redis-suite-bench-load-')), 'spec.json');
      writeFileSync(specFile, spec);
    }
    args.splice(0, args.length, distinctBin, specFile ? `@${specFile}` : spec);
  }
  const cpuBefore = cpuPids ? cpuSeconds(cpuPids) : 0;
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
  await new Promise((r) => child.once('exit', r));
  if (specFile) rmSync(path.dirname(specFile), { recursive: true, force: true });
  const cpu = cpuPids ? cpuSeconds(cpuPids) - cpuBefore : 0;
  let r;
  try {
    r = JSON.parse(out);
  } catch {
    throw new Error(`autocannon ${url}: no result\n${err}`);
  }
  if (status === 304 ? r.non2xx !== r['3xx'] || r['2xx'] : r.non2xx)
    throw new Error(`${url}: ${r['2xx']} 2xx, ${r['3xx']} 3xx, ${r['4xx']} 4xx, ${r['5xx']} 5xx (expected ${status})`);
  if (r.errors) throw new Error(`${url}: ${r.errors} errors, ${r.timeouts} timeouts`);
  return {
    rps: r.requests.average,
    total: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    perCpuS: cpuPids && cpu > 0 ? r.requests.total / cpu : undefined,
  };
}

/**
 * Measure each variant `rounds` times, interleaved (A B C, A B C, ...) so drift hits all alike;
 * report the median of each and its ratio to the baseline.
 */
export async function compare(baseUrl, variants, { rounds = 3, ...opts } = {}) {
  const samples = Object.fromEntries(variants.map((v) => [v.name, []]));
  // A variant may name its own server (`url`) and load options (`status`, `distinct`).
  const run = (v, o) =>
    load((v.url ?? baseUrl) + v.path, {
      ...o,
      headers: v.headers,
      status: v.status,
      distinct: v.distinct,
      cookies: v.cookies,
      paths: v.paths,
      cpuPids: v.cpuPids,
    }).catch((err) => {
      throw new Error(`variant ${v.name}: ${err.message}`, { cause: err });
    });
  // warm-up
  for (const v of variants) await run(v, { ...opts, durationS: 1 });
  for (let i = 0; i < rounds; i++) {
    for (const v of variants) samples[v.name].push(await run(v, opts));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = variants.map((v) => ({
    name: v.name,
    what: v.what,
    rps: median(samples[v.name].map((s) => s.rps)),
    p50: median(samples[v.name].map((s) => s.p50)),
    p99: median(samples[v.name].map((s) => s.p99)),
    perCpuS: v.cpuPids ? median(samples[v.name].map((s) => s.perCpuS ?? 0)) : undefined,
    baselineOf: v.baseline,
  }));
  for (const row of rows) {
    const base = rows.find((r) => r.name === row.baselineOf);
    row.ratio = base ? row.rps / base.rps : 1;
    if (row.perCpuS !== undefined) row.cpuRatio = base?.perCpuS ? row.perCpuS / base.perCpuS : 1;
  }
  return rows;
}
