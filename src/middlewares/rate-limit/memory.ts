/**
 * A bounded in-process map of entries that expire: the limiter's `onError: 'memory'` counters and
 * its `inMemoryBlock` list. At most `maxKeys` entries (the least recently used is dropped first),
 * expired entries are dropped when read and by a sweep timer that runs only while the map holds
 * something and never keeps the process alive (`unref`).
 */
import { now } from '../../core/time.js';

export interface Expiring {
  /** When the entry expires, on the `now()` clock (ms). */
  expiresAt: number;
}

export class ExpiringLru<V extends Expiring> {
  readonly maxKeys: number;
  readonly sweepEveryMs: number;
  #map = new Map<string, V>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(maxKeys: number, sweepEveryMs: number) {
    this.maxKeys = maxKeys;
    this.sweepEveryMs = Math.max(1, Math.ceil(sweepEveryMs));
  }

  get size(): number {
    return this.#map.size;
  }

  /** True while the sweep timer runs (only while entries are held). */
  get sweeping(): boolean {
    return this.#timer !== undefined;
  }

  /** The live entry of `key` (marked as the most recently used), or undefined. */
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    this.#map.delete(key);
    if (v.expiresAt <= now()) {
      this.#idle();
      return undefined;
    }
    this.#map.set(key, v);
    return v;
  }

  /** Store `value` as the most recently used entry, dropping the least recently used ones over `maxKeys`. */
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.maxKeys) {
      for (const k of this.#map.keys()) {
        this.#map.delete(k);
        if (this.#map.size <= this.maxKeys) break;
      }
    }
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.sweep(), this.sweepEveryMs);
      this.#timer.unref?.();
    }
  }

  delete(key: string): void {
    this.#map.delete(key);
    this.#idle();
  }

  clear(): void {
    this.#map.clear();
    this.#idle();
  }

  /** Drop every expired entry (the timer calls it; cheap enough to call by hand). */
  sweep(): void {
    const t = now();
    for (const [k, v] of this.#map) if (v.expiresAt <= t) this.#map.delete(k);
    this.#idle();
  }

  /** Stop the timer once nothing is held. */
  #idle(): void {
    if (this.#map.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
