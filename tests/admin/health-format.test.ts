/** The admin panel's formatting of the health, slow log and memory views (pure functions). */
import { describe, expect, it } from 'vitest';
import { formatByteRate, formatMicros, formatPercent, formatRate } from '../../admin/src/utils/format.js';

describe('health formats', () => {
  it('rates, byte rates, percentages and microseconds', () => {
    expect(formatRate(0.25)).toBe('0.25/s');
    expect(formatRate(42.456)).toBe('42.46/s');
    expect(formatRate(1234.4)).toBe('1,234/s');
    expect(formatRate(12_345)).toBe('12.3k/s');
    expect(formatRate(null)).toBe('—');
    expect(formatByteRate(1536)).toBe('1.5 KiB/s');
    expect(formatByteRate(undefined)).toBe('—');
    expect(formatPercent(3.14159)).toBe('3.1%');
    expect(formatPercent(123.4)).toBe('123%');
    expect(formatMicros(850)).toBe('850 µs');
    expect(formatMicros(1234)).toBe('1.23 ms');
    expect(formatMicros(200_400)).toBe('200.4 ms');
    expect(formatMicros(2_500_000)).toBe('2.50 s');
  });
});
