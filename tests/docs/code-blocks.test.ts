/**
 * Code blocks that cannot rot: every ```ts block of README.md and docs/*.md whose first line names
 * a config file (`// config/plugins.ts`, `// config/middlewares.ts`, `// config/admin.ts`,
 * `// config/server.ts`, `// config/cron-tasks.ts`, optionally followed by `: a note`) is a
 * complete config file. Each is
 *
 * 1. type-checked with the TypeScript compiler against the package's published types (the package
 *    name mapped to dist/index.d.ts, which `npm test` builds first), together, in one program;
 * 2. run: loaded as a module and its default export called with `{ env }`, then checked with the
 *    plugin's own validation: `redis.config` with the config validator, each `plugin::redis.*`
 *    middleware with its option parser, a `RedisRateLimitStore` where Strapi takes a store.
 *
 * No servers: nothing here connects (stores and caches resolve their connection on first use).
 * Blocks without such a first line are fragments and are not checked.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Koa from 'koa';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRateLimitStore } from '../../src/index.js';
import { collectConfigIssues } from '../../src/core/config.js';
import { resolveRateLimitOptions } from '../../src/middlewares/rate-limit/options.js';
import { resolveCacheOptions } from '../../src/middlewares/cache/options.js';
import { createRedisSession } from '../../src/session/middleware.js';
import { codeBlocks, docFiles, ROOT, type CodeBlock } from './markdown.js';

const MARKER = /^\/\/ config\/(plugins|middlewares|admin|server|cron-tasks)\.ts(:|$)/;
const OUT = path.join(ROOT, '.tmp', 'docs-blocks');
const PACKAGE_SOURCE = path.join(ROOT, 'src', 'index.js');
const PACKAGE_TYPES = path.join(ROOT, 'dist', 'index.d.ts');

interface ConfigBlock extends CodeBlock {
  kind: string;
  /** The block as a module that imports the package's source (run by vitest). */
  file: string;
  /** The block as a module that imports the package's built types (type-checked). */
  typed: string;
}

const blocks: ConfigBlock[] = docFiles().flatMap((doc) =>
  codeBlocks(doc)
    .filter((b) => b.lang === 'ts' && MARKER.test(b.firstLine))
    .map((b, i) => ({
      ...b,
      kind: MARKER.exec(b.firstLine)![1]!,
      file: path.join(OUT, `${doc.replace(/[/.]/g, '_')}_${i}.ts`),
      typed: path.join(OUT, `${doc.replace(/[/.]/g, '_')}_${i}.typed.ts`),
    })),
);

/** The package's name points at its source (to run) or its built types (to type-check), as in a user's app. */
const withPackage = (b: ConfigBlock, target: string): string => b.code.replace(/from 'strapi-plugin-redis-suite'/g, `from ${JSON.stringify(target)}`);

/** Strapi's `env()` for the blocks: a default when given, else a value for the variables the docs use. */
const ENV: Record<string, string> = { REDIS_URL: 'redis://127.0.0.1:6379', CACHE_URL: 'redis://127.0.0.1:6380', REDIS_PASSWORD: 'docs-password' };
function env(name: string, fallback?: unknown): unknown {
  if (fallback !== undefined) return fallback;
  if (name in ENV) return ENV[name];
  throw new Error(`the block reads env('${name}') with no default: add it to ENV in tests/docs/code-blocks.test.ts`);
}

/** Content types for the cache's rules: any `api::<name>.<name>` UID, as a collection type. */
const anyContentType = new Proxy({} as Record<string, { kind: string; info: { pluralName: string } } | undefined>, {
  get: (_t, uid) =>
    typeof uid === 'string' && uid.startsWith('api::') ? { kind: 'collectionType', info: { pluralName: `${uid.split('.').pop()}s` } } : undefined,
});

beforeAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  for (const b of blocks) {
    writeFileSync(b.file, withPackage(b, PACKAGE_SOURCE));
    writeFileSync(b.typed, withPackage(b, PACKAGE_TYPES.replace(/\.d\.ts$/, '.js')));
  }
});
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

describe('complete config blocks in README.md and docs/', () => {
  it('are found (the marker is their first line)', () => {
    expect(
      blocks.some((b) => b.where.startsWith('README.md:')),
      "the README's install config",
    ).toBe(true);
    expect(new Set(blocks.map((b) => b.kind))).toEqual(new Set(['plugins', 'middlewares', 'admin', 'server', 'cron-tasks']));
  });

  it('type-check against the package types', () => {
    expect(existsSync(PACKAGE_TYPES), `${PACKAGE_TYPES}: build the package first (npm run build; npm test does it)`).toBe(true);
    const program = ts.createProgram(
      blocks.map((b) => b.typed),
      {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true,
        // Strapi's config functions are untyped in a user's app: `({ env }) => ...`.
        noImplicitAny: false,
        esModuleInterop: true,
        skipLibCheck: true,
        noEmit: true,
        types: [],
      },
    );
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && blocks.some((b) => b.typed === d.file!.fileName))
      .map((d) => {
        const block = blocks.find((b) => b.typed === d.file!.fileName)!;
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${block.where} (line ${line + 1} of the block): ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(errors).toEqual([]);
  });

  for (const b of blocks) {
    it(`${b.where} (${b.firstLine}) runs and passes the plugin's validation`, async () => {
      const mod = (await import(b.file)) as { default: unknown };
      const exported = mod.default;
      const value = typeof exported === 'function' && b.kind !== 'cron-tasks' ? (exported as (a: unknown) => unknown)({ env }) : exported;
      switch (b.kind) {
        case 'plugins': {
          const plugins = value as Record<string, { config?: Record<string, unknown> }>;
          expect(collectConfigIssues(plugins.redis?.config)).toEqual([]);
          for (const name of ['users-permissions', 'email']) {
            const store = (plugins[name]?.config?.ratelimit as { store?: unknown } | undefined)?.store;
            if (store !== undefined) expect(store).toBeInstanceOf(RedisRateLimitStore);
          }
          break;
        }
        case 'middlewares': {
          expect(Array.isArray(value)).toBe(true);
          let checked = 0;
          for (const entry of value as unknown[]) {
            if (typeof entry === 'string') continue;
            const { name, config } = entry as { name: string; config?: unknown };
            if (name === 'plugin::redis.rateLimit') resolveRateLimitOptions(config, 'plugin::redis.rateLimit', 'config');
            else if (name === 'plugin::redis.cache')
              resolveCacheOptions(config, 'plugin::redis.cache', { contentTypes: anyContentType, keyHostDefault: false });
            else if (name === 'plugin::redis.session') createRedisSession(Object.assign(new Koa(), { keys: ['docs-key'] }), config as never);
            else continue;
            checked++;
          }
          expect(checked, 'a plugin::redis.* middleware in the block').toBeGreaterThan(0);
          break;
        }
        case 'admin': {
          const store = (value as { rateLimit?: { store?: unknown } }).rateLimit?.store;
          expect(store).toBeInstanceOf(RedisRateLimitStore);
          break;
        }
        case 'server':
          expect(value).toBeTypeOf('object');
          break;
        case 'cron-tasks':
          for (const task of Object.values(value as Record<string, { task?: unknown }>)) expect(task.task).toBeTypeOf('function');
          break;
      }
    });
  }
});
