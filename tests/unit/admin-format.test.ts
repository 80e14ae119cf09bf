/**
 * The admin panel's number formatting (admin/src/utils/format.ts): what the views print for
 * bytes, durations, TTLs, ratios, counts and pings. Pure functions, no browser.
 */
import { describe, expect, it } from 'vitest';

import { formatBytes, formatCount, formatDuration, formatPing, formatRatio, formatTtl, formatUnanswered } from '../../admin/src/utils/format.js';

describe('admin panel formatting', () => {
  it('bytes in binary units, one decimal below 100', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1_048_576)).toBe('1.0 MiB');
    expect(formatBytes(150 * 1024 * 1024)).toBe('150 MiB');
    expect(formatBytes(null)).toBe('—');
  });

  it('durations from milliseconds to days', () => {
    expect(formatDuration(12)).toBe('12 ms');
    expect(formatDuration(4_200)).toBe('4.2 s');
    expect(formatDuration(3_599_000)).toBe('59m 59s');
    expect(formatDuration(3_600_000)).toBe('1h 0m');
    expect(formatDuration(93_784_000)).toBe('1d 2h 3m');
    expect(formatDuration(undefined)).toBe('—');
  });

  it('a negative TTL is no expiry', () => {
    expect(formatTtl(-1)).toBe('no expiry');
    expect(formatTtl(90_000)).toBe('1m 30s');
  });

  it('ratios, counts and pings', () => {
    expect(formatRatio(0.8766)).toBe('87.7%');
    expect(formatRatio(1)).toBe('100.0%');
    expect(formatRatio(null)).toBe('—');
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatPing(0.42)).toBe('0.4 ms');
    expect(formatPing(12.6)).toBe('13 ms');
    expect(formatPing(null)).toBe('—');
  });

  it('a hung server: how long its command has waited, against its bound', () => {
    expect(formatUnanswered({ forMs: 1834, timeoutMs: 250 })).toBe(
      'not answering: a command has waited 1.8 s (its bound 250 ms); commands fail at once until it answers',
    );
    expect(formatUnanswered(undefined)).toBeNull();
  });
});
