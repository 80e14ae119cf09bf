#!/usr/bin/env node
// `npm run chaos`: bundles the chaos run (tests/chaos/driver.ts and its load generator
// tests/chaos/load.ts, which use the test harness in tests/harness and tests/e2e/app.ts) with
// esbuild (installed with tsup) into a temporary folder and runs it. Arguments pass through:
//   npm run chaos -- [--short] [--seed <n>] [--topology standalone|sentinel|cluster] [--seconds <n> | --minutes <n>] [--keep]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-chaos-bundle-'));
const esbuild = await import('esbuild');
await esbuild.build({
  entryPoints: { driver: path.join(root, 'tests/chaos/driver.ts'), load: path.join(root, 'tests/chaos/load.ts') },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __chaosCreateRequire } from 'node:module'; const require = __chaosCreateRequire(import.meta.url);" },
});
await esbuild.stop();
// The bundle imports pg and the like from the repository's node_modules: resolve from the root.
fs.symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir');
const child = spawn(process.execPath, [path.join(out, 'driver.mjs'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CHAOS_BUNDLE_DIR: out },
});
const forward = (sig) => child.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => {
  fs.rmSync(out, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
