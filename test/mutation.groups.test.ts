/**
 * The mutation gate covers every module of src/ (issue 25), and what docs/testing.md, CI's gate
 * (.ci/mutation.sh) and `npm run test:mutation` (test/mutation/run.sh) say about its groups is what
 * stryker.config.mjs defines: a new module without a group, or a group CI forgets, fails here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Group {
  mutate: string[];
  tests: string[];
}

/** The config is an ES module; this CommonJS test reads its groups through a child process. */
function strykerGroups(): Record<string, Group> {
  const out = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "import { groups } from './stryker.config.mjs'; process.stdout.write(JSON.stringify(groups));"],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MUTATION_GROUP: '' } },
  );
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout) as Record<string, Group>;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(rel);
    return entry.name.endsWith('.ts') ? [rel] : [];
  });
}

/** The default group list a script sets (`${MUTATION_GROUP:-a,b,...}`). */
function defaultList(script: string): string[] {
  const match = /\$\{MUTATION_GROUP:-([a-z,]+)\}/.exec(read(script));
  assert.ok(match, `${script} sets no default MUTATION_GROUP list`);
  return match[1].split(',');
}

describe('mutation groups', () => {
  const groups = strykerGroups();
  const names = Object.keys(groups);

  it('put every module of src/ in exactly one group, and name only files that exist', () => {
    const listed = names.flatMap((n) => groups[n].mutate);
    const files = sourceFiles('src').sort();
    assert.deepEqual([...listed].sort(), files);
    assert.equal(new Set(listed).size, listed.length, 'a module is in two groups');
    for (const n of names) {
      assert.ok(groups[n].tests.length > 0, `group ${n} has no test files`);
      for (const test of groups[n].tests) {
        assert.match(test, /^dist\/test\/[\w.-]+\.test\.js$/);
        const source = test.replace(/^dist\//, '').replace(/\.js$/, '.ts');
        assert.ok(existsSync(path.join(ROOT, source)), `${n}: ${source} is missing`);
      }
    }
  });

  it('are all run by CI and by npm run test:mutation, in the same order', () => {
    assert.deepEqual(defaultList('.ci/mutation.sh'), names);
    assert.deepEqual(defaultList('test/mutation/run.sh'), names);
  });

  it("are docs/testing.md's group table: each group's modules and test files named in its row", () => {
    const lines = read('docs/testing.md').split('\n');
    const start = lines.findIndex((l) => l.startsWith('| group | modules | test files |'));
    assert.ok(start >= 0, 'docs/testing.md has no group table');
    const rows = new Map<string, string[]>();
    for (const line of lines.slice(start + 2)) {
      if (!line.startsWith('|')) break;
      const cells = line.split('|').map((c) => c.trim());
      rows.set(cells[1], cells.slice(2));
    }
    assert.deepEqual([...rows.keys()], names);
    for (const n of names) {
      const [modules, tests] = rows.get(n) ?? [];
      for (const file of groups[n].mutate) assert.ok(modules.includes(path.basename(file)), `${n}: ${file} not named in its row`);
      for (const test of groups[n].tests) {
        const short = path.basename(test, '.test.js');
        assert.ok(tests.includes(`\`${short}\``), `${n}: ${short} not named in its row`);
      }
    }
  });

  it('each have a committed baseline holding results for their own modules only', () => {
    // A module left in a baseline by an older group list is still reported (and scored) by the gate.
    for (const n of names) {
      const file = `.stryker-incremental/${n}.json`;
      assert.ok(existsSync(path.join(ROOT, file)), `${file} is missing: CI would run the whole group`);
      const baseline = JSON.parse(read(file)) as { files: Record<string, unknown> };
      assert.deepEqual(
        Object.keys(baseline.files).filter((f) => !groups[n].mutate.includes(f)),
        [],
        `${file}: modules of no group ${n}`,
      );
    }
  });
});
