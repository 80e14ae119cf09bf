/**
 * Reading the docs as data: the option tables (each marked `<!-- options: <feature> -->` on the
 * line before it) and the fenced code blocks of README.md and docs/*.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

/** README.md and every docs/*.md, relative to the repository root. */
export function docFiles(): string[] {
  const docs = readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

export const readDoc = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** One row of an option table. */
export interface OptionRow {
  /** The option names of the row's first cell (a cell may name several: `registry`, `client`). */
  names: string[];
  /** The default cell, as written. */
  defaultCell: string;
  /** Where it is, for messages: `docs/cache.md:42`. */
  where: string;
}

export interface OptionTable {
  feature: string;
  where: string;
  rows: OptionRow[];
}

/** The cells of a table row (`|` inside backticks or escaped as `\|` is not a separator). */
function cells(line: string): string[] {
  const out: string[] = [];
  let cell = '';
  let code = false;
  const body = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\' && body[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (ch === '`') {
      code = !code;
      cell += ch;
    } else if (ch === '|' && !code) {
      out.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  out.push(cell.trim());
  return out;
}

/** The code spans of a cell, in order. */
export const codeSpans = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** Every marked option table in `file`. */
export function optionTables(file: string): OptionTable[] {
  const lines = readDoc(file).split('\n');
  const tables: OptionTable[] = [];
  lines.forEach((line, i) => {
    const marker = /^<!-- options: ([a-z0-9-]+) -->$/.exec(line.trim());
    if (!marker) return;
    const start = i + 1;
    const header = lines[start];
    if (!header?.trim().startsWith('|')) throw new Error(`${file}:${i + 1}: the marker "${line.trim()}" must be followed by a table on the next line`);
    const columns = cells(header).map((c) => c.toLowerCase());
    const defaultAt = columns.indexOf('default');
    if (defaultAt < 0) throw new Error(`${file}:${start + 1}: an option table needs a "default" column; got ${columns.join(', ')}`);
    const rows: OptionRow[] = [];
    for (let j = start + 2; j < lines.length && lines[j]!.trim().startsWith('|'); j++) {
      const row = cells(lines[j]!);
      rows.push({ names: codeSpans(row[0] ?? ''), defaultCell: row[defaultAt] ?? '', where: `${file}:${j + 1}` });
    }
    tables.push({ feature: marker[1]!, where: `${file}:${i + 1}`, rows });
  });
  return tables;
}

/** A fenced code block. */
export interface CodeBlock {
  lang: string;
  code: string;
  /** The block's first line (a marker like `// config/plugins.ts`). */
  firstLine: string;
  where: string;
}

export function codeBlocks(file: string): CodeBlock[] {
  const lines = readDoc(file).split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^```\s*$/.test(lines[j]!); j++) body.push(lines[j]!);
    blocks.push({ lang: open[1]!, code: body.join('\n') + '\n', firstLine: (body[0] ?? '').trim(), where: `${file}:${i + 1}` });
    i = j;
  }
  return blocks;
}
