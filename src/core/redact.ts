/**
 * Secret masking. Secrets (passwords, TLS private keys) never reach logs, errors or API output.
 * Values are masked by key name when rendering config, and known secret strings are scrubbed
 * from any free text (error messages, debug output) by `redactText`.
 */

export const MASK = '***';

/** Option names whose values are secrets, wherever they appear in a config tree. */
const SECRET_KEYS = new Set(['password', 'sentinelpassword', 'passphrase', 'key', 'pfx', 'token', 'secret']);

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase());
}

const knownSecrets = new Set<string>();

/** Remember secret strings so that `redactText` scrubs them from free text. */
export function registerSecret(value: unknown): void {
  if (typeof value === 'string' && value.length > 0) knownSecrets.add(value);
}

/** Collect and register every secret value in a config tree (by key name and in URLs). */
export function registerSecretsIn(value: unknown, seen = new Set<unknown>()): void {
  if (typeof value === 'string') {
    const pass = urlPassword(value);
    if (pass) registerSecret(pass);
    return;
  }
  if (!value || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const v of value) registerSecretsIn(v, seen);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (isSecretKey(k) && typeof v === 'string') registerSecret(v);
    else registerSecretsIn(v, seen);
  }
}

function urlPassword(value: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  try {
    const u = new URL(value);
    const pass = u.password ? decodeURIComponent(u.password) : '';
    return pass || undefined;
  } catch {
    return undefined;
  }
}

/** Mask the password of a URL (`redis://user:***@host:6379/0`). Non-URLs are returned unchanged. */
export function redactUrl(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_m, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    if (colon === -1) {
      // redis://secret@host: a lone userinfo part is the password for ioredis.
      return `${scheme}${auth ? MASK : ''}@`;
    }
    return `${scheme}${auth.slice(0, colon)}:${MASK}@`;
  });
}

/** Scrub every known secret (and URL passwords) from a piece of text. */
export function redactText(text: string): string {
  let out = text.replace(/[a-z][a-z0-9+.-]*:\/\/[^@\s/?#]*@/gi, (m) => redactUrl(m));
  for (const s of knownSecrets) {
    if (!out.includes(s)) continue;
    // Long secrets are scrubbed wherever they appear; short ones only as a whole token, so that a
    // two-letter password does not mangle every word that contains those letters.
    out = s.length >= 6 ? out.split(s).join(MASK) : out.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(s)}(?![A-Za-z0-9])`, 'g'), MASK);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A copy of a config value safe to print: secret keys masked, URL passwords masked, buffers summarised. */
export function redactValue(value: unknown, key?: string, seen = new Set<unknown>()): unknown {
  if (key !== undefined && isSecretKey(key) && value !== undefined && value !== null) return MASK;
  if (typeof value === 'string') return redactUrl(value);
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (!value || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, undefined, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, k, seen);
  return out;
}

/** Render a value for an error message: JSON-ish, secrets masked, with its type, length-bounded. */
export function describeValue(value: unknown, key?: string): string {
  if (value === undefined) return 'undefined';
  if (key !== undefined && isSecretKey(key) && value !== null) return `${MASK} (${typeOf(value)})`;
  const safe = redactValue(value, undefined);
  let text: string;
  try {
    text = typeof safe === 'string' ? JSON.stringify(safe) : (JSON.stringify(safe) ?? String(safe));
  } catch {
    text = String(safe);
  }
  if (text.length > 120) text = `${text.slice(0, 117)}...`;
  return `${text} (${typeOf(value)})`;
}

export function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Buffer.isBuffer(value)) return 'Buffer';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}
