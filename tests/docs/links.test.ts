/**
 * Links that cannot break: every relative link in README.md, BENCHMARKS.md and docs/*.md points at
 * a file of the repository, and a `#fragment` at a heading of that file (GitHub's anchor rules:
 * lower case, punctuation dropped, spaces as dashes). No network: links to other sites are not
 * followed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { docFiles, readDoc, ROOT } from './markdown.js';

/** GitHub's anchor of a heading. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a file's headings (outside code blocks), with GitHub's -1, -2 for repeats. */
function anchors(file: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of readDoc(file).split('\n')) {
    if (/^```/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (!heading) continue;
    const base = anchorOf(heading[1]!);
    let anchor = base;
    for (let n = 1; out.has(anchor); n++) anchor = `${base}-${n}`;
    out.add(anchor);
  }
  return out;
}

/** Relative links of a file (outside code blocks and code spans): `[text](target)` and `![alt](target)`. */
function links(file: string): Array<{ target: string; line: number }> {
  const out: Array<{ target: string; line: number }> = [];
  let fenced = false;
  readDoc(file)
    .split('\n')
    .forEach((line, i) => {
      if (/^```/.test(line)) fenced = !fenced;
      if (fenced) return;
      for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
        if (!/^[a-z]+:/i.test(m[1]!)) out.push({ target: m[1]!, line: i + 1 });
      }
    });
  return out;
}

describe('relative links in the docs', () => {
  for (const file of [...docFiles(), 'BENCHMARKS.md']) {
    it(`${file}: every link points at a file and heading that exist`, () => {
      const broken: string[] = [];
      for (const { target, line } of links(file)) {
        const [rel, fragment] = target.split('#') as [string, string | undefined];
        const dest = rel === '' ? file : path.relative(ROOT, path.resolve(ROOT, path.dirname(file), rel));
        if (!existsSync(path.join(ROOT, dest))) broken.push(`${file}:${line}: ${target} (no file ${dest})`);
        else if (fragment && dest.endsWith('.md') && !anchors(dest).has(fragment))
          broken.push(`${file}:${line}: ${target} (no heading #${fragment} in ${dest})`);
      }
      expect(broken).toEqual([]);
    });
  }

  it('anchorOf follows GitHub', () => {
    expect(anchorOf("Strapi's own login limiters on Redis")).toBe('strapis-own-login-limiters-on-redis');
    expect(anchorOf('`connections.<name>`')).toBe('connectionsname');
    expect(anchorOf('Socket.IO across instances')).toBe('socketio-across-instances');
  });
});
