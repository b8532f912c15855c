import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, ConfigError } from '../src/config';
import { startServer, type TestServer } from './helpers/server';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const KEY_A = 'pm_live_4f1c2a9e7b3d_alpha';
const KEY_B = 'pm_live_8e2b71d04c5a_bravo';
const HEALTH = '{ health { status } }';

describe('API keys (API_KEYS)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ API_KEYS: `${sha(KEY_A)}, ${sha(KEY_B).toUpperCase()}`, LOG_LEVEL: 'debug' });
  });
  after(() => s.close());

  for (const [name, headers] of [
    ['no key', {}],
    ['a wrong key', { 'x-api-key': 'not-a-key' }],
    ['the hash instead of the key', { 'x-api-key': sha(KEY_A) }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['a Basic header', { authorization: `Basic ${Buffer.from(`u:${KEY_A}`).toString('base64')}` }],
  ] as const) {
    it(`answers 401 UNAUTHENTICATED with a GraphQL-shaped body for ${name}`, async () => {
      const r = await s.gql(HEALTH, undefined, headers as Record<string, string>);
      assert.equal(r.status, 401);
      assert.equal(r.body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
      assert.equal(typeof r.body.errors?.[0]?.message, 'string');
      assert.equal(r.body.data, undefined);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    });
  }

  it('accepts a listed key as x-api-key or Authorization: Bearer', async () => {
    assert.equal((await s.gql(HEALTH, undefined, { 'x-api-key': KEY_A })).body.data.health.status, 'READY');
    assert.equal((await s.gql(HEALTH, undefined, { authorization: `Bearer ${KEY_B}` })).body.data.health.status, 'READY');
  });

  it('keeps /healthz and /readyz open', async () => {
    assert.equal((await fetch(`${s.origin}/healthz`)).status, 200);
    assert.equal((await fetch(`${s.origin}/readyz`)).status, 200);
  });

  it('never writes a key to the logs', async () => {
    await s.gql(HEALTH, undefined, { 'x-api-key': KEY_A });
    await s.gql(HEALTH, undefined, { 'x-api-key': `${KEY_A}-wrong` });
    await s.gql('mutation { predict(input: {}) { label } }', undefined, { authorization: `Bearer ${KEY_B}` });
    assert.ok(s.logs.raw.length > 0);
    for (const line of s.logs.raw) {
      assert.ok(!line.includes(KEY_A) && !line.includes(KEY_B), `a key leaked into a log line: ${line}`);
      assert.ok(!line.includes(sha(KEY_A)) && !line.includes(sha(KEY_B)), 'not even the full hash');
    }
  });
});

describe('API keys (API_KEYS_FILE)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pm-keys-'));

  it('reads one hash per line, with comments and blank lines', async () => {
    const file = path.join(dir, 'keys.txt');
    writeFileSync(file, `# ops team\n${sha(KEY_A)}\n\n${sha(KEY_B)}  # ci\n`);
    const s = await startServer({ API_KEYS_FILE: file });
    try {
      assert.equal((await s.gql(HEALTH)).status, 401);
      assert.equal((await s.gql(HEALTH, undefined, { 'x-api-key': KEY_B })).status, 200);
    } finally {
      await s.close();
    }
  });

  it('refuses to start on an unreadable file or a line that is not a hash (a raw key)', () => {
    assert.throws(
      () => loadConfig({ API_KEYS_FILE: path.join(dir, 'missing') }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'API_KEYS_FILE',
    );
    const bad = path.join(dir, 'bad.txt');
    writeFileSync(bad, `${KEY_A}\n`);
    assert.throws(
      () => loadConfig({ API_KEYS_FILE: bad }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes(KEY_A),
    );
  });

  it('without API_KEYS nor API_KEYS_FILE, GraphQL is open', async () => {
    const s = await startServer({});
    try {
      assert.equal((await s.gql(HEALTH)).status, 200);
    } finally {
      await s.close();
    }
  });
});
