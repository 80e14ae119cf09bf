/**
 * The admin build's cache key (scripts/playground.mjs adminBuildInputs): `npm run demo` reuses the
 * admin build (`strapi build`, 1-3 minutes) until something `strapi build` reads changes. Checked
 * on a made-up installed plugin and app folder: a change to the plugin's server code, to the app's
 * APIs or bootstrap, or to the README keeps the key; a change to the plugin's admin bundle or the
 * package.json fields naming it, to the app's config/, src/admin/ or favicon, to Strapi's install,
 * or to a STRAPI_ADMIN_* variable changes it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../e2e/app.js';

interface KeyOptions {
  depsHash: string;
  pluginDir: string;
  appDir: string;
  env: Record<string, string | undefined>;
}
interface Key {
  inputsHash: string;
  parts: Record<'strapi' | 'pluginAdmin' | 'app' | 'env', string>;
}

let adminBuildInputs: (opts: KeyOptions) => Key;
let dir: string;
let opts: KeyOptions;

const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
};

beforeAll(async () => {
  ({ adminBuildInputs } = (await import(pathToFileURL(path.join(ROOT_DIR, 'scripts', 'playground.mjs')).href)) as {
    adminBuildInputs: typeof adminBuildInputs;
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-admin-key-'));
  const pluginDir = path.join(dir, 'node_modules', 'strapi-plugin-redis-suite');
  const appDir = path.join(dir, 'app');
  write(
    path.join(pluginDir, 'package.json'),
    JSON.stringify({
      name: 'strapi-plugin-redis-suite',
      version: '0.1.0',
      strapi: { kind: 'plugin', name: 'redis' },
      exports: { './strapi-admin': './dist/admin/index.mjs' },
    }),
  );
  write(path.join(pluginDir, 'README.md'), 'readme');
  write(path.join(pluginDir, 'dist', 'index.cjs'), 'server code');
  write(path.join(pluginDir, 'dist', 'admin', 'index.mjs'), 'admin code');
  write(path.join(pluginDir, 'dist', 'admin', 'App-1.mjs'), 'admin chunk');
  write(path.join(appDir, 'config', 'admin.js'), 'module.exports = {};');
  write(path.join(appDir, 'config', 'plugins.js'), 'module.exports = {};');
  write(path.join(appDir, 'src', 'index.js'), 'bootstrap');
  write(path.join(appDir, 'src', 'api', 'article', 'routes', 'article.js'), 'routes');
  write(path.join(appDir, 'favicon.png'), 'png');
  opts = { depsHash: 'lock-1', pluginDir, appDir, env: { PATH: '/usr/bin' } };
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The key before and after `change`, which is undone afterwards. */
function across(change: () => () => void, with_: Partial<KeyOptions> = {}): { before: Key; after: Key } {
  const before = adminBuildInputs(opts);
  const undo = change();
  try {
    return { before, after: adminBuildInputs({ ...opts, ...with_ }) };
  } finally {
    undo();
  }
}

const edit = (file: () => string, text: string) => () => {
  const target = file();
  const old = fs.existsSync(target) ? fs.readFileSync(target) : undefined;
  write(target, text);
  return () => (old === undefined ? fs.rmSync(target) : fs.writeFileSync(target, old));
};

describe('the admin build is reused until something strapi build reads changes', () => {
  it.each([
    ["the plugin's server code", () => path.join(opts.pluginDir, 'dist', 'index.cjs')],
    ["the plugin's README", () => path.join(opts.pluginDir, 'README.md')],
    ["the app's bootstrap", () => path.join(opts.appDir, 'src', 'index.js')],
    ["an app API's routes", () => path.join(opts.appDir, 'src', 'api', 'article', 'routes', 'article.js')],
    ['a new app API', () => path.join(opts.appDir, 'src', 'api', 'demo', 'routes', 'demo.js')],
  ])('%s: same key', (_what, file) => {
    const { before, after } = across(edit(file, 'changed'));
    expect(after.inputsHash).toBe(before.inputsHash);
  });

  it.each([
    ["the plugin's admin bundle", 'pluginAdmin', () => path.join(opts.pluginDir, 'dist', 'admin', 'index.mjs')],
    ["a new chunk of the plugin's admin", 'pluginAdmin', () => path.join(opts.pluginDir, 'dist', 'admin', 'App-2.mjs')],
    ["the app's config/admin.js", 'app', () => path.join(opts.appDir, 'config', 'admin.js')],
    ["the app's config/plugins.js (which plugins are built in)", 'app', () => path.join(opts.appDir, 'config', 'plugins.js')],
    ["the app's src/admin (admin customisation)", 'app', () => path.join(opts.appDir, 'src', 'admin', 'app.js')],
    ["the app's favicon", 'app', () => path.join(opts.appDir, 'favicon.png')],
  ] as const)('%s: a new key (%s changed)', (_what, part, file) => {
    const { before, after } = across(edit(file, 'changed'));
    expect(after.inputsHash).not.toBe(before.inputsHash);
    expect(Object.keys(after.parts).filter((k) => after.parts[k as keyof Key['parts']] !== before.parts[k as keyof Key['parts']])).toEqual([part]);
  });

  it("the package.json field that names the admin entry: a new key; the plugin's version: same key", () => {
    const pkgFile = path.join(opts.pluginDir, 'package.json');
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
    const entry = across(edit(() => pkgFile, JSON.stringify({ ...pkg, exports: { './strapi-admin': './dist/admin/other.mjs' } })));
    expect(entry.after.parts.pluginAdmin).not.toBe(entry.before.parts.pluginAdmin);
    const version = across(edit(() => pkgFile, JSON.stringify({ ...pkg, version: '0.2.0' })));
    expect(version.after.inputsHash).toBe(version.before.inputsHash);
  });

  it("Strapi's install (the playground's lock) and STRAPI_ADMIN_* variables: a new key; other variables: same key", () => {
    const none = () => () => undefined;
    expect(across(none, { depsHash: 'lock-2' }).after.parts.strapi).not.toBe(adminBuildInputs(opts).parts.strapi);
    const adminVar = across(none, { env: { ...opts.env, STRAPI_ADMIN_BACKEND_URL: 'https://cms.example.com' } });
    expect(adminVar.after.parts.env).not.toBe(adminVar.before.parts.env);
    expect(across(none, { env: { ...opts.env, REDIS_URL: 'redis://elsewhere' } }).after.inputsHash).toBe(adminBuildInputs(opts).inputsHash);
  });
});
