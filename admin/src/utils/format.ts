/** Human-readable numbers for the views. Pure functions (unit-testable without a browser). */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 -> "1.5 KiB"; null -> "—". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${BYTE_UNITS[unit]}`;
}

/** 93_784_000 -> "1d 2h 3m"; 4_200 -> "4.2 s"; 12 -> "12 ms". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalMinutes = Math.floor(ms / 60_000);
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const minutes = totalMinutes % 60;
  if (days > 0) return `${days}d ${hours}h ${minutes}m`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  const seconds = Math.floor((ms % 60_000) / 1000);
  return `${minutes}m ${seconds}s`;
}

/** A key's TTL: -1 (or any negative) is "no expiry". */
export function formatTtl(ttlMs: number): string {
  return ttlMs < 0 ? 'no expiry' : formatDuration(ttlMs);
}

/** 0.8765 -> "87.7%"; null -> "—". */
export function formatRatio(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `${(ratio * 100).toFixed(1)}%`;
}

/** 1234567 -> "1,234,567" (fixed locale: the tests read it back). */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US');
}

/** A ping: "0.4 ms", "12 ms", or "—" when it failed. */
export function formatPing(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** ISO time -> local "YYYY-MM-DD HH:MM:SS". */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A rate: 0.25 -> "0.25/s", 1234 -> "1,234/s", 12_345 -> "12.3k/s"; null -> "—". */
export function formatRate(perSec: number | null | undefined): string {
  if (perSec === null || perSec === undefined || !Number.isFinite(perSec)) return '—';
  if (perSec >= 10_000) return `${(perSec / 1000).toFixed(1)}k/s`;
  if (perSec >= 100) return `${Math.round(perSec).toLocaleString('en-US')}/s`;
  return `${Number(perSec.toFixed(2))}/s`;
}

/** Bytes per second: "1.5 KiB/s". */
export function formatByteRate(perSec: number | null | undefined): string {
  return perSec === null || perSec === undefined || !Number.isFinite(perSec) ? '—' : `${formatBytes(Math.round(perSec))}/s`;
}

/** A percentage already in 0..100 (CPU of one core may exceed 100): "12.5%". */
export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${value.toFixed(value >= 10 ? 0 : 1)}%`;
}

/** µs -> "850 µs", "12.3 ms", "1.2 s". */
export function formatMicros(us: number | null | undefined): string {
  if (us === null || us === undefined || !Number.isFinite(us)) return '—';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** A connection whose server stopped answering with its link up (a hung server): what the views print. */
export function formatUnanswered(unanswered: { forMs: number; timeoutMs: number } | undefined): string | null {
  if (!unanswered) return null;
  return `not answering: a command has waited ${formatDuration(unanswered.forMs)} (its bound ${formatDuration(unanswered.timeoutMs)}); commands fail at once until it answers`;
}
