// npm run bench [-- scenario ...] [--quick]
// Runs each scenario against a throwaway redis-server and writes the results to BENCHMARKS.md.
// Every figure is a ratio to a baseline measured in the same run, never an absolute time.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { startRedis } from './lib/redis.mjs';

const SCENARIOS = ['core', 'locks', 'session', 'apollo', 'ratelimit', 'cache', 'cache-strapi', 'boot', 'memory'];
const fmt = (ms) => (ms === undefined ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const chosen = args.filter((a) => !a.startsWith('--'));
const names = chosen.length ? chosen : SCENARIOS;
const opts = quick ? { rounds: 1, durationS: 2, connections: 50 } : { rounds: 3, durationS: 5, connections: 50 };

const redis = await startRedis();
const results = [];
let failed = false;
try {
  for (const name of names) {
    const scenario = await import(`./scenarios/${name}.mjs`);
    process.stdout.write(`\n== ${scenario.title}\n`);
    const { rows, pass, note } = await scenario.measure({ redisUrl: redis.url, redisPid: redis.pid, opts, quick });
    for (const r of rows) {
      const cpu = r.perCpuS === undefined ? '' : `  ${r.perCpuS.toFixed(0).padStart(6)} req/CPU-s${r.baselineOf ? ` ${r.cpuRatio.toFixed(3)}x` : ''}`;
      console.log(
        `${r.name.padEnd(12)} ${r.rps.toFixed(0).padStart(8)} ${scenario.unit ?? 'req/s'}  p50 ${fmt(r.p50).padStart(6)} ms  p99 ${fmt(r.p99).padStart(6)} ms  ${r.baselineOf ? `${r.ratio.toFixed(3)}x of ${r.baselineOf}` : '(baseline)'}${cpu}`,
      );
    }
    console.log(`target: ${scenario.target} -> ${pass ? 'met' : 'NOT MET'}`);
    failed ||= !pass;
    results.push({ name, scenario, rows, pass, note });
  }
} finally {
  await redis.stop();
}

const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
const redisVersion =
  execSync(`${process.env.REDIS_SERVER_BIN ?? 'redis-server'} --version`)
    .toString()
    .trim()
    .split(' ')[2] ?? '';
const machine = `Machine: ${os.cpus().length} cores, Node ${process.version}, redis-server ${redisVersion.replace('v=', '')};`;
const header =
  `${machine} ` + `autocannon ${opts.connections} connections, ${opts.durationS} s x ${opts.rounds} interleaved rounds (median), in its own process.`;
const file = 'BENCHMARKS.md';
let doc = existsSync(file)
  ? readFileSync(file, 'utf8')
  : '# Benchmarks\n\nRatios against a baseline measured in the same run (`npm run bench`). Absolute req/s are shown for context only: they depend on the machine.\n';
for (const { name, scenario, rows, pass, note } of results) {
  const method = typeof scenario.method === 'function' ? scenario.method(opts) : scenario.method;
  const section = [
    `<!-- bench:${name} -->`,
    `## ${scenario.title}`,
    '',
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)}). ${method ? `${machine} ${method}` : header}`,
    '',
    ...(rows.some((r) => r.perCpuS !== undefined)
      ? [
          `| variant | what | ${scenario.unit ?? 'req/s'} | p50 ms | p99 ms | ratio | req/CPU-s | CPU ratio |`,
          '| --- | --- | ---: | ---: | ---: | --- | ---: | --- |',
          ...rows.map(
            (r) =>
              `| ${r.name} | ${r.what} | ${r.rps.toFixed(0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.baselineOf ? `${r.ratio.toFixed(3)}x of ${r.baselineOf}` : 'baseline'} | ${r.perCpuS?.toFixed(0) ?? '-'} | ${r.baselineOf && r.cpuRatio !== undefined ? `${r.cpuRatio.toFixed(3)}x` : r.baselineOf ? '-' : 'baseline'} |`,
          ),
        ]
      : [
          `| variant | what | ${scenario.unit ?? 'req/s'} | p50 ms | p99 ms | ratio |`,
          '| --- | --- | ---: | ---: | ---: | --- |',
          ...rows.map(
            (r) =>
              `| ${r.name} | ${r.what} | ${r.rps.toFixed(0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.baselineOf ? `${r.ratio.toFixed(3)}x of ${r.baselineOf}` : 'baseline'} |`,
          ),
        ]),
    '',
    `Target: ${scenario.target}: **${pass ? 'met' : 'not met'}**.`,
    ...(note ? ['', note] : []),
    `<!-- /bench:${name} -->`,
  ].join('\n');
  const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
  doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
}
writeFileSync(file, doc);
console.log(`\nwrote ${file}`);
process.exitCode = failed ? 1 : 0;
