/** Shared pieces of the rate-limit tests: a Koa app around the middleware, and small probes. */
import Koa from 'koa';
import request from 'supertest';
import type { Redis, Cluster } from 'ioredis';
import { rateLimit, type RateLimitOptions } from '../../src/middlewares/rate-limit/index.js';

export { request };

export interface TestAppOptions {
  /** Runs before the limiter (e.g. a fake authentication that sets ctx.state.user). */
  before?: Koa.Middleware;
  proxy?: boolean;
}

/**
 * A Koa app: the limiter, then a handler answering 200 "ok"; `/status/<code>` answers that status,
 * `/throw` throws (Koa answers 500).
 */
export function limitedApp(options: RateLimitOptions, app: TestAppOptions = {}): Koa {
  const koa = new Koa();
  koa.silent = true;
  if (app.proxy) koa.proxy = true;
  if (app.before) koa.use(app.before);
  koa.use(rateLimit(options));
  koa.use(async function handler(ctx) {
    if (ctx.path === '/throw') throw new Error('boom');
    const m = /^\/status\/(\d{3})$/.exec(ctx.path);
    ctx.status = m ? Number(m[1]) : 200;
    ctx.body = { ok: ctx.status < 400, rateLimit: ctx.state.rateLimit ?? null };
  });
  return koa;
}

/** Poll `check` until it returns true, at most `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function counterOf(client: Redis | Cluster, key: string): Promise<{ value: string | null; pttl: number }> {
  const [value, pttl] = await Promise.all([client.get(key), client.pttl(key)]);
  return { value, pttl };
}

/** The key the limiter uses for a request from 127.0.0.1 by IP. */
export const ipKey = (keyPrefix: string, prefixKey = 'global', ip = '127.0.0.1'): string => `${keyPrefix}${prefixKey}:ip:${ip}`;
