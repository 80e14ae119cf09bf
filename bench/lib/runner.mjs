// Runs a server under test in its own process and autocannon in another, then reports each
// variant's requests/s as a ratio to the scenario's baseline measured in the same run.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const autocannonBin = path.join(path.dirname(require.resolve('autocannon/package.json')), 'autocannon.js');

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
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** One autocannon run in a separate process; returns mean requests/s and latency percentiles (ms). */
export async function load(url, { connections = 50, durationS = 5, pipelining = 1, headers = {} } = {}) {
  const args = [autocannonBin, '-c', String(connections), '-d', String(durationS), '-p', String(pipelining), '--json'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => child.once('exit', r));
  const r = JSON.parse(out);
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

/**
 * Measure each variant `rounds` times, interleaved (A B C, A B C, ...) so drift hits all alike;
 * report the median of each and its ratio to the baseline.
 */
export async function compare(baseUrl, variants, { rounds = 3, ...opts } = {}) {
  const samples = Object.fromEntries(variants.map((v) => [v.name, []]));
  // warm-up
  for (const v of variants) await load(baseUrl + v.path, { ...opts, durationS: 1, headers: v.headers });
  for (let i = 0; i < rounds; i++) {
    for (const v of variants) samples[v.name].push(await load(baseUrl + v.path, { ...opts, headers: v.headers }));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = variants.map((v) => ({
    name: v.name,
    what: v.what,
    rps: median(samples[v.name].map((s) => s.rps)),
    p50: median(samples[v.name].map((s) => s.p50)),
    p99: median(samples[v.name].map((s) => s.p99)),
    baselineOf: v.baseline,
  }));
  for (const row of rows) {
    const base = rows.find((r) => r.name === row.baselineOf);
    row.ratio = base ? row.rps / base.rps : 1;
  }
  return rows;
}
