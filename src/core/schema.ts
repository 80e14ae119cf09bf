/**
 * The one way the suite describes and checks an option set: a zod schema built from the small
 * builders below, read by `parseOptions` / `collectIssues`, which turn zod's issues into the
 * suite's `ConfigIssue`s: the config path (`redis.connections.cache.connection.port`), the value
 * (secrets masked by `redact.ts`), what is expected there, and for an unknown key a "did you mean".
 *
 * Why zod (its v4 API, from the `zod/v4` entry of zod 3.25) and not valibot:
 * - koa-session 7, a dependency already, depends on zod 3.25: declaring `zod@^3.25.76` dedupes
 *   with it, so the suite adds nothing to an install (`npm ls zod` shows one copy);
 * - it runs on Node 20 (no `engines` constraint, no ESM-only entry: our CJS build loads it);
 * - its issues carry the full path and, with `reportInput`, the offending value, which is what our
 *   messages need; a schema gives the input type (`z.input`), the resolved type (`z.output`) and
 *   the defaults at once (koa-session's own options are built the same way).
 *
 * Every builder takes the "expected" text of its error message: that text is the whole message
 * the user reads after "got <value>; expected", so the wording of today's errors is kept exactly.
 *
 * One check reaches below zod's classic API: the unknown-key check of `options()` is a
 * `z.core.$ZodCheck` with `when: () => true` (zod core's documented hook for checks that must run
 * after a failure), so that an unknown key and a bad value are reported in the same pass;
 * tests/unit/schema.test.ts fails if a zod upgrade changes that.
 */
import { z } from 'zod/v4';
import type { ConfigIssue } from './errors.js';
import { describeValue, redactValue } from './redact.js';

export { z };

/** An object literal, not an array, Buffer or null. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/** `true` or `false`. */
export const bool = (expected = 'true or false') => z.boolean({ error: expected });

/** A string; with `nonEmpty`, one that is not `''` (`'blank'`: not only white space either). */
export function str(expected = 'a string', nonEmpty: false | true | 'blank' = false) {
  const s = z.string({ error: expected });
  if (nonEmpty === 'blank') return s.refine((v) => v.trim() !== '', { error: expected });
  return nonEmpty ? s.min(1, { error: expected }) : s;
}

/** An integer from `min` to `max`. */
export const int = (min: number, max = Number.MAX_SAFE_INTEGER, expected = `an integer from ${min} to ${max}`) =>
  z.number({ error: expected }).int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });

/** A whole number of milliseconds >= `min` (the suite's unit for every duration). */
export const ms = (min = 0, expected = `an integer number of milliseconds >= ${min}`) =>
  z.number({ error: expected }).int({ error: expected }).min(min, { error: expected });

/** A function (kept by reference). */
// the default is the widest function type: a callback's own signature is the caller's to give
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const fn = <F extends (...args: never[]) => unknown = (...args: any[]) => any>(expected = 'a function') =>
  z.custom<F>((v) => typeof v === 'function', { error: expected });

/** One of a few literal values; the default message lists them (`"proceed" or "fail"`). */
export function oneOf<const T extends readonly [string | number, ...(string | number)[]]>(values: T, expected?: string) {
  const shown = values.map((v) => (typeof v === 'string' ? `"${v}"` : String(v)));
  const text = expected ?? (shown.length > 2 ? `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}` : shown.join(' or '));
  return z.custom<T[number]>((v) => values.includes(v as T[number]), { error: text });
}

/** Any object literal (not an array or Buffer); its content is not checked, and kept by reference. */
export const plainObject = <T extends Record<string, unknown> = Record<string, unknown>>(expected = 'an object') =>
  z.custom<T>(isPlainObject, { error: expected });

/** A value checked by a function that returns what is expected, or null when the value is fine. */
export const custom = <T>(check: (value: unknown) => string | null): z.ZodType<T, T> =>
  z.unknown().transform((value, ctx) => {
    const expected = check(value);
    if (expected === null) return value as T;
    ctx.issues.push({ code: 'custom', message: expected, input: value });
    return z.NEVER;
  }) as unknown as z.ZodType<T, T>;

/**
 * A value turned into another by `convert`, which throws what is expected (a string) when it
 * cannot: unit conversion (a `{ min: 1 }` duration to ms) lives in the schema.
 */
export const convert = <Out, In = unknown>(convert: (value: unknown) => Out): z.ZodType<Out, In> =>
  z.unknown().transform((value, ctx): Out => {
    try {
      return convert(value);
    } catch (expected) {
      ctx.issues.push({ code: 'custom', message: expected instanceof Error ? expected.message : String(expected), input: value });
      return z.NEVER;
    }
  }) as unknown as z.ZodType<Out, In>;

/** Report a problem from a cross-field check: path relative to the checked object. */
export type Report = (path: ReadonlyArray<string | number>, value: unknown, expected: string) => void;

/**
 * A schema followed by a cross-field check that runs even when parts of the value already failed,
 * so that one pass reports every problem (zod skips refinements after a failure). The check sees
 * the user's raw input (check types defensively); its issues follow the schema's own.
 */
export function always<S extends z.ZodType>(schema: S, check: (value: unknown, report: Report) => void): z.ZodType<z.output<S>, z.input<S>> {
  return z.unknown().transform((value, ctx) => {
    const result = schema.safeParse(value, { reportInput: true });
    if (!result.success) for (const issue of result.error.issues) ctx.issues.push(passOn(issue));
    check(value, (path, input, expected) => ctx.issues.push({ code: 'custom', message: expected, path: [...path], input }));
    return result.success ? result.data : z.NEVER;
  }) as unknown as z.ZodType<z.output<S>, z.input<S>>;
}

/**
 * A value of type `T` checked by a function that may report several problems, each at its own
 * path below the value (a URL with a bad port and a bad database is two problems).
 */
export const checked = <T>(check: (value: unknown, report: Report) => void) =>
  always(
    z.custom<T>(() => true),
    check,
  );

/** An issue of a nested parse, handed on to the outer one with its path, message and value. */
function passOn(issue: z.core.$ZodIssue): never {
  return { ...issue, code: 'custom', input: inputOf(issue) } as never;
}

export interface OptionsSettings {
  /** The message when the value is not an object at all. @default 'an object' */
  expected?: string;
  /** Appended to the unknown-key message (`; Cluster client options go under ...`). */
  hint?: string;
  /** Accepted keys that are not in the shape (left to the caller, e.g. ioredis options). */
  alsoKnown?: readonly string[];
  /** Keys that have a specific reason to be refused (e.g. koa2-ratelimit options with no meaning here). */
  refused?: Readonly<Record<string, string>>;
  /** Let unknown keys through unchecked (ioredis options): only the shape's keys are checked. */
  open?: boolean;
}

/**
 * An object of options: each key of `shape` checked by its schema, unknown keys reported one by
 * one with a "did you mean" (unless `open`). Unknown keys are kept in the output of an open set.
 */
export function options<Shape extends z.core.$ZodLooseShape>(shape: Shape, settings: OptionsSettings & { open: true }): z.ZodObject<Shape, z.core.$loose>;
export function options<Shape extends z.core.$ZodLooseShape>(shape: Shape, settings?: OptionsSettings): z.ZodObject<Shape, z.core.$strip>;
export function options<Shape extends z.core.$ZodLooseShape>(shape: Shape, settings: OptionsSettings = {}): z.ZodObject<Shape, z.core.$loose | z.core.$strip> {
  const known = [...Object.keys(shape), ...(settings.alsoKnown ?? [])];
  const base = z.looseObject(shape, { error: settings.expected ?? 'an object' });
  if (settings.open) return base;
  // A check on the object itself: it sees the unknown keys (a loose object keeps them), and with
  // `when` it runs even when a known key failed, so one pass reports both.
  const unknownKeys = new z.core.$ZodCheck({ check: 'custom', when: () => true });
  unknownKeys._zod.check = (payload) => {
    if (!isPlainObject(payload.value)) return;
    for (const key of Object.keys(payload.value)) {
      if (known.includes(key)) continue;
      const expected = settings.refused?.[key] ?? unknownKeyMessage(key, known, settings.hint);
      payload.issues.push({ code: 'custom', message: expected, path: [key], input: payload.value[key] });
    }
  };
  // Typed as a closed set (its input type lists its keys only); at run time unknown keys reach the check above.
  return base.check(unknownKeys) as unknown as z.ZodObject<Shape, z.core.$strip>;
}

/** The option names of a shape, in order (what the docs tables list). */
export function optionNames(shape: z.core.$ZodLooseShape): string[] {
  return Object.keys(shape);
}

/** The default of each option of a shape that has one (what its schema gives for a missing value). */
export function optionDefaults(shape: z.core.$ZodLooseShape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) {
    const result = z.safeParse(schema, undefined);
    if (result.success && result.data !== undefined) out[name] = result.data;
  }
  return out;
}

/** `no such option (did you mean "max"?); known options: ...`. */
export function unknownKeyMessage(key: string, known: readonly string[], hint = ''): string {
  const near = closest(key, known);
  return `no such option${near ? ` (did you mean "${near}"?)` : ''}; known options: ${known.join(', ')}${hint}`;
}

/**
 * A value checked by the schema its shape picks (a URL string, a Cluster, a Sentinel, a single
 * server...), or refused with the message `pick` returns. Issues keep their paths.
 */
export function select<Out, In = unknown>(pick: (value: unknown) => z.ZodType | string): z.ZodType<Out, In> {
  return z.unknown().transform((value, ctx) => {
    const chosen = pick(value);
    if (typeof chosen === 'string') {
      ctx.issues.push({ code: 'custom', message: chosen, input: value });
      return z.NEVER;
    }
    const result = chosen.safeParse(value, { reportInput: true });
    if (result.success) return result.data as Out;
    for (const issue of result.error.issues) ctx.issues.push(passOn(issue));
    return z.NEVER;
  }) as unknown as z.ZodType<Out, In>;
}

/** How a value is shown in an issue: `describeValue` (`"abc" (string)`) unless a feature keeps its older form. */
export type RenderValue = (value: unknown, key: string | undefined) => string;

/** The value as JSON, secrets masked, without its type (`-1`, `""`): the older form some messages keep. */
export const jsonValue: RenderValue = (value, key) => {
  const safe = redactValue(value, key);
  try {
    return JSON.stringify(safe) ?? String(safe);
  } catch {
    return String(safe);
  }
};

/** Check `input`: the parsed output, or every problem found, with paths prefixed by `root`. */
export function collectIssues<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root: string,
  render: RenderValue = describeValue,
): { ok: true; value: z.output<S> } | { ok: false; issues: ConfigIssue[] } {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: result.error.issues.map((issue) => toConfigIssue(issue, root, render)) };
}

/**
 * Parse options or throw the feature's config error listing every problem: `where.root` starts
 * every path (`redis`, `options`, `config`), `where.error` builds the feature's error class.
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: { root: string; error: (issues: ConfigIssue[]) => Error; render?: RenderValue },
): z.output<S> {
  const result = collectIssues(schema, input, where.root, where.render);
  if (!result.ok) throw where.error(result.issues);
  return result.value;
}

/** `redis` + `['connections', 'a', 'nodes', 0]` → `redis.connections.a.nodes[0]`. */
export function formatPath(root: string, path: ReadonlyArray<PropertyKey>): string {
  let out = root;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out;
}

function inputOf(issue: z.core.$ZodIssue): unknown {
  return (issue as { input?: unknown }).input;
}

function toConfigIssue(issue: z.core.$ZodIssue, root: string, render: RenderValue): ConfigIssue {
  const last = [...issue.path].reverse().find((p): p is string => typeof p === 'string');
  return { path: formatPath(root, issue.path), got: render(inputOf(issue), last), expected: issue.message };
}

/** The candidate nearest to a mistyped option name, if any is near enough (a "did you mean"). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

/**
 * Levenshtein distance, hand-written: 15 lines for one "did you mean" do not justify a
 * dependency (the maintained packages, e.g. fastest-levenshtein, add a module for this alone).
 */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
