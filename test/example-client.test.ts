/**
 * examples/client (`npm run example:client`) runs against a live server with plain node after tsc, and
 * docs/api.md's typed-client snippet is still that file's `#region readme`, so neither can rot.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type TestServer } from './helpers/server';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
// npm test compiles examples/client with the root tsconfig, to the same place its own tsconfig does.
const COMPILED = path.join(ROOT, 'dist', 'examples', 'client', 'main.js');

describe('examples/client', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => server.close());

  it('predicts and prints the violations of an impossible reading, with plain node', async () => {
    const { stdout, stderr } = await run(process.execPath, [COMPILED], {
      env: { ...process.env, SERVER_URL: server.url },
      timeout: 30_000,
    });
    assert.equal(stderr, '');
    const [first] = stdout.split('\n');
    assert.match(first, /^No Failure 0\.\d+ reading within training range$/);
    // console.table of the violations: one row, index 0, with the row, field, value and rule.
    const tableRow = stdout.split('\n').find((l) => /│\s+0\s+│/.test(l));
    assert.ok(tableRow, stdout);
    assert.deepEqual(
      tableRow
        .split('│')
        .map((c) => c.trim())
        .filter(Boolean)
        .slice(1, 6),
      ['1', "'torque'", '-5', "'min'", '0'],
    );
  });

  it('exits non-zero with the error when no server answers', async () => {
    await assert.rejects(
      run(process.execPath, [COMPILED], { env: { ...process.env, SERVER_URL: 'http://127.0.0.1:9/graphql' }, timeout: 30_000 }),
      (err: { code?: number; stderr?: string }) => err.code === 1 && /fetch failed|ECONNREFUSED/.test(err.stderr ?? ''),
    );
  });

  it("is what docs/api.md's typed-client snippet shows, verbatim", () => {
    const source = readFileSync(path.join(ROOT, 'examples', 'client', 'main.ts'), 'utf8');
    const region = /\/\/ #region readme\n([\s\S]*?)\/\/ #endregion readme/.exec(source)?.[1];
    assert.ok(region);
    assert.ok(
      readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8').includes(`\`\`\`ts\n${region}\`\`\``),
      'docs/api.md snippet differs from examples/client/main.ts',
    );
  });
});
