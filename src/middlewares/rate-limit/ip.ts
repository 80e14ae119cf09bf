/**
 * Client addresses as rate-limit buckets. IPv4 stays the full address; IPv6 is cut to a prefix
 * (`ipv6Subnet`, default /56): one subscriber usually holds a /64 or more and can pick a fresh
 * address in it for every request, so a bucket per full IPv6 address limits nobody. IPv4-mapped
 * IPv6 (`::ffff:a.b.c.d`, also in hex) is the IPv4 it carries. Zone ids (`fe80::1%eth0`) are dropped.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Default prefix length IPv6 clients are bucketed by. */
export const DEFAULT_IPV6_SUBNET = 56;

/** The 8 16-bit groups of an IPv6 address (zone id dropped), or null when `text` is not one. */
export function parseIPv6(text: string): number[] | null {
  const zone = text.indexOf('%');
  if (zone === text.length - 1) return null; // an empty zone id
  const addr = zone === -1 ? text : text.slice(0, zone);
  if (!isIPv6(addr)) return null;
  const groupsOf = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const gap = addr.indexOf('::');
  if (gap === -1) return groupsOf(addr);
  const head = groupsOf(addr.slice(0, gap));
  const tail = groupsOf(addr.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** RFC 5952 text of 8 groups: lower-case hex, no leading zeros, the longest run of 2+ zero groups as `::`. */
export function formatIPv6(groups: readonly number[]): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt === -1) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** `groups` with every bit after the first `bits` cleared. */
export function maskIPv6(groups: readonly number[], bits: number): number[] {
  return groups.map((g, i) => {
    const keep = Math.min(16, Math.max(0, bits - 16 * i));
    return keep === 16 ? g : keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
}

/** The IPv4 address an IPv4-mapped IPv6 address (`::ffff:0:0/96`) carries, else null. */
function mappedIPv4(groups: readonly number[]): string | null {
  for (let i = 0; i < 5; i++) if (groups[i] !== 0) return null;
  if (groups[5] !== 0xffff) return null;
  const [hi, lo] = [groups[6]!, groups[7]!];
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/**
 * The bucket of a client address: IPv4 as is; IPv4-mapped IPv6 as its IPv4; other IPv6 as
 * `<prefix>/<subnet>` in canonical form (e.g. `2001:db8:1234:5600::/56`), or the canonical full
 * address when `subnet` is false or 128. Anything else (not an IP) is returned unchanged.
 */
export function ipBucket(ip: string, subnet: number | false): string {
  if (isIPv4(ip)) return ip;
  const groups = parseIPv6(ip);
  if (groups === null) return ip;
  const v4 = mappedIPv4(groups);
  if (v4 !== null) return v4;
  if (subnet === false || subnet >= 128) return formatIPv6(groups);
  return `${formatIPv6(maskIPv6(groups, subnet))}/${subnet}`;
}

/** The canonical text of a client address (IPv4-mapped as IPv4, IPv6 per RFC 5952), for whitelist matching. */
export function canonicalIp(ip: string): string {
  return ipBucket(ip, false);
}
