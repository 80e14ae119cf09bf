#!/usr/bin/env node
// npm's `prepare` script: builds dist/ when it is missing or older than its sources, else nothing.
//
// Why both `prepack` and `prepare` (package.json): `npm pack` and `npm publish` run `prepack`
// (which builds), then `prepare` (which then finds dist/ fresh and skips). `npm install <git url>`
// runs neither `prepack` nor `npm pack`: npm clones the repository, installs its dependencies
// (dev ones too, because it has these scripts) and runs `prepare` only (npm 11's pacote,
// lib/dir.js: "we *only* run prepare"), so without this the installed package had no dist/.
// `prepare` also runs on `npm ci` / `npm install` in a clone of this repository: a fresh clone
// builds once there, and `npm run demo` then packs that build as it is.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

const files = (entry) => {
  const full = path.join(root, entry);
  if (!fs.existsSync(full)) return [];
  if (fs.statSync(full).isFile()) return [full];
  return fs
    .readdirSync(full, { withFileTypes: true })
    .filter((e) => e.name !== 'node_modules' && !e.name.startsWith('.'))
    .flatMap((e) => files(path.join(entry, e.name)));
};

// The files package.json's entry points name (dist/index.cjs, dist/admin/index.mjs, ...).
const targets = [];
const walk = (value) => {
  if (typeof value === 'string') targets.push(value);
  else if (value && typeof value === 'object') Object.values(value).forEach(walk);
};
walk([pkg.main, pkg.module, pkg.types, pkg.exports]);
const distTargets = [...new Set(targets.filter((t) => t.startsWith('./dist/') || t.startsWith('dist/')))];

const newestSource = Math.max(
  0,
  ...['src', 'admin/src', 'tsup.config.ts', 'tsconfig.json', 'admin/tsconfig.json'].flatMap(files).map((f) => fs.statSync(f).mtimeMs),
);
const oldestTarget = Math.min(...distTargets.map((t) => (fs.existsSync(path.join(root, t)) ? fs.statSync(path.join(root, t)).mtimeMs : 0)));

if (oldestTarget >= newestSource) {
  console.log('[prepare] dist/ is up to date: no build');
  process.exit(0);
}
if (!fs.existsSync(path.join(root, 'node_modules', 'tsup'))) {
  // e.g. `npm ci --omit=dev`: nothing to build with (an installed git dependency always has it).
  console.log('[prepare] dist/ is missing or stale, and tsup is not installed (dev dependencies omitted): no build');
  process.exit(0);
}
console.log('[prepare] building dist/ (npm run build)');
const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
