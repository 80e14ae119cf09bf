/**
 * Every Lua script of the suite is Cluster-safe by construction: it touches only keys it was given
 * in KEYS, its header names each of them (and ARGV and the return value), and it is loaded with
 * the number of keys its header declares. Static checks over every `src/**\/*.lua` file, plus the
 * loader run against the shared standalone server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defineScript, definedScripts } from '../../src/core/script.js';
import { randomPrefix } from '../harness/servers.js';
// Importing the public API loads every module, so every script the suite defines is registered.
import '../../src/index.js';

const SRC = join(__dirname, '..', '..', 'src');

function luaFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? luaFiles(join(dir, e.name)) : e.name.endsWith('.lua') ? [join(dir, e.name)] : [],
  );
}

/** Redis commands whose first argument is not a key (everything else a script calls takes a key first). */
const KEYLESS = new Set(['TIME', 'PING', 'ECHO', 'INFO', 'DBSIZE', 'RANDOMKEY', 'SCRIPT', 'CLUSTER']);

/** Names bound to keys: `KEYS[i]` itself, `local x = KEYS[i]`, and `for _, x in ipairs(KEYS)`. */
function keyNames(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(/local\s+(\w+)\s*=\s*KEYS\[[^\]]+\]/g)) names.add(m[1]!);
  for (const m of source.matchAll(/for\s+\w+\s*,\s*(\w+)\s+in\s+ipairs\(KEYS\)/g)) names.add(m[1]!);
  return names;
}

const files = luaFiles(SRC);

describe('Lua scripts', () => {
  it('there are scripts, each loaded once through defineScript', () => {
    expect(files.length).toBeGreaterThan(0);
    const names = definedScripts().map((s) => s.name);
    for (const file of files) {
      const name = file
        .split('/')
        .pop()!
        .replace(/\.lua$/, '');
      expect(names, `${relative(SRC, file)} is not loaded with defineScript('${name}', ...)`).toContain(name);
    }
  });

  for (const file of files) {
    const rel = relative(SRC, file);
    const source = readFileSync(file, 'utf8');
    const header = source
      .split('\n')
      .filter((l) => l.startsWith('--'))
      .join('\n');
    const body = source
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('--'))
      .join('\n');

    it(`${rel}: the header names KEYS, ARGV (when used) and the return value`, () => {
      expect(header, 'a "Returns" line').toMatch(/^--\s+Returns\b/m);
      for (const m of body.matchAll(/\bKEYS\[(\d+)\]/g)) expect(header, `KEYS[${m[1]}] in the header`).toMatch(new RegExp(`^--\\s+KEYS\\[${m[1]}\\]`, 'm'));
      if (/\bKEYS\b(?!\[)/.test(body)) expect(header, 'a header line for the KEYS list').toMatch(/^--\s+KEYS\b/m);
      if (/\bARGV\b/.test(body)) expect(header, 'ARGV in the header').toMatch(/^--\s+ARGV\b/m);
    });

    it(`${rel}: every command touches only keys given in KEYS`, () => {
      const bound = keyNames(body);
      const calls = [...body.matchAll(/redis\.p?call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?/g)];
      expect(calls.length, 'the script calls Redis').toBeGreaterThan(0);
      for (const [call, command, firstArg] of calls) {
        if (KEYLESS.has(command!.toUpperCase())) continue;
        const arg = (firstArg ?? '').trim();
        const ok = /^KEYS\[[^\]]+\]$/.test(arg) || bound.has(arg);
        expect(ok, `${call.trim()}: the key must be KEYS[i] or a name bound to KEYS`).toBe(true);
      }
    });

    it(`${rel}: loaded with as many keys as its header declares`, () => {
      const name = file
        .split('/')
        .pop()!
        .replace(/\.lua$/, '');
      const script = definedScripts().find((s) => s.name === name)!;
      const declared = new Set([...header.matchAll(/^--\s+KEYS\[(\d+)\]/gm)].map((m) => m[1]));
      if (/^--\s+KEYS\s/m.test(header)) expect(script.numberOfKeys, 'a variable number of keys is -1').toBe(-1);
      else expect(script.numberOfKeys).toBe(declared.size);
    });
  }
});

describe('defineScript on a real server', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(inject('redis').standalone.url);
  });
  afterAll(async () => {
    await client.quit();
  });

  it('runs a script under a versioned command name, and rejects a wrong key count', async () => {
    const key = `${randomPrefix('lua')}k`;
    const echo = defineScript<[value: string], string>(
      'test-echo',
      "-- KEYS[1] k\n-- ARGV[1] v\n-- Returns v\nredis.call('SET', KEYS[1], ARGV[1])\nreturn redis.call('GET', KEYS[1])",
      1,
    );
    expect(echo.command).toMatch(/^redisSuite_test_echo_[0-9a-f]{8}$/);
    expect(await echo.run(client, [key], 'hello')).toBe('hello');
    expect(await echo.run(client, [key], 'again')).toBe('again');
    await expect(echo.run(client, [key, key], 'x')).rejects.toThrow(/takes 1 key/);
    await client.del(key);
  });

  it('a variable number of keys is passed as a count', async () => {
    const p = randomPrefix('lua');
    const count = defineScript<[], number>(
      'test-count',
      "-- KEYS the keys\n-- Returns how many exist\nlocal n = 0\nfor _, key in ipairs(KEYS) do n = n + redis.call('EXISTS', key) end\nreturn n",
      -1,
    );
    await client.set(`${p}a`, '1');
    expect(await count.run(client, [`${p}a`, `${p}b`])).toBe(1);
    await client.del(`${p}a`);
  });
});
