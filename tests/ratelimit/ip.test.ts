/**
 * Client addresses as buckets (issue #13 item 9): IPv6 by prefix (`ipv6Subnet`, default /56), so a
 * client cannot escape its limit by rotating addresses inside its /64; IPv4 unchanged; IPv4-mapped
 * IPv6 as IPv4. The mask function on its own, then through Koa behind a trusted proxy.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { rateLimit, RateLimitConfigError, type RateLimitOptions } from '../../src/middlewares/rate-limit/index.js';
import { canonicalIp, formatIPv6, ipBucket, maskIPv6, parseIPv6 } from '../../src/middlewares/rate-limit/ip.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { counterOf, ipKey, limitedApp, request } from './helpers.js';

const redis = inject('redis');
let registry: RedisRegistry;
let client: Redis;

beforeAll(async () => {
  registry = createRedisRegistry({ connections: { default: { connection: redis.standalone.url } } }, { logger: captureLogger() });
  await registry.waitUntilReady();
  client = registry.client('default') as Redis;
});
afterAll(async () => {
  await registry?.close();
});

describe('the mask function', () => {
  it('parses every textual form of IPv6 into 8 groups (compressed, expanded, upper case, dotted tail, zone id)', () => {
    expect(parseIPv6('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('2001:DB8::8:800:200C:417A')).toEqual([0x2001, 0xdb8, 0, 0, 0x8, 0x800, 0x200c, 0x417a]);
    expect(parseIPv6('2001:0db8:0000:0000:0000:ff00:0042:8329')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329]);
    expect(parseIPv6('::ffff:192.0.2.128')).toEqual([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280]);
    expect(parseIPv6('64:ff9b::198.51.100.7')).toEqual([0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x6407]);
    expect(parseIPv6('fe80::1%eth0')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('fe80::1%25')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    for (const bad of ['', '1.2.3.4', 'unknown', '2001:db8::1::2', '2001:db8:::1', '12345::', 'fe80::1%', '%eth0', '1:2:3:4:5:6:7:8:9']) {
      expect(parseIPv6(bad), bad).toBeNull();
    }
  });

  it('formats per RFC 5952: lower case, no leading zeros, the longest zero run (the first of equal ones) as ::, a single zero group kept', () => {
    expect(formatIPv6([0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329])).toBe('2001:db8::ff00:42:8329');
    expect(formatIPv6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1])).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIPv6([0x2001, 0, 0, 1, 0, 0, 0, 1])).toBe('2001:0:0:1::1');
    expect(formatIPv6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])).toBe('2001:db8::1:0:0:1');
    expect(formatIPv6([0, 0, 0, 0, 0, 0, 0, 0])).toBe('::');
    expect(formatIPv6([0, 0, 0, 0, 0, 0, 0, 1])).toBe('::1');
    expect(formatIPv6([1, 0, 0, 0, 0, 0, 0, 0])).toBe('1::');
  });

  it('masks to any prefix length, inside a group too', () => {
    const g = parseIPv6('2001:db8:abcd:12ff:ffff:ffff:ffff:ffff')!;
    expect(formatIPv6(maskIPv6(g, 64))).toBe('2001:db8:abcd:12ff::');
    expect(formatIPv6(maskIPv6(g, 56))).toBe('2001:db8:abcd:1200::');
    expect(formatIPv6(maskIPv6(g, 52))).toBe('2001:db8:abcd:1000::');
    expect(formatIPv6(maskIPv6(g, 48))).toBe('2001:db8:abcd::');
    expect(formatIPv6(maskIPv6(g, 1))).toBe('::');
    expect(formatIPv6(maskIPv6(parseIPv6('ffff::')!, 1))).toBe('8000::');
    expect(formatIPv6(maskIPv6(g, 127))).toBe('2001:db8:abcd:12ff:ffff:ffff:ffff:fffe');
    expect(formatIPv6(maskIPv6(g, 128))).toBe('2001:db8:abcd:12ff:ffff:ffff:ffff:ffff');
  });

  it('buckets: IPv4 unchanged, IPv4-mapped (dotted or hex) as IPv4, IPv6 as <prefix>/<len>, anything else unchanged', () => {
    expect(ipBucket('203.0.113.9', 56)).toBe('203.0.113.9');
    expect(ipBucket('::ffff:203.0.113.9', 56)).toBe('203.0.113.9');
    expect(ipBucket('::FFFF:cb00:7109', 56)).toBe('203.0.113.9');
    expect(ipBucket('::ffff:203.0.113.9', false)).toBe('203.0.113.9');
    expect(ipBucket('2001:db8:1234:5678:9abc:def0:1234:5678', 56)).toBe('2001:db8:1234:5600::/56');
    expect(ipBucket('2001:db8:1234:5678:9abc:def0:1234:5678', 64)).toBe('2001:db8:1234:5678::/64');
    expect(ipBucket('2001:DB8:1234:56FF::1', 56)).toBe('2001:db8:1234:5600::/56');
    expect(ipBucket('fe80::1%eth0', 56)).toBe('fe80::/56');
    expect(ipBucket('fe80::1%eth0', false)).toBe('fe80::1');
    expect(ipBucket('::1', 56)).toBe('::/56');
    expect(ipBucket('2001:0DB8:0:0::1', false)).toBe('2001:db8::1');
    expect(ipBucket('2001:0DB8:0:0::1', 128)).toBe('2001:db8::1');
    expect(ipBucket('unknown', 56)).toBe('unknown');
    expect(ipBucket('', 56)).toBe('');
    expect(canonicalIp('2001:DB8:0::1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
  });

  it('two addresses of one /56 share a bucket; a /48 neighbour outside that /56 does not', () => {
    const a = ipBucket('2001:db8:1234:5600::1', 56);
    expect(ipBucket('2001:db8:1234:56ff:ffff:ffff:ffff:ffff', 56)).toBe(a);
    expect(ipBucket('2001:db8:1234:5601:a:b:c:d', 56)).toBe(a);
    expect(ipBucket('2001:db8:1234:5700::1', 56)).not.toBe(a); // same /48, next /56
    expect(ipBucket('2001:db8:1234:55ff::1', 56)).not.toBe(a);
  });
});

describe('through the middleware (behind a trusted proxy, X-Forwarded-For)', () => {
  const agentOf = (options: Partial<RateLimitOptions>) => request(limitedApp({ registry, max: 2, interval: 60_000, ...options }, { proxy: true }).callback());

  it('IPv6 rotating inside its /56 stays in one bucket (default ipv6Subnet 56); the next /56 has its own', async () => {
    const keyPrefix = randomPrefix('rli');
    const agent = agentOf({ keyPrefix });
    await agent.get('/').set('X-Forwarded-For', '2001:db8:1234:5600::1').expect(200);
    await agent.get('/').set('X-Forwarded-For', '2001:db8:1234:5601:dead:beef:0:1').expect(200);
    const third = await agent.get('/').set('X-Forwarded-For', '2001:db8:1234:56ff:ffff:ffff:ffff:fffe').expect(429);
    expect(third.body).toEqual({ message: 'Too many requests, please try again later.' });
    await agent.get('/').set('X-Forwarded-For', '2001:db8:1234:5700::1').expect(200); // the /48 neighbour
    expect((await counterOf(client, ipKey(keyPrefix, 'global', '2001:db8:1234:5600::/56'))).value).toBe('3');
    expect((await counterOf(client, ipKey(keyPrefix, 'global', '2001:db8:1234:5700::/56'))).value).toBe('1');
  });

  it('ipv6Subnet: 64 buckets by /64; false by the full address (its canonical form: upper case and expanded forms are one client)', async () => {
    const k64 = randomPrefix('rli');
    const by64 = agentOf({ keyPrefix: k64, ipv6Subnet: 64 });
    await by64.get('/').set('X-Forwarded-For', '2001:db8:1:2::a').expect(200);
    await by64.get('/').set('X-Forwarded-For', '2001:db8:1:3::a').expect(200); // another /64
    expect(await client.exists(ipKey(k64, 'global', '2001:db8:1:2::/64'), ipKey(k64, 'global', '2001:db8:1:3::/64'))).toBe(2);

    const kFull = randomPrefix('rli');
    const full = agentOf({ keyPrefix: kFull, ipv6Subnet: false });
    await full.get('/').set('X-Forwarded-For', '2001:db8::1').expect(200);
    await full.get('/').set('X-Forwarded-For', '2001:DB8:0:0:0:0:0:1').expect(200);
    await full.get('/').set('X-Forwarded-For', '2001:0db8::0001').expect(429);
    await full.get('/').set('X-Forwarded-For', '2001:db8::2').expect(200); // its neighbour has its own bucket
    expect((await counterOf(client, ipKey(kFull, 'global', '2001:db8::1'))).value).toBe('3');
  });

  it('IPv4 is unchanged, and IPv4-mapped IPv6 is the same client as its IPv4', async () => {
    const keyPrefix = randomPrefix('rli');
    const agent = agentOf({ keyPrefix });
    await agent.get('/').set('X-Forwarded-For', '198.51.100.7').expect(200);
    await agent.get('/').set('X-Forwarded-For', '::ffff:198.51.100.7').expect(200);
    await agent.get('/').set('X-Forwarded-For', '::ffff:c633:6407').expect(429);
    await agent.get('/').set('X-Forwarded-For', '198.51.100.8').expect(200);
    expect((await counterOf(client, ipKey(keyPrefix, 'global', '198.51.100.7'))).value).toBe('3');
  });

  it('whitelist matches an IPv6 address in any textual form', async () => {
    const keyPrefix = randomPrefix('rli');
    const agent = agentOf({ keyPrefix, max: 1, whitelist: ['2001:DB8::1'] });
    for (let i = 0; i < 3; i++) await agent.get('/').set('X-Forwarded-For', '2001:db8::1').expect(200);
    expect(await client.exists(ipKey(keyPrefix, 'global', '2001:db8::/56'))).toBe(0);
    // a neighbour in the same /56 is counted (the whitelist names addresses, not buckets)
    await agent.get('/').set('X-Forwarded-For', '2001:db8::2').expect(200);
    await agent.get('/').set('X-Forwarded-For', '2001:db8::2').expect(429);
  });

  it('ipv6Subnet must be an integer from 1 to 128, or false', () => {
    for (const bad of [0, 129, 56.5, -1, true, '56', null]) {
      let err: unknown;
      try {
        rateLimit({ registry, ipv6Subnet: bad as never });
      } catch (e) {
        err = e;
      }
      expect(err, String(bad)).toBeInstanceOf(RateLimitConfigError);
      expect((err as RateLimitConfigError).issues.map((i) => i.path)).toEqual(['options.ipv6Subnet']);
      expect((err as Error).message).toMatch(
        /options\.ipv6Subnet: got .*; expected an integer from 1 to 128 \(the IPv6 prefix length a bucket covers\), or false/,
      );
    }
    for (const good of [1, 48, 56, 64, 128, false] as const) {
      expect(() => rateLimit({ registry, keyPrefix: randomPrefix('rli'), ipv6Subnet: good })).not.toThrow();
    }
  });
});
