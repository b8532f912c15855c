// `npm run dev` (src/scripts/dev.ts): the server starts with the working directory's .env, logs
// human-readably, restarts when the build output changes, and everything stops with the loop.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { freePort, httpStatus as status } from '../bench/lib/net';

const ROOT = path.resolve(__dirname, '..', '..');
const DEV = path.join(ROOT, 'dist', 'src', 'scripts', 'dev.js');
// A file of the build output the server runs; tsc --watch leaves it alone while its source is unchanged.
const BUILT = path.join(ROOT, 'dist', 'src', 'version.js');
const original = readFileSync(BUILT, 'utf8');
const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-dev-'));
after(() => {
  writeFileSync(BUILT, original);
  rmSync(dir, { recursive: true, force: true });
});

it('starts with .env, pretty logs, restarts on a changed build file, and stops cleanly', async () => {
  const port = await freePort();
  writeFileSync(
    path.join(dir, '.env'),
    `HOST=127.0.0.1\nPORT=${port}\nMODEL_DIR=${path.resolve(ROOT, process.env.MODEL_DIR ?? 'models')}\n`,
  );
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  const child = spawn(process.execPath, [DEV], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      assert.ok(child.exitCode === null, `dev loop exited while waiting for ${what}:\n${out}`);
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const count = (re: RegExp) => (out.match(new RegExp(re.source, 'gm')) ?? []).length;

  try {
    // tsc's first pass in watch mode rewrites dist/ and may restart the server once: wait for both to settle.
    await waitFor('tsc watch mode', () => /Watching for file changes/.test(out));
    await waitFor('the server on the .env port', async () => (await status(port, '/readyz')) === 200);
    assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening: GraphQL at /m, 'pino-pretty lines by default under npm run dev');
    assert.match(out, new RegExp(`graphql: "http://127\\.0\\.0\\.1:${port}/graphql"`));
    assert.match(out, /env: "development"/);

    const before = count(/INFO: model ready$/);
    appendFileSync(BUILT, '\n// changed by test/dev.test.ts\n');
    await waitFor('a restart', () => count(/INFO: model ready$/) > before);
    assert.match(out, /INFO: shutting down: draining in-flight requests/, 'the old server drained on SIGTERM');
    await waitFor('the restarted server', async () => (await status(port, '/readyz')) === 200);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  }
  // The server went with the loop.
  const deadline = Date.now() + 10_000;
  while ((await status(port, '/healthz')) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await status(port, '/healthz'), 0, 'the server outlived npm run dev');
});
