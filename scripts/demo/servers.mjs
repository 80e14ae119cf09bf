#!/usr/bin/env node
// The demo's own Redis, started with the test harness (tests/harness/servers.ts), in a process of
// its own that `scripts/demo.mjs` spawns detached (so Ctrl-C in the terminal reaches only the demo,
// which stops Strapi first and this process last):
//
//   node scripts/demo/servers.mjs standalone   one redis-server on a free loopback port
//   node scripts/demo/servers.mjs cluster      3 masters + 3 replicas (redis-cli --cluster create)
//
// Prints one JSON line on stdout once the servers answer:
//   {"ready":true,"topology":"cluster","url":null,"nodes":[{"host","port"}...],"pids":[...],"bin":"..."}
// then runs until SIGTERM or SIGINT, or until its stdin ends (the demo died without stopping it),
// and stops every server by PID. Binaries: REDIS_SERVER_BIN / REDIS_CLI_BIN as for the tests
// (e.g. valkey-server / valkey-cli). No persistence, data under $TMPDIR/redis-suite-harness-*.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const HARNESS = path.resolve(here, '..', '..', 'tests', 'harness', 'servers.ts');

// The harness is TypeScript with node: imports only: esbuild (installed with tsup) strips the types.
async function loadHarness() {
  const esbuild = await import('esbuild');
  const { code } = await esbuild.transform(fs.readFileSync(HARNESS, 'utf8'), { loader: 'ts', format: 'esm', target: 'node20' });
  await esbuild.stop(); // its service process
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-demo-harness-')), 'servers.mjs');
  fs.writeFileSync(file, code);
  try {
    return await import(pathToFileURL(file).href);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

async function main() {
  const topology = process.argv[2];
  if (topology !== 'standalone' && topology !== 'cluster') {
    console.error('usage: node scripts/demo/servers.mjs standalone|cluster');
    process.exit(2);
  }
  let handle;
  let stopping;
  const stop = (code) => {
    stopping ??= (async () => {
      try {
        await handle?.stop();
      } finally {
        process.exit(code);
      }
    })();
    return stopping;
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => void stop(0));
  process.stdin.on('end', () => void stop(0));
  process.stdin.on('error', () => void stop(0));
  process.stdin.resume();

  const harness = await loadHarness();
  const bin = harness.requireRedisServer().server;
  // The harness' own signal hooks SIGKILL its servers at once; this process stops them in order.
  const before = new Map(['SIGTERM', 'SIGINT', 'SIGHUP'].map((sig) => [sig, new Set(process.listeners(sig))]));
  let info;
  if (topology === 'standalone') {
    const server = await harness.startStandalone();
    handle = server;
    info = { url: server.url, nodes: [{ host: server.host, port: server.port }], pids: [server.pid] };
  } else {
    const cluster = await harness.startCluster();
    handle = cluster;
    info = { url: null, nodes: cluster.nodes, pids: cluster.servers.map((s) => s.pid) };
  }
  for (const [sig, listeners] of before) {
    for (const listener of process.listeners(sig)) if (!listeners.has(listener)) process.off(sig, listener);
  }
  process.stdout.write(`${JSON.stringify({ ready: true, topology, bin, ...info })}\n`);
}

main().catch((error) => {
  process.stdout.write(`${JSON.stringify({ ready: false, error: error instanceof Error ? error.message : String(error) })}\n`);
  process.exit(1);
});
