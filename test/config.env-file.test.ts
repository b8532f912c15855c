// The .env file (A developer's loop): read at start when present, ENV_FILE names another, the
// environment wins, a named file that is missing stops the process with exit code 2.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig, loadEnvFile } from '../src/config';

const dirs: string[] = [];
function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-env-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const main = path.resolve(__dirname, '..', 'src', 'main.js');
const modelDir = path.resolve(process.env.MODEL_DIR ?? 'models');

describe('loadEnvFile', () => {
  it('reads .env from the working directory into the environment given', () => {
    const dir = tempDir({ '.env': '# comment\nPORT=4321\nRATE_LIMIT_WINDOW="1h"\nexport LOG_LEVEL=warn\n' });
    const env: Record<string, string | undefined> = {};
    assert.equal(loadEnvFile(env, dir), path.join(dir, '.env'));
    assert.deepEqual(env, { PORT: '4321', RATE_LIMIT_WINDOW: '1h', LOG_LEVEL: 'warn' });
    const config = loadConfig(env);
    assert.equal(config.server.port, 4321);
    assert.equal(config.protection.rateLimit.windowMs, 3_600_000);
    assert.equal(config.observability.logLevel, 'warn');
  });

  it('lets variables already in the environment win, even empty ones', () => {
    const dir = tempDir({ '.env': 'PORT=4321\nRATE_LIMIT_MAX=5\nCORS_ORIGINS=https://a.example.com\n' });
    const env: Record<string, string | undefined> = { PORT: '5000', CORS_ORIGINS: '' };
    loadEnvFile(env, dir);
    assert.deepEqual(env, { PORT: '5000', RATE_LIMIT_MAX: '5', CORS_ORIGINS: '' });
  });

  it('reads nothing and reports nothing when there is no .env', () => {
    const env: Record<string, string | undefined> = { PORT: '1' };
    assert.equal(loadEnvFile(env, tempDir()), undefined);
    assert.deepEqual(env, { PORT: '1' });
  });

  it('reads the file ENV_FILE names (relative to the working directory) instead of .env', () => {
    const dir = tempDir({ '.env': 'PORT=1111\n', 'staging.env': 'PORT=2222\nMAX_BATCH_ROWS=10\n' });
    const env: Record<string, string | undefined> = { ENV_FILE: 'staging.env' };
    assert.equal(loadEnvFile(env, dir), path.join(dir, 'staging.env'));
    assert.equal(env.PORT, '2222');
    assert.equal(env.MAX_BATCH_ROWS, '10');
  });

  it('refuses a named file that is missing, naming ENV_FILE and the path', () => {
    const dir = tempDir();
    assert.throws(
      () => loadEnvFile({ ENV_FILE: 'missing.env' }, dir),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.variable === 'ENV_FILE' &&
        err.message === `Invalid configuration: ENV_FILE: cannot read ${path.join(dir, 'missing.env')}: ENOENT`,
    );
  });
});

describe('LOG_PRETTY', () => {
  it('is off by default and refused outside development (pino-pretty is a development dependency)', () => {
    assert.equal(loadConfig({}).observability.logPretty, false);
    assert.equal(loadConfig({ LOG_PRETTY: 'true' }).observability.logPretty, true);
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production', LOG_PRETTY: 'true' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'LOG_PRETTY' && /NODE_ENV=production/.test(err.message),
    );
  });
});

/** Runs dist/src/main.js in `cwd` until `until` matches its output (then SIGTERM) or it exits. */
function runMain(cwd: string, env: Record<string, string>, until?: RegExp): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let signalled = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`main.js did not finish: ${out}`));
    }, 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!signalled && until?.test(out)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('main.js and the .env file', () => {
  it('starts with the .env of its working directory, pretty-printed logs in development', async () => {
    const dir = tempDir({ '.env': `NODE_ENV=development\nLOG_PRETTY=true\nHOST=127.0.0.1\nPORT=0\nMODEL_DIR=${modelDir}\n` });
    const { code, out } = await runMain(dir, {}, /model ready/);
    assert.equal(code, 0, out);
    // pino-pretty's shape: "[HH:MM:ss.l] INFO: listening" then indented fields, no JSON object per line.
    assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening: GraphQL at http:\/\/127\.0\.0\.1:\d+\/graphql/m, out);
    assert.match(out, /^ {4}graphql: "http:\/\/127\.0\.0\.1:\d+\/graphql"$/m, out);
    assert.doesNotMatch(out, /^\{"level"/m);
  });

  it('exits with code 2 when ENV_FILE names a missing file', async () => {
    const dir = tempDir({ '.env': 'PORT=0\n' });
    const { code, out } = await runMain(dir, { ENV_FILE: 'nope.env', MODEL_DIR: modelDir });
    assert.equal(code, 2, out);
    assert.equal(out, `Invalid configuration: ENV_FILE: cannot read ${path.join(dir, 'nope.env')}: ENOENT\n`);
  });
});
