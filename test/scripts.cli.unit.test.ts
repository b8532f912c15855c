import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it, mock } from 'node:test';
// emit-schema's dependencies, loaded up front: some read the working directory as they load.
import '../src/server';

// The two generator scripts run as `npm run codegen` and by hand: as their own processes, writing where
// their command line says (their work itself is scripts.unit's).

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPTS = path.join(ROOT, 'dist', 'src', 'scripts');

it('emit-schema.js writes the schema to the path given', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'emit-'));
  const r = spawnSync(process.execPath, [path.join(SCRIPTS, 'emit-schema.js'), 'out.graphql'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'wrote out.graphql\n');
  assert.equal(readFileSync(path.join(dir, 'out.graphql'), 'utf8'), readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'));
});

it('console-examples.js writes examples.json under the root given', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'examples-'));
  mkdirSync(path.join(root, 'data'));
  mkdirSync(path.join(root, 'examples', 'console', 'src'), { recursive: true });
  const columns = 'UDI,Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min],HDF';
  writeFileSync(path.join(root, 'data', 'ai4i2020.csv'), `${columns}\n7,L,300,310,1500,40,9,1\n`);
  const r = spawnSync(process.execPath, [path.join(SCRIPTS, 'console-examples.js'), root], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `wrote ${path.join('examples', 'console', 'src', 'examples.json')} (1 rows)\n`);
  const written = JSON.parse(readFileSync(path.join(root, 'examples', 'console', 'src', 'examples.json'), 'utf8'));
  assert.deepEqual(
    written.examples.map((e: { udi: number; failureType: string }) => [e.udi, e.failureType]),
    [[7, 'HEAT_DISSIPATION_FAILURE']],
  );
});

// Loaded only by the last test, with process.exit stubbed first: a script that ran on load would otherwise end
// this process before any assertion could fail.
it('loaded as a module, neither script runs', () => {
  // The command line is what each script reads when run: pointed at an empty folder, a script that ran
  // on load would throw (console-examples) or start writing there and exit (emit-schema).
  const empty = mkdtempSync(path.join(tmpdir(), 'scripts-'));
  const argv = process.argv;
  process.argv = [argv[0], argv[1], empty];
  const cwd = mock.method(process, 'cwd', () => empty);
  const exit = mock.method(process, 'exit', () => undefined);
  try {
    for (const script of ['console-examples', 'emit-schema']) {
      const file = path.join(SCRIPTS, `${script}.js`);
      delete require.cache[file];
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh load, its cache entry dropped
      assert.doesNotThrow(() => require(file), script);
    }
    assert.equal(cwd.mock.callCount(), 0, 'emit-schema looked for its output file');
  } finally {
    process.argv = argv;
    cwd.mock.restore();
  }
  // process.exit stays stubbed for the rest of this file: a script started on load would call it later.
  assert.equal(exit.mock.callCount(), 0);
});
