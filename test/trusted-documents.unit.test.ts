/**
 * Manifest loading (src/protection/trusted-documents.ts): every document validated at start, a bad one
 * named by its id (the process exits 2 with that line), the prepared document served from Apollo's
 * document store and never evicted, and an all-or-nothing reload.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../src/config';
import { createProtection } from '../src/protection';
import { TrustedDocuments, TrustedDocumentsError } from '../src/protection/trusted-documents';
import { buildSchema } from '../src/server';

const dir = mkdtempSync(path.join(tmpdir(), 'trusted-unit-'));
const idOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
function manifestFile(name: string, docs: Record<string, string>): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(docs));
  return file;
}

async function load(files: string[], env: Record<string, string> = {}): Promise<TrustedDocuments> {
  const config = loadConfig({ NODE_ENV: 'test', TRUSTED_DOCUMENTS_FILE: files.join(','), ...env });
  const protection = createProtection(config, pino({ level: 'silent' }));
  return TrustedDocuments.create({
    config: config.server.trustedDocuments,
    schema: await buildSchema(),
    limits: config.limits,
    validationRules: protection.validationRules,
    introspection: config.server.introspection,
  });
}

const HEALTH = 'query Health { health { status } }';

describe('TrustedDocuments: manifests validated at start', () => {
  it('loads the committed manifest and a second one, by sha256 id', async () => {
    const second = manifestFile('ok.json', { [idOf(HEALTH)]: HEALTH });
    const docs = await load(['client/persisted-documents.json', second]);
    const doc = docs.byHex(idOf(HEALTH).slice(7));
    assert.ok(doc);
    assert.equal(doc.text, HEALTH);
    assert.equal(doc.file, second);
  });

  const bad: Array<[string, Record<string, string> | string, RegExp]> = [
    ['an unknown field', { [idOf('{ secrets }')]: '{ secrets }' }, /does not validate: Cannot query field "secrets"/],
    ['a syntax error', { [idOf('{ health {')]: '{ health {' }, /does not parse/],
    ['an id that is not the sha256 of the text', { [idOf('{ health { status } }')]: HEALTH }, /sha256 is [0-9a-f]{64}, not the id/],
    ['a sha1-length key', { ['a'.repeat(40)]: HEALTH }, /not a sha256 id/],
    [
      'a query over MAX_QUERY_DEPTH',
      { [idOf(`{ health { status } }`)]: '{ health { status } }' },
      /breaks a query limit: .*MAX_QUERY_DEPTH/,
    ],
    [
      'only fragments',
      { [idOf('fragment F on Query { health { status } }')]: 'fragment F on Query { health { status } }' },
      /no operation/,
    ],
    ['not JSON', '{ nope', /cannot read it as JSON/],
  ];
  for (const [name, content, reason] of bad) {
    it(`refuses ${name}, naming the file and the id`, async () => {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
      const env: Record<string, string> = name.includes('MAX_QUERY_DEPTH') ? { MAX_QUERY_DEPTH: '1' } : {};
      await assert.rejects(load([file], env), (err: unknown) => {
        assert.ok(err instanceof TrustedDocumentsError);
        assert.match(err.message, reason);
        assert.ok(err.message.includes(file));
        if (typeof content !== 'string') assert.ok(err.message.includes(Object.keys(content)[0].replace('sha256:', '')), err.message);
        return true;
      });
    });
  }

  it('the server exits 2 with the document id on stderr', () => {
    const text = '{ secrets }';
    const file = manifestFile('exit.json', { [idOf(text)]: text });
    const r = spawnSync(process.execPath, [path.resolve('dist/src/main.js')], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        PORT: '0',
        HOST: '127.0.0.1',
        TRUSTED_DOCUMENTS_FILE: file,
        MODEL_DIR: path.resolve('models'),
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.ok(r.stderr.includes(idOf(text)), r.stderr);
  });
});

describe('TrustedDocuments: document store and reload', () => {
  it("answers a trusted hash with the prepared document under Apollo's prefixed key, and never stores over it", async () => {
    const file = manifestFile('store.json', { [idOf(HEALTH)]: HEALTH });
    const docs = await load([file]);
    const store = docs.documentStore();
    const key = `schemahash:${idOf(HEALTH).slice(7)}`;
    const prepared = docs.byHex(idOf(HEALTH).slice(7))!.document;
    assert.equal(await store.get(key), prepared);
    await store.set(key, { kind: 'Document', definitions: [] } as never);
    assert.equal(await store.get(key), prepared);
    const other = `schemahash:${'c'.repeat(64)}`;
    assert.equal(await store.get(other), undefined);
    await store.set(other, prepared);
    assert.equal(await store.get(other), prepared);
  });

  it('reload is all or nothing: a bad manifest keeps the documents being served', async () => {
    const file = manifestFile('reload.json', { [idOf(HEALTH)]: HEALTH });
    const docs = await load([file]);
    const seen: number[] = [];
    docs.onLoad((d) => seen.push(d.length));
    const two = 'query Two { health { modelLoaded } }';
    writeFileSync(file, JSON.stringify({ [idOf(HEALTH)]: HEALTH, [idOf(two)]: two }));
    assert.equal(docs.reload(), 2);
    writeFileSync(file, JSON.stringify({ [idOf('{ secrets }')]: '{ secrets }' }));
    assert.throws(() => docs.reload(), TrustedDocumentsError);
    assert.equal(docs.size, 2);
    assert.ok(docs.byHex(idOf(two).slice(7)));
    assert.deepEqual(seen, [1, 2]);
  });
});
