/**
 * Type tests of the packed package, as a TypeScript Strapi app sees it: compiled with tsc against
 * the playground's node_modules (Strapi 5.54's @strapi/types, the installed tarball).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR, ensurePlaygroundInstalled } from '../e2e/app.js';

const run = promisify(execFile);
const tsc = path.join(ROOT_DIR, 'node_modules', '.bin', 'tsc');

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
}, 600_000);

async function compile(files: Record<string, string>, moduleResolution: 'node' | 'nodenext' | 'bundler'): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-suite-types-'));
  try {
    symlinkSync(path.join(ROOT_DIR, 'playground', 'node_modules'), path.join(dir, 'node_modules'));
    const module = moduleResolution === 'node' ? 'commonjs' : moduleResolution === 'bundler' ? 'esnext' : 'nodenext';
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, module, moduleResolution, types: [] }, files: Object.keys(files) }),
    );
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    const out = await run(tsc, ['-p', dir]).then(
      () => '',
      (e: { stdout?: string }) => e.stdout ?? String(e),
    );
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const APP = `/// <reference types="strapi-plugin-redis-suite/strapi-types" />
import type { Core } from '@strapi/strapi';
import { createRedisRegistry, type RedisClient } from 'strapi-plugin-redis-suite';
declare const strapi: Core.Strapi;
export const client: RedisClient | undefined = strapi.redis.connections.cache?.client;
export const frozen: boolean = strapi.redis.config.settings.enableRedlock;
export const reg = createRedisRegistry({ connections: { a: { connection: 'redis://127.0.0.1:6379' } } });
`;

describe('types for a TypeScript Strapi app', () => {
  it.each(['node', 'nodenext', 'bundler'] as const)(
    'strapi.redis is typed (moduleResolution %s)',
    async (mode) => {
      expect(await compile({ 'app.ts': APP }, mode)).toBe('');
    },
    60_000,
  );

  it('misuse is a type error', async () => {
    const out = await compile(
      {
        'bad.ts': `/// <reference types="strapi-plugin-redis-suite/strapi-types" />
import type { Core } from '@strapi/strapi';
import { createRedisRegistry } from 'strapi-plugin-redis-suite';
declare const strapi: Core.Strapi;
export const n: number = strapi.redis.connections.cache!.client.status;
createRedisRegistry({ connections: { a: { connection: 42 } } });
`,
      },
      'node',
    );
    expect(out).toMatch(/bad\.ts\(5,.*TS2322/);
    expect(out).toMatch(/bad\.ts\(6,.*TS2322/);
  }, 60_000);
});
