/**
 * The documentation cannot drift from the code it describes: the error table in docs/errors.md is the
 * `ErrorCode` catalogue (with the statuses the edge answers with), every repository path a Markdown file
 * names exists, and every relative link (with its #anchor) lands on a file and a heading that exist.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode } from '../src/errors';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** Tracked Markdown files, plus new ones not yet committed (so a fresh page is checked before its commit). */
function markdownFiles(): string[] {
  const out = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(out.status, 0, `git ls-files failed: ${out.stderr}`);
  return [...new Set(out.stdout.split('\n').filter(Boolean))]
    .filter((f) => !/(^|\/)(node_modules|dist)\//.test(f))
    .filter((f) => existsSync(path.join(ROOT, f)))
    .sort();
}

/** The rows of the first table whose header row starts with `header`, as trimmed cells. */
function tableRows(markdown: string, header: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  assert.ok(start >= 0, `no table headed "${header}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, line.trimEnd().length - 1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

/** Every `new HttpError(<status>, <code>` in src/: the statuses the edge answers each code with. */
function httpStatusesInSource(): Map<string, Set<number>> {
  const found = new Map<string, Set<number>>();
  const pattern = /new HttpError\(\s*(\d{3}),\s*(?:ErrorCode\.(\w+)|'(\w+)')/g;
  for (const file of sourceFiles('src')) {
    for (const m of read(file).matchAll(pattern)) {
      const code = m[2] ?? m[3];
      if (!found.has(code)) found.set(code, new Set());
      found.get(code)!.add(Number(m[1]));
    }
  }
  return found;
}

describe('docs/errors.md', () => {
  const rows = tableRows(read('docs/errors.md'), '| code | HTTP |');
  const byCode = new Map(rows.map((r) => [/^`([A-Z_]+)`$/.exec(r[0])?.[1] ?? `(not one code: ${r[0]})`, r]));

  it('lists exactly the ErrorCode values of src/errors.ts, one row each', () => {
    const documented = rows.map((r) => /^`([A-Z_]+)`$/.exec(r[0])?.[1] ?? `(not one code: ${r[0]})`);
    assert.equal(new Set(documented).size, documented.length, `a code has two rows: ${documented.join(', ')}`);
    assert.deepEqual([...documented].sort(), Object.values(ErrorCode).sort());
  });

  it('gives every code an HTTP status, or "-" for the one no client receives', () => {
    for (const [code, row] of byCode) {
      assert.match(row[1], /^(-|\d{3}\b.*)$/, `${code}: HTTP column "${row[1]}"`);
      const statuses = [...row[1].matchAll(/\b([1-5]\d\d)\b/g)].map((m) => Number(m[1]));
      assert.ok(statuses.length > 0 || row[1] === '-', `${code} has no status`);
      assert.ok(row[2].length > 0, `${code} says nowhere when it is raised`);
    }
    assert.equal(byCode.get(ErrorCode.CLIENT_CLOSED_REQUEST)?.[1], '-');
  });

  it('names every status the source answers a code with (new HttpError(status, code))', () => {
    const inSource = httpStatusesInSource();
    // The scan itself must see the edge's errors, or this test would pass on nothing.
    assert.ok(inSource.get(ErrorCode.PAYLOAD_TOO_LARGE)?.has(413), 'scan found no 413 PAYLOAD_TOO_LARGE');
    assert.ok(inSource.get(ErrorCode.SERVER_BUSY)?.has(503), 'scan found no 503 SERVER_BUSY');
    for (const [code, statuses] of inSource) {
      const row = byCode.get(code);
      assert.ok(row, `src/ answers ${code}, which the table lacks`);
      for (const status of statuses) {
        assert.ok(new RegExp(`\\b${status}\\b`).test(row[1]), `${code}: src/ answers ${status}, the table says "${row[1]}"`);
      }
    }
  });
});

/** Top-level folders whose paths, when a Markdown file names them, must exist. */
const PATH_ROOTS = ['src', 'test', 'bench', 'deploy', 'training', 'examples', 'client', '.ci', 'docs'];
const PATH = new RegExp(`(?<![\\w./@~-])((?:${PATH_ROOTS.map((r) => r.replace('.', '\\.')).join('|')})/[\\w./-]*)`, 'g');
/** Marks the next fenced block as another project's files (a frontend's codegen config). */
const FOREIGN = /^<!-- paths below: /;

/** Repository paths a Markdown text names, in prose, code spans, links and code blocks alike. */
export function namedPaths(markdown: string): string[] {
  const paths: string[] = [];
  let foreignNext = false;
  let fence: { foreign: boolean } | undefined;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fence = fence ? undefined : { foreign: foreignNext };
      foreignNext = false;
      continue;
    }
    if (!fence && FOREIGN.test(line)) foreignNext = true;
    if (fence?.foreign) continue;
    for (const m of line.matchAll(PATH)) {
      const next = line.charAt(m.index + m[0].length);
      if (next !== '' && '*{<$['.includes(next)) continue; // a pattern or placeholder, not a path
      paths.push(m[1].replace(/[.,:;]+$/, ''));
    }
  }
  return paths;
}

function exists(rel: string): boolean {
  if (existsSync(path.join(ROOT, rel))) return true;
  // Outputs the repository ignores (bench/results/, examples/console/dist) are named as where they appear;
  // the trailing slash lets a folder match a folder-only pattern.
  return [rel, `${rel.replace(/\/$/, '')}/`].some(
    (p) => spawnSync('git', ['check-ignore', '-q', '--no-index', p], { cwd: ROOT }).status === 0,
  );
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const h = inFence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const text = h[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative link targets in a Markdown text, outside code blocks and code spans. */
export function relativeLinks(markdown: string): string[] {
  const prose = markdown
    .replace(/^\s*(```|~~~)[\s\S]*?^\s*\1\s*$/gm, '')
    .replace(/``[^`]*``|`[^`\n]*`/g, '')
    .replace(/<!--[\s\S]*?-->/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

describe('Markdown files', () => {
  const files = markdownFiles();

  it('are found, README and the docs/ pages among them', () => {
    for (const f of ['README.md', 'docs/errors.md', 'docs/configuration.md', 'docs/architecture.md']) assert.ok(files.includes(f), f);
  });

  it('name only repository paths that exist (src/, test/, bench/, deploy/, training/, examples/, client/, .ci/, docs/)', () => {
    const missing: string[] = [];
    for (const file of files) {
      for (const named of new Set(namedPaths(read(file)))) if (!exists(named)) missing.push(`${file}: ${named}`);
    }
    assert.deepEqual(missing, []);
  });

  it('link only to files, and headings, that exist', () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const target of relativeLinks(read(file))) {
        const [rawPath, anchor] = target.split('#', 2);
        const resolved = rawPath ? path.join(path.dirname(file), decodeURIComponent(rawPath)) : file;
        if (!existsSync(path.join(ROOT, resolved))) {
          broken.push(`${file}: ${target} (no ${resolved})`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md') && statSync(path.join(ROOT, resolved)).isFile()) {
          if (!anchors(read(resolved)).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });
});

describe('the checks themselves', () => {
  it('see paths in prose, code spans, links and code blocks, and skip patterns, placeholders and marked blocks', () => {
    const md = [
      'In src/app.ts, `bench/run.ts`, [x](../deploy/Dockerfile) and (src/http/body.ts).',
      '```sh',
      'node dist/bench/model-cost.js && bash .ci/run',
      '```',
      'Not: client/operations/<name>.graphql, src/**/*.ts, ./src/gql, my-src/x.ts.',
      '<!-- paths below: a frontend project -->',
      '```yaml',
      'generates: src/gql/',
      '```',
      'After it: examples/client/main.ts.',
    ].join('\n');
    assert.deepEqual(namedPaths(md), ['src/app.ts', 'bench/run.ts', 'src/http/body.ts', '.ci/run', 'examples/client/main.ts']);
  });

  it('fail on a path that does not exist, such as the one BENCHMARKS.md named', () => {
    const [named] = namedPaths('helmet replayed (src/http/static-headers.ts; its config is static)');
    assert.equal(named, 'src/http/static-headers.ts');
    assert.equal(exists(named), false);
    assert.equal(exists('src/http/security-headers.ts'), true);
    assert.equal(exists('bench/results/latest.json'), true, 'an ignored output counts as named where it appears');
  });

  it('find relative links outside code, with anchors, and leave URLs alone', () => {
    const md = '[a](docs/api.md#health) [b](https://x.org) `[c](nope.md)` <http://y> [d](#top)\n```\n[e](f.md)\n```\n';
    assert.deepEqual(relativeLinks(md), ['docs/api.md#health', '#top']);
    assert.deepEqual([...anchors('# Top\n## Why this: `explanation`\n## A\n## A\n')], ['top', 'why-this-explanation', 'a', 'a-1']);
  });
});
