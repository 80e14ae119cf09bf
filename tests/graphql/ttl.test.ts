import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_TTL_MS, expiryMs } from '../../src/graphql/index.js';

describe('expiryMs: what PX a write gets', () => {
  const max = 60_000;
  it.each([
    ['a TTL in ms', 1500, 1500],
    ['Apollo 30 s, after KeyvAdapter made it ms', 30 * 1000, 30_000],
    ['fractions round to the nearest ms', 1500.4, 1500],
    ['at least 1 ms', 0.2, 1],
    ['capped at maxTtl', 3_600_000, max],
    ['Infinity is capped', Infinity, max],
    ['no TTL: maxTtl', undefined, max],
    ['null (Apollo: no expiry): maxTtl', null, max],
    ['0 (Apollo: no expiry): maxTtl', 0, max],
    ['NaN: maxTtl', NaN, max],
    ['negative: already expired, not written', -1000, null],
  ] as const)('%s', (_what, ttl, expected) => {
    expect(expiryMs(ttl, max)).toBe(expected);
  });

  it('the default maximum is 24 hours in ms', () => {
    expect(DEFAULT_MAX_TTL_MS).toBe(24 * 60 * 60 * 1000);
  });
});
