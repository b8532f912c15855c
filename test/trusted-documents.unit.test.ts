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

describe('TrustedDocuments: manifest formats and keys', () => {
  const write = (name: string, content: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };
  const refusal = async (files: string[], env: Record<string, string> = {}): Promise<TrustedDocumentsError> => {
    let caught: unknown;
    await load(files, env).catch((err: unknown) => (caught = err));
    assert.ok(caught instanceof TrustedDocumentsError, String(caught));
    return caught;
  };
  const TWO = 'query Two { health { modelLoaded } }';

  it("reads Apollo's operation manifest (hex ids, no prefix) beside the codegen one", async () => {
    const file = write('apollo.json', {
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [
        { id: idOf(HEALTH).slice(7), name: 'Health', type: 'query', body: HEALTH },
        { id: idOf(TWO).slice(7), name: 'Two', type: 'query', body: TWO },
      ],
    });
    const docs = await load([file]);
    assert.equal(docs.size, 2);
    assert.deepEqual(
      docs.documents.map((d) => [d.id, d.text]),
      [
        [idOf(HEALTH), HEALTH],
        [idOf(TWO), TWO],
      ],
    );
    assert.equal(docs.mode, 'allow');
  });

  it('accepts a bare hex key as the sha256 id; refuses keys that are not exactly 64 lowercase hex digits', async () => {
    const hex = idOf(HEALTH).slice(7);
    const docs = await load([write('bare.json', { [hex]: HEALTH })]);
    assert.equal(docs.byHex(hex)?.id, `sha256:${hex}`);
    for (const key of [hex.toUpperCase(), `${hex}0`, `x${hex}`, `sha256:${hex.slice(1)}`, `sha1:${hex}`]) {
      const err = await refusal([write('key.json', { [key]: HEALTH })]);
      assert.equal(err.id, key);
      assert.match(err.message, /: document .*: the key is not a sha256 id \(sha256:<64 hex digits>\)$/);
    }
  });

  it('the first manifest that lists a document is the one it is served from', async () => {
    const a = write('first.json', { [idOf(HEALTH)]: HEALTH });
    const b = write('second.json', { [idOf(HEALTH)]: HEALTH, [idOf(TWO)]: TWO });
    const docs = await load([a, b]);
    assert.equal(docs.size, 2);
    assert.equal(docs.byHex(idOf(HEALTH).slice(7))?.file, path.resolve(a));
    assert.equal(docs.byHex(idOf(TWO).slice(7))?.file, path.resolve(b));
  });

  it('refuses a manifest that is not an object of documents, naming the file and no document', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['array.json', [HEALTH], 'expected a JSON object of "sha256:<hex>": "<document>"'],
      ['null.json', 'null', 'expected a JSON object of "sha256:<hex>": "<document>"'],
      ['number.json', '5', 'expected a JSON object of "sha256:<hex>": "<document>"'],
      ['ops.json', { format: 'apollo-persisted-query-manifest', operations: {} }, '"operations" is not an array'],
    ];
    for (const [name, content, reason] of cases) {
      const file = write(name, content);
      const err = await refusal([file]);
      assert.equal(err.message, `Invalid trusted documents manifest ${path.resolve(file)}: ${reason}`);
      assert.equal(err.id, undefined);
      assert.equal(err.file, path.resolve(file));
      assert.equal(err.name, 'TrustedDocumentsError');
    }
  });

  it('names an Apollo operation without an id by its place, and refuses a body that is not a string', async () => {
    const noId = await refusal([
      write('noid.json', {
        format: 'apollo-persisted-query-manifest',
        operations: [{ id: idOf(HEALTH).slice(7), body: HEALTH }, { body: TWO }],
      }),
    ]);
    assert.equal(noId.id, 'operations[1]');
    const nullOp = await refusal([write('nullop.json', { format: 'apollo-persisted-query-manifest', operations: [null] })]);
    assert.equal(nullOp.id, 'operations[0]');
    const body = await refusal([
      write('nobody.json', { format: 'apollo-persisted-query-manifest', operations: [{ id: idOf(HEALTH).slice(7), body: 5 }] }),
    ]);
    assert.equal(body.id, idOf(HEALTH));
    assert.match(body.message, /: the document is not a string$/);
    const codegen = await refusal([write('notstring.json', { [idOf(HEALTH)]: { query: HEALTH } })]);
    assert.match(codegen.message, /: the document is not a string$/);
  });

  it('checks documents as free text would be: MAX_QUERY_TOKENS, every validation error, introspection off', async () => {
    const long = `{ health { ${'status '.repeat(120)}} }`;
    const tokens = await refusal([write('tokens.json', { [idOf(long)]: long })], { MAX_QUERY_TOKENS: '100' });
    assert.match(tokens.message, /does not parse: .*100 tokens/);
    const two = '{ secrets nope }';
    const invalid = await refusal([write('two-errors.json', { [idOf(two)]: two })]);
    assert.match(invalid.message, /does not validate: Cannot query field "secrets"[^;]*; Cannot query field "nope"/);
    const intro = '{ __schema { queryType { name } } }';
    const file = write('introspection.json', { [idOf(intro)]: intro });
    assert.equal((await load([file], { INTROSPECTION: 'true' })).size, 1);
    const off = await refusal([file], { INTROSPECTION: 'false' });
    assert.match(off.message, /does not validate: .*introspection/i);
  });
});

describe('TrustedDocuments: the document store', () => {
  it('finds a trusted document under its bare hash too, and deletes only what free text stored', async () => {
    const file = manifestFile('store2.json', { [idOf(HEALTH)]: HEALTH });
    const docs = await load([file]);
    const store = docs.documentStore();
    const hex = idOf(HEALTH).slice(7);
    const prepared = docs.byHex(hex)!.document;
    assert.equal(await store.get(hex), prepared, 'a key of exactly 64 characters');
    assert.equal(await store.get(hex.slice(1)), undefined);
    const other = `h:${'d'.repeat(64)}`;
    await store.set(other, prepared);
    await store.delete(other);
    assert.equal(await store.get(other), undefined);
    await store.delete(`h:${hex}`);
    assert.equal(await store.get(`h:${hex}`), prepared, 'a trusted document is never evicted');
    await store.set(`h:${hex}`, { kind: 'Document', definitions: [] } as never);
    writeFileSync(file, JSON.stringify({}));
    assert.equal(docs.reload(), 0);
    assert.equal(await store.get(`h:${hex}`), undefined, 'nothing was stored for it: once dropped from the manifest it is gone');
  });
});
