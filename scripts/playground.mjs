#!/usr/bin/env node
// Installs the playground Strapi app and the packed plugin into it, and makes app folders
// that boot it. Used by `npm run demo`, CI and tests/e2e/app.ts.
//
//   node scripts/playground.mjs install [--force]      deps (npm ci), build + pack, install the tarball
//   node scripts/playground.mjs deps                   deps only (npm ci when the lock changed), and the
//                                                      admin/node_modules link the admin typecheck uses
//   node scripts/playground.mjs admin-build [--force]  install, then `strapi build` of the admin panel
//   node scripts/playground.mjs app-dir <dir>          make a bootable app folder at <dir>
//
// Layout:
//   playground/                 committed app: config/, src/, public/, server.js, package.json + lock
//   playground/node_modules/    `npm ci` from the committed lock, plus the packed plugin installed
//                               with `npm install --no-save` (package.json and lock never change)
//   .pack/playground/           the tarball of this repository and a stamp of what it was built from
//   <app dir>                   a copy of the app whose package.json lists the plugin (that is how
//                               Strapi finds installed plugins), with node_modules -> playground's
//                               and, once the admin was built, build -> <admin app folder>/build
//   <tmp>/redis-suite-admin-app-<hash>/
//                               the app folder `strapi build` runs in; build/ is the admin panel,
//                               served by apps started with PLAYGROUND_SERVE_ADMIN=1
//   admin/node_modules          -> playground/node_modules: the admin panel's sources typecheck
//                               against the Strapi, design system and React the build uses
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const ROOT_DIR = path.resolve(here, '..');
export const PLAYGROUND_DIR = path.join(ROOT_DIR, 'playground');
export const PLAYGROUND_MODULES = path.join(PLAYGROUND_DIR, 'node_modules');
export const PACK_DIR = path.join(ROOT_DIR, '.pack', 'playground');

// Outside the repository: `strapi build` looks for a tsconfig.json in the app folder and every
// folder above it, and would take this repository's for the app's.
export const ADMIN_APP_DIR = path.join(os.tmpdir(), `redis-suite-admin-app-${createHash('sha256').update(ROOT_DIR).digest('hex').slice(0, 8)}`);
export const ADMIN_BUILD_DIR = path.join(ADMIN_APP_DIR, 'build');

const PACK_STAMP = path.join(PACK_DIR, 'stamp.json');
const INSTALL_STAMP = path.join(PLAYGROUND_MODULES, '.redis-suite-playground.json');
const ADMIN_STAMP = path.join(ADMIN_APP_DIR, '.admin-build.json');
const ADMIN_TYPES_LINK = path.join(ROOT_DIR, 'admin', 'node_modules');
const LOCK_DIR = path.join(PACK_DIR, 'install.lock');
const ADMIN_LOCK_DIR = path.join(ROOT_DIR, '.pack', 'admin-build.lock');
const LOCK_WAIT_MS = 15 * 60 * 1000;

/** What an app folder is made of: copied from playground/ (node_modules is linked). */
const APP_ENTRIES = ['config', 'src', 'public', 'server.js', 'favicon.png'];

const readJson = (file) => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
};

const writeJson = (file, value) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
};

const sha256 = (...parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

const rootPackage = () => readJson(path.join(ROOT_DIR, 'package.json'));

export const pluginPackageName = () => rootPackage().name;

// npm passes its own settings to scripts as npm_* variables (npm_config_local_prefix among
// them, which would point a nested npm at the wrong project). Each npm run here reads the
// npmrc files itself instead.
const childEnv = () => {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && value !== undefined) env[key] = value;
  }
  return env;
};

const run = (command, args, { cwd, log, env = {} }) =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    log(`$ ${[command, ...args].join(' ')}   (in ${path.relative(ROOT_DIR, cwd) || '.'})`);
    const child = spawn(command, args, { cwd, env: { ...childEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) {
        log(`  done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        resolve(output);
      } else {
        reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}) in ${cwd}:\n${output}`));
      }
    });
  });

const pidAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

// The pid in the lock: a number, 0 while it is being written, null when the lock is gone.
const lockOwner = (lockDir) => {
  try {
    return Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8')) || 0;
  } catch (error) {
    return fs.existsSync(lockDir) ? 0 : null;
  }
};

const lockAgeBase = (lockDir) => {
  try {
    return fs.statSync(lockDir).mtimeMs;
  } catch {
    return 0;
  }
};

// One install at a time across processes (vitest workers, a demo, CI): mkdir is atomic.
const withLock = async (log, fn, lockDir = LOCK_DIR) => {
  const LOCK_DIR = lockDir;
  fs.mkdirSync(path.dirname(LOCK_DIR), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const owner = lockOwner(LOCK_DIR);
      // A dead owner, or one that died between mkdir and writing its pid, leaves a stale lock.
      if (owner === null || (owner === 0 && Date.now() - lockAgeBase(LOCK_DIR) > 30_000) || (owner > 0 && !pidAlive(owner))) {
        fs.rmSync(LOCK_DIR, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${LOCK_DIR} (held by pid ${owner || '?'})`, { cause: error });
      if (!announced) {
        log(`waiting for another install (pid ${owner || '?'}) to finish`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK_DIR, { recursive: true, force: true });
  }
};

const listFiles = (dir) => {
  if (!fs.existsSync(dir)) return [];
  const stat = fs.statSync(dir);
  if (stat.isFile()) return [dir];
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    out.push(...listFiles(path.join(dir, entry.name)));
  }
  return out;
};

// Everything the tarball is made from, except dist/ (which the build makes from these).
const packInputFiles = () => {
  const pkg = rootPackage();
  const named = [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsup.config.ts',
    'src',
    'admin',
    ...(pkg.files ?? []).filter((entry) => entry !== 'dist'),
  ];
  const extras = fs.readdirSync(ROOT_DIR).filter((name) => /^(readme|license|licence)/i.test(name));
  return [...new Set([...named, ...extras])].flatMap((entry) => listFiles(path.join(ROOT_DIR, entry))).sort();
};

const packInputsHash = (files) => {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(path.relative(ROOT_DIR, file));
    hash.update('\0');
    hash.update(fs.readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
};

// Every file that package.json's main/module/types/exports point at.
const exportTargets = (pkg) => {
  const out = [];
  const walk = (value) => {
    if (typeof value === 'string') out.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk([pkg.main, pkg.module, pkg.types, pkg.exports]);
  return out.filter((target) => !target.includes('*'));
};

const distNewerThan = (inputFiles) => {
  const distFiles = listFiles(path.join(ROOT_DIR, 'dist'));
  if (distFiles.length === 0) return false;
  // A build that failed half way leaves a fresh but incomplete dist/.
  if (!exportTargets(rootPackage()).every((target) => fs.existsSync(path.join(ROOT_DIR, target)))) return false;
  const oldestDist = Math.min(...distFiles.map((file) => fs.statSync(file).mtimeMs));
  const newestInput = Math.max(0, ...inputFiles.map((file) => fs.statSync(file).mtimeMs));
  return oldestDist >= newestInput;
};

const depsHash = () =>
  sha256(
    fs.readFileSync(path.join(PLAYGROUND_DIR, 'package.json')),
    fs.readFileSync(path.join(PLAYGROUND_DIR, 'package-lock.json')),
    // better-sqlite3 is a native addon built for one Node ABI.
    `${process.versions.modules}-${process.platform}-${process.arch}`,
  );

/**
 * Makes playground/node_modules match the committed lock, builds and packs this package and
 * installs the tarball into playground/node_modules. Each step is skipped when its inputs did
 * not change. Returns what was done.
 */
const defaultLog = (line) => console.error(`[playground] ${line}`);

// Strapi and friends, exactly as locked (the caller holds the install lock). Returns the stamp
// and whether `npm ci` ran.
const ensureDeps = async ({ force, log }) => {
  const wantDeps = depsHash();
  const stamp = readJson(INSTALL_STAMP);
  if (force || !stamp || stamp.depsHash !== wantDeps || !fs.existsSync(path.join(PLAYGROUND_MODULES, '@strapi', 'strapi'))) {
    await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PLAYGROUND_DIR, log });
    const fresh = { depsHash: wantDeps };
    writeJson(INSTALL_STAMP, fresh);
    return { stamp: fresh, npmCi: true };
  }
  return { stamp, npmCi: false };
};

// admin/node_modules -> playground/node_modules: the admin sources resolve '@strapi/strapi/admin',
// the design system and React from the one Strapi 5.54 install the build uses.
const linkAdminTypes = () => {
  if (!fs.existsSync(path.join(ROOT_DIR, 'admin'))) return;
  try {
    if (fs.realpathSync(ADMIN_TYPES_LINK) === fs.realpathSync(PLAYGROUND_MODULES)) return;
  } catch {
    // missing or dangling
  }
  fs.rmSync(ADMIN_TYPES_LINK, { recursive: true, force: true });
  fs.symlinkSync(path.relative(path.dirname(ADMIN_TYPES_LINK), PLAYGROUND_MODULES), ADMIN_TYPES_LINK, 'dir');
};

/** The playground's dependencies only (no build, no plugin), and the admin typecheck link. */
export async function deps({ force = false, log = defaultLog } = {}) {
  return withLock(log, async () => {
    const { npmCi } = await ensureDeps({ force, log });
    linkAdminTypes();
    if (!npmCi) log('dependencies up to date');
    return { npmCi };
  });
}

export async function install({ force = false, log = defaultLog } = {}) {
  return withLock(log, async () => {
    const started = Date.now();
    const did = { npmCi: false, build: false, pluginInstall: false };

    // 1. Strapi and friends, exactly as locked.
    const deps = await ensureDeps({ force, log });
    let stamp = deps.stamp;
    const npmCi = deps.npmCi;
    did.npmCi = npmCi;
    linkAdminTypes();

    // 2. The package as a user gets it: build, then `npm pack`.
    const inputFiles = packInputFiles();
    const inputs = packInputsHash(inputFiles);
    let packStamp = readJson(PACK_STAMP);
    const packFresh =
      !force &&
      packStamp &&
      packStamp.inputsHash === inputs &&
      fs.existsSync(path.join(PACK_DIR, packStamp.tarball)) &&
      fs.existsSync(path.join(ROOT_DIR, 'dist'));
    if (!packFresh) {
      // dist/ newer than every input (e.g. `npm test` just built it): pack it as it is rather
      // than rebuild (tsup's clean step would pull dist/ from under tests already running).
      if (force || !distNewerThan(inputFiles)) {
        if (!fs.existsSync(path.join(ROOT_DIR, 'node_modules'))) {
          throw new Error('the repository has no node_modules: run `npm ci` at its root first');
        }
        await run('npm', ['run', 'build'], { cwd: ROOT_DIR, log });
      } else {
        log('dist/ is newer than its sources: packing it without a rebuild');
      }
      for (const name of fs.readdirSync(PACK_DIR)) {
        if (name.endsWith('.tgz')) fs.rmSync(path.join(PACK_DIR, name));
      }
      // Scripts are skipped: the build above already ran, and a prepack hook must not run twice.
      const out = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', PACK_DIR], {
        cwd: ROOT_DIR,
        log,
      });
      const info = JSON.parse(out.slice(out.indexOf('[')));
      const tarball = info[0].filename.replace(/^@/, '').replace(/\//g, '-');
      const tarballSha = sha256(fs.readFileSync(path.join(PACK_DIR, tarball)));
      packStamp = { inputsHash: inputs, tarball, tarballSha, version: info[0].version, files: info[0].files.length };
      writeJson(PACK_STAMP, packStamp);
      did.build = true;
    }

    // 3. Install the tarball next to Strapi, without touching package.json or the lock.
    const installedPkg = readJson(path.join(PLAYGROUND_MODULES, ...pluginPackageName().split('/'), 'package.json'));
    if (force || stamp.pluginSha !== packStamp.tarballSha || !installedPkg || installedPkg.version !== packStamp.version) {
      await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', path.join(PACK_DIR, packStamp.tarball)], {
        cwd: PLAYGROUND_DIR,
        log,
      });
      stamp = { ...stamp, pluginSha: packStamp.tarballSha, tarball: packStamp.tarball };
      writeJson(INSTALL_STAMP, stamp);
      did.pluginInstall = true;
    }

    const ms = Date.now() - started;
    log(
      did.npmCi || did.build || did.pluginInstall
        ? `ready in ${(ms / 1000).toFixed(1)}s (npm ci: ${did.npmCi}, build+pack: ${did.build}, plugin install: ${did.pluginInstall})`
        : `up to date (${ms} ms)`,
    );
    return { ...did, ms, tarball: path.join(PACK_DIR, packStamp.tarball) };
  });
}

/**
 * Makes a bootable app folder at `dir`: a copy of the playground app whose package.json also
 * lists the plugin (Strapi reads the app's dependencies to find installed plugins), and a
 * `node_modules` symlink to playground/node_modules, where the plugin was installed.
 * The sqlite database lives inside `dir`, so each folder is independent.
 */
export function createAppDir(dir) {
  const pluginName = pluginPackageName();
  const installed = readJson(path.join(PLAYGROUND_MODULES, ...pluginName.split('/'), 'package.json'));
  if (!installed) {
    throw new Error(`${pluginName} is not installed in playground/node_modules: run \`node scripts/playground.mjs install\``);
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of APP_ENTRIES) {
    const target = path.join(dir, entry);
    fs.rmSync(target, { recursive: true, force: true });
    fs.cpSync(path.join(PLAYGROUND_DIR, entry), target, { recursive: true });
  }
  const pkg = readJson(path.join(PLAYGROUND_DIR, 'package.json'));
  pkg.dependencies = { ...pkg.dependencies, [pluginName]: installed.version };
  writeJson(path.join(dir, 'package.json'), pkg);
  const link = path.join(dir, 'node_modules');
  if (fs.existsSync(link) && fs.realpathSync(link) !== fs.realpathSync(PLAYGROUND_MODULES)) {
    fs.rmSync(link, { recursive: true, force: true });
  }
  if (!fs.existsSync(link)) fs.symlinkSync(PLAYGROUND_MODULES, link, 'dir');
  // The admin panel, once built: Strapi serves <dist dir>/build (server.js: dist dir = app dir)
  // when PLAYGROUND_SERVE_ADMIN=1. Without that variable the link is never read.
  const buildLink = path.join(dir, 'build');
  if (path.resolve(dir) !== ADMIN_APP_DIR && fs.existsSync(path.join(ADMIN_BUILD_DIR, 'index.html'))) {
    fs.rmSync(buildLink, { recursive: true, force: true });
    fs.symlinkSync(ADMIN_BUILD_DIR, buildLink, 'dir');
  }
  return dir;
}

// What `strapi build` reads, and nothing else, so that only a change to one of these rebuilds it:
// Strapi and its dependencies (the playground's lock), the plugin's admin side as installed (the
// `./strapi-admin` bundle, dist/admin, and the package.json fields that name it), the app's
// config/ (which plugins are enabled), src/admin/ and favicon, and STRAPI_ADMIN_* variables
// (Strapi bakes them into the bundle). Not the plugin's server code, nor the app's APIs or
// bootstrap: `npm run demo` after a change there reuses the build.
// (Exported with its folders as options for tests/demo/admin-build-key.test.ts.)
export const adminBuildInputs = ({
  depsHash = (readJson(INSTALL_STAMP) ?? {}).depsHash,
  pluginDir = path.join(PLAYGROUND_MODULES, ...pluginPackageName().split('/')),
  appDir = PLAYGROUND_DIR,
  env = process.env,
} = {}) => {
  const pluginPkg = readJson(path.join(pluginDir, 'package.json')) ?? {};
  const filesHash = (base, files) => sha256(...files.sort().flatMap((file) => [path.relative(base, file), '\0', fs.readFileSync(file), '\0']));
  const parts = {
    strapi: String(depsHash),
    pluginAdmin: sha256(
      JSON.stringify([pluginPkg.name, pluginPkg.strapi, pluginPkg.exports?.['./strapi-admin']]),
      filesHash(pluginDir, listFiles(path.join(pluginDir, 'dist', 'admin'))),
    ),
    app: filesHash(
      appDir,
      ['config', path.join('src', 'admin'), 'favicon.png'].flatMap((entry) => listFiles(path.join(appDir, entry))),
    ),
    env: sha256(
      JSON.stringify(
        Object.entries(env)
          .filter(([key]) => key.startsWith('STRAPI_ADMIN_'))
          .sort(),
      ),
    ),
  };
  return { inputsHash: sha256(JSON.stringify(parts)), parts };
};

/**
 * Installs (see install()), then builds the admin panel of the playground app with the plugin's
 * `./strapi-admin` in it: `strapi build` in ADMIN_APP_DIR, output in ADMIN_BUILD_DIR.
 * Skipped when nothing it is made from changed. App folders made afterwards link to the build.
 */
export async function buildAdmin({ force = false, log = defaultLog } = {}) {
  await install({ force, log });
  return withLock(
    log,
    async () => {
      const started = Date.now();
      const { inputsHash, parts } = adminBuildInputs();
      const stamp = readJson(ADMIN_STAMP);
      if (!force && stamp && stamp.inputsHash === inputsHash && fs.existsSync(path.join(ADMIN_BUILD_DIR, 'index.html'))) {
        log(`admin build up to date (${ADMIN_BUILD_DIR})`);
        return { built: false, ms: Date.now() - started, buildDir: ADMIN_BUILD_DIR };
      }
      const changed = stamp?.parts ? Object.keys(parts).filter((key) => stamp.parts[key] !== parts[key]) : [];
      const reason = force
        ? '--force'
        : !stamp
          ? 'no earlier build'
          : !stamp.parts
            ? 'the earlier build has no list of its inputs'
            : changed.length
              ? `changed: ${changed.join(', ')}`
              : 'no index.html';
      log(`building the admin panel (${reason})`);
      createAppDir(ADMIN_APP_DIR);
      fs.rmSync(ADMIN_STAMP, { force: true });
      const strapiBin = path.join(PLAYGROUND_MODULES, '@strapi', 'strapi', 'bin', 'strapi.js');
      await run(process.execPath, [strapiBin, 'build'], {
        cwd: ADMIN_APP_DIR,
        log,
        env: { NODE_ENV: 'production', STRAPI_TELEMETRY_DISABLED: 'true' },
      });
      if (!fs.existsSync(path.join(ADMIN_BUILD_DIR, 'index.html'))) {
        throw new Error(`strapi build finished without ${path.join(ADMIN_BUILD_DIR, 'index.html')}`);
      }
      writeJson(ADMIN_STAMP, { inputsHash, parts, builtAt: new Date().toISOString() });
      const ms = Date.now() - started;
      log(`admin built in ${(ms / 1000).toFixed(1)}s (${ADMIN_BUILD_DIR})`);
      return { built: true, ms, buildDir: ADMIN_BUILD_DIR };
    },
    ADMIN_LOCK_DIR,
  );
}

const main = async (argv) => {
  const [command, ...rest] = argv;
  switch (command) {
    case 'install':
      await install({ force: rest.includes('--force') });
      return;
    case 'deps':
      await deps({ force: rest.includes('--force') });
      return;
    case 'admin-build':
      await buildAdmin({ force: rest.includes('--force') });
      return;
    case 'app-dir': {
      const dir = rest[0];
      if (!dir) throw new Error('usage: playground.mjs app-dir <dir>');
      console.log(createAppDir(path.resolve(dir)));
      return;
    }
    default:
      console.error('usage: node scripts/playground.mjs install [--force] | deps | admin-build [--force] | app-dir <dir>');
      process.exitCode = 2;
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`[playground] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
