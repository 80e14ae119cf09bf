/**
 * The part of koa2-ratelimit 1.1.3 (CommonJS, untyped) the suite uses. Read from its
 * `src/index.js`, `src/Store.js` and `src/RateLimit.js`.
 */
declare module 'koa2-ratelimit' {
  /** Its abstract store: the constructor throws unless `incr`, `decrement` and `saveAbuse` exist. */
  class Store {
    constructor();
  }
  interface RateLimitInstance {
    readonly middleware: (ctx: unknown, next: () => Promise<unknown>) => Promise<unknown>;
  }
  const koa2RateLimit: {
    /** `src/RateLimit.js`'s exports (Strapi calls `require('koa2-ratelimit').RateLimit.middleware(options)`). */
    RateLimit: {
      RateLimit: { new (options?: Record<string, unknown>): RateLimitInstance; timeToMs(time: unknown): number };
      middleware(options?: Record<string, unknown>): (ctx: unknown, next: () => Promise<unknown>) => Promise<unknown>;
      defaultOptions(options?: Record<string, unknown>): void;
    };
    Stores: {
      Store: typeof Store;
      Memory: new () => Store;
    };
  };
  export = koa2RateLimit;
}
