/**
 * The one way the suite runs Lua: each script is a `.lua` file next to the code that uses it, with
 * a header naming its KEYS, ARGV and return value; the build bundles it as text (tsup/esbuild's
 * `text` loader, vitest's `lua-as-text` plugin). `defineScript` turns it into a typed script that
 * registers itself on a client with ioredis `defineCommand`, once per client, under a versioned
 * name (`redisSuite_<name>_<first 8 hex of the source's SHA-1>`): a changed script gets a new
 * name, so two versions of the suite sharing a client never mix them up. ioredis sends EVALSHA and
 * falls back to EVAL when the server does not have the script yet.
 *
 * Cluster: a script may only touch keys it is given in KEYS (a test checks every script for it),
 * and a script with several keys needs them in one hash slot.
 */
import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './client.js';

/** A script with its argument and reply types. */
export interface Script<Args extends readonly unknown[], Reply> {
  /** The file's name without `.lua`, e.g. `rate-limit-hit`. */
  readonly name: string;
  /** The versioned command name it is defined under on each client. */
  readonly command: string;
  readonly numberOfKeys: number;
  readonly source: string;
  /** Run it: `keys` (exactly `numberOfKeys`) then `args`. Defines the command on `client` on first use. */
  run(client: RedisClient, keys: readonly string[], ...args: Args): Promise<Reply>;
  /** Queue it on `pipeline` (made from a client it is loaded on, see `load`): for batches (src/core/turn.ts). */
  queue(pipeline: ChainableCommander, keys: readonly string[], ...args: Args): void;
  /** Define the command on `client` now (idempotent), e.g. in a factory, so the first request does not. */
  load(client: RedisClient): void;
}

/** Every script defined so far, by name (the key-declaration test reads it). */
const defined = new Map<string, Script<readonly unknown[], unknown>>();

/** The scripts the suite has defined (loaded modules only). */
export function definedScripts(): ReadonlyArray<Script<readonly unknown[], unknown>> {
  return [...defined.values()];
}

type Callable = (...args: unknown[]) => Promise<unknown>;

/**
 * Define a script from a `.lua` file's text. `numberOfKeys` must match the header's KEYS; a
 * variable number of keys is `-1` (the caller passes the count as the first key argument, as
 * ioredis does for `numberOfKeys: null`).
 */
export function defineScript<Args extends readonly unknown[], Reply>(name: string, source: string, numberOfKeys: number): Script<Args, Reply> {
  const existing = defined.get(name);
  if (existing && existing.source !== source) throw new Error(`Lua script "${name}" is defined twice with different sources`);
  const version = createHash('sha1').update(source).digest('hex').slice(0, 8);
  const command = `redisSuite_${name.replace(/[^A-Za-z0-9]/g, '_')}_${version}`;
  const variable = numberOfKeys < 0;
  const loaded = new WeakSet<object>();
  const load = (client: RedisClient): void => {
    if (loaded.has(client)) return;
    if (typeof (client as unknown as Record<string, unknown>)[command] !== 'function') {
      client.defineCommand(command, variable ? { lua: source } : { numberOfKeys, lua: source });
    }
    loaded.add(client);
  };
  const script: Script<Args, Reply> = {
    name,
    command,
    numberOfKeys,
    source,
    load,
    run(client, keys, ...args) {
      if (!variable && keys.length !== numberOfKeys) {
        return Promise.reject(new TypeError(`Lua script "${name}" takes ${numberOfKeys} key(s), got ${keys.length}`));
      }
      load(client);
      const fn = (client as unknown as Record<string, Callable>)[command]!;
      return (variable ? fn.call(client, keys.length, ...keys, ...args) : fn.call(client, ...keys, ...args)) as Promise<Reply>;
    },
    queue(pipeline, keys, ...args) {
      if (!variable && keys.length !== numberOfKeys) throw new TypeError(`Lua script "${name}" takes ${numberOfKeys} key(s), got ${keys.length}`);
      // A pipeline copies the commands of its client when it is made.
      const fn = (pipeline as unknown as Record<string, Callable | undefined>)[command];
      if (typeof fn !== 'function') throw new Error(`Lua script "${name}" is not loaded on the client this pipeline was made from`);
      void (variable ? fn.call(pipeline, keys.length, ...keys, ...args) : fn.call(pipeline, ...keys, ...args));
    },
  };
  defined.set(name, script as Script<readonly unknown[], unknown>);
  return script;
}
