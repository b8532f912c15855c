/**
 * Trusted documents over the real HTTP server (docs/trusted-documents.md): every request form (documentId
 * in a POST body, Apollo's persistedQuery hash, GET) in each TRUSTED_DOCUMENTS mode, unknown ids, free
 * text refused in require mode before it is parsed, the introspection rule, and the contract answering
 * byte for byte the same through ids and through text.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kind, parse } from 'graphql';
import { benchManifest, predictTrustedBody } from '../bench/lib/requests';
import { attackDocument, underAttack } from '../bench/scenarios/edge';
import manifest from '../client/persisted-documents.json';
import { rawPost, rawRequest } from './helpers/raw-http';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

const MANIFEST = manifest as Record<string, string>;
const idOf = (name: string): string => {
  const found = Object.entries(MANIFEST).find(([, text]) =>
    parse(text).definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.name?.value === name),
  );
  assert.ok(found, `the manifest holds ${name}`);
  return found[0];
};
const HEALTH_ID = idOf('Health');
const PREDICT_ID = idOf('Predict');
const UNKNOWN_ID = `sha256:${'0'.repeat(64)}`;
const PREFLIGHT = { 'apollo-require-preflight': 'true' };

interface Reply {
  status: number;
  text: string;
  body: { data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }> };
}

async function post(s: TestServer, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

async function get(s: TestServer, search: Record<string, string>): Promise<Reply> {
  const res = await fetch(`${s.url}?${new URLSearchParams(search)}`, { headers: PREFLIGHT });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

function refused(r: Reply, status: number, code: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.errors?.[0]?.extensions?.code, code, r.text);
  assert.equal(r.body.data, undefined);
}

/** Variables for a manifest operation: a normal reading, or a batch with one impossible reading. */
function variablesFor(text: string): Record<string, unknown> {
  const op = parse(text).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  const names = op && op.kind === Kind.OPERATION_DEFINITION ? (op.variableDefinitions ?? []).map((v) => v.variable.name.value) : [];
  const out: Record<string, unknown> = {};
  if (names.includes('input')) out.input = NORMAL_READING;
  if (names.includes('inputs')) out.inputs = [NORMAL_READING, { ...NORMAL_READING, torque: 65, productType: 'H' }];
  return out;
}

describe('trusted documents: TRUSTED_DOCUMENTS=allow (the default outside production)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  it('runs a document named by documentId, by persistedQuery hash and by GET ?documentId=', async () => {
    const byId = await post(s, { documentId: HEALTH_ID });
    assert.equal(byId.status, 200, byId.text);
    assert.equal(byId.body.data.health.status, 'READY');
    const byHash = await post(s, { extensions: { persistedQuery: { version: 1, sha256Hash: HEALTH_ID.slice(7) } } });
    assert.equal(byHash.status, 200, byHash.text);
    assert.equal(byHash.body.data.health.status, 'READY');
    const byGet = await get(s, { documentId: HEALTH_ID });
    assert.equal(byGet.status, 200, byGet.text);
    assert.equal(byGet.body.data.health.status, 'READY');
    const byGetHash = await get(s, { extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: HEALTH_ID.slice(7) } }) });
    assert.equal(byGetHash.status, 200, byGetHash.text);
    assert.equal(byGetHash.body.data.health.status, 'READY');
  });

  it('passes variables and operationName with an id, and a GET of a mutation id stays refused (405)', async () => {
    const r = await post(s, { documentId: PREDICT_ID, operationName: 'Predict', variables: { input: NORMAL_READING } });
    assert.equal(r.status, 200, r.text);
    assert.equal(typeof r.body.data.predict.probability, 'number');
    const bad = await post(s, { documentId: PREDICT_ID, variables: { input: { ...NORMAL_READING, torque: -5 } } });
    assert.equal(bad.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', bad.text);
    const viaGet = await get(s, { documentId: PREDICT_ID, variables: JSON.stringify({ input: NORMAL_READING }) });
    assert.equal(viaGet.status, 405, viaGet.text);
  });

  it('answers an unknown id with 400 TRUSTED_DOCUMENT_NOT_FOUND naming the id, in every request form', async () => {
    for (const r of [
      await post(s, { documentId: UNKNOWN_ID }),
      await post(s, { extensions: { persistedQuery: { version: 1, sha256Hash: UNKNOWN_ID.slice(7) } } }),
      await get(s, { documentId: UNKNOWN_ID }),
    ]) {
      refused(r, 400, 'TRUSTED_DOCUMENT_NOT_FOUND');
      assert.equal(r.body.errors![0].extensions!.documentId, UNKNOWN_ID);
      assert.match(r.body.errors![0].message, /TRUSTED_DOCUMENTS_FILE/);
    }
  });

  it('refuses a malformed id, and an id sent with a query, as BAD_REQUEST', async () => {
    refused(await post(s, { documentId: 'sha1:abc' }), 400, 'BAD_REQUEST');
    refused(await post(s, { documentId: HEALTH_ID.toUpperCase() }), 400, 'BAD_REQUEST');
    refused(await post(s, { documentId: 42 }), 400, 'BAD_REQUEST');
    refused(await post(s, { documentId: HEALTH_ID, query: '{ health { status } }' }), 400, 'BAD_REQUEST');
    refused(await post(s, { extensions: { persistedQuery: { version: 1, sha256Hash: 'nothex' } } }), 400, 'BAD_REQUEST');
  });

  it('still runs free text, also with an unknown persistedQuery hash beside it (no registration: the hash stays unknown)', async () => {
    const text = await post(s, { query: '{ health { status } }' });
    assert.equal(text.status, 200, text.text);
    const hash = 'a'.repeat(64);
    const withHash = await post(s, { query: '{ health { status } }', extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    assert.equal(withHash.status, 200, withHash.text);
    refused(await post(s, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }), 400, 'TRUSTED_DOCUMENT_NOT_FOUND');
  });

  it('answers every operation in the manifest byte for byte the same through its id and through its text', async () => {
    assert.ok(Object.keys(MANIFEST).length >= 7);
    for (const [id, text] of Object.entries(MANIFEST)) {
      const variables = variablesFor(text);
      const viaId = await post(s, { documentId: id, variables });
      const viaText = await post(s, { query: text, variables });
      assert.equal(viaId.status, viaText.status, id);
      assert.equal(viaId.status, 200, viaId.text);
      // health.uptimeSeconds is the clock, the only value that changes between the two requests.
      const still = (t: string) => t.replace(/"uptimeSeconds":[0-9.e-]+/, '"uptimeSeconds":0');
      assert.equal(still(viaId.text), still(viaText.text), `${id}: ${text.slice(0, 80)}`);
    }
    // And an error answer: a coercion failure (locations into the document) and a resolver violation.
    for (const input of [
      { ...NORMAL_READING, torque: 'x' },
      { ...NORMAL_READING, torque: -5 },
    ]) {
      const viaId = await post(s, { documentId: PREDICT_ID, variables: { input } });
      const viaText = await post(s, { query: MANIFEST[PREDICT_ID], variables: { input } });
      assert.equal(viaId.status, viaText.status);
      assert.equal(viaId.text, viaText.text);
      assert.equal(viaId.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    }
  });
});

describe('trusted documents: TRUSTED_DOCUMENTS=require (the default in production)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ NODE_ENV: 'production', RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  it('is the production default and runs ids in every request form', async () => {
    assert.equal(s.config.server.trustedDocuments.mode, 'require');
    assert.equal((await post(s, { documentId: HEALTH_ID })).body.data.health.status, 'READY');
    assert.equal(
      (await post(s, { extensions: { persistedQuery: { version: 1, sha256Hash: HEALTH_ID.slice(7) } } })).body.data.health.status,
      'READY',
    );
    assert.equal((await get(s, { documentId: HEALTH_ID })).body.data.health.status, 'READY');
    refused(await post(s, { documentId: UNKNOWN_ID }), 400, 'TRUSTED_DOCUMENT_NOT_FOUND');
  });

  it('refuses free text with 403 TRUSTED_DOCUMENT_REQUIRED: POST in any member order, GET, with a hash beside it', async () => {
    const query = '{ health { status } }';
    refused(await post(s, { query }), 403, 'TRUSTED_DOCUMENT_REQUIRED');
    refused(await post(s, `  {"variables":{},"query":${JSON.stringify(query)}}`), 403, 'TRUSTED_DOCUMENT_REQUIRED');
    refused(await get(s, { query }), 403, 'TRUSTED_DOCUMENT_REQUIRED');
    refused(
      await post(s, { query, extensions: { persistedQuery: { version: 1, sha256Hash: 'b'.repeat(64) } } }),
      403,
      'TRUSTED_DOCUMENT_REQUIRED',
    );
    const r = await post(s, { query });
    assert.match(r.body.errors![0].message, /documentId/);
  });

  it("refuses the hostile suite's documents before parsing them: their own codes never show", async () => {
    const MB = 1024 * 1024;
    const hostile: Array<[string, string]> = [
      ['syntax error (else GRAPHQL_PARSE_FAILED)', '{ health { status }'],
      ['NUL byte (else GRAPHQL_PARSE_FAILED)', '{ health\u0000 { status } }'],
      ['unknown field (else GRAPHQL_VALIDATION_FAILED)', '{ secrets }'],
      ['deep nesting (else QUERY_TOO_COMPLEX)', `{ health ${'{ status '.repeat(40)}${'}'.repeat(40)} }`],
      ['alias flood (else QUERY_TOO_COMPLEX)', `{ ${Array.from({ length: 500 }, (_, i) => `a${i}: health { status }`).join(' ')} }`],
      [
        'fragment bomb (else QUERY_TOO_COMPLEX)',
        `query { ...F0 } ${Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F30 on Query { health { status } }`,
      ],
      ['token flood (else QUERY_TOO_COMPLEX by MAX_QUERY_TOKENS)', `{ ${'health { status } '.repeat(20_000)}}`],
      ['introspection (else GRAPHQL_VALIDATION_FAILED)', '{ __schema { types { name } } }'],
      ['subscription (else GRAPHQL_VALIDATION_FAILED)', 'subscription { health { status } }'],
    ];
    for (const [name, query] of hostile) {
      const r = await post(s, { query });
      assert.equal(r.status, 403, `${name}: ${r.text.slice(0, 200)}`);
      assert.equal(r.body.errors?.[0]?.extensions?.code, 'TRUSTED_DOCUMENT_REQUIRED', name);
    }
    // The largest document the body limit allows, and one that is not even valid UTF-8: refused from its
    // first bytes, before the UTF-8 check (else 400 BAD_REQUEST) and the JSON parse.
    const big = attackDocument(MB);
    refused(await post(s, big), 403, 'TRUSTED_DOCUMENT_REQUIRED');
    const broken = Buffer.concat([Buffer.from('{"query":"{ health '), Buffer.alloc(200_000, 0xff), Buffer.from('"}')]);
    const raw = await rawRequest(s.port, [rawPost(broken)]);
    assert.equal(raw.status, 403, raw.body);
    assert.equal(raw.json?.errors?.[0]?.extensions?.code, 'TRUSTED_DOCUMENT_REQUIRED');
    // Still serving.
    assert.equal((await post(s, { documentId: HEALTH_ID })).status, 200);
  });

  it('answers an empty chunked body with 400 instead of waiting for a first byte that never comes', async () => {
    // The early refusal reads the first chunk of a large or chunked body; this one ends before it has one.
    const head =
      'POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const raw = await rawRequest(s.port, [`${head}0\r\n\r\n`], { timeoutMs: 5_000 });
    assert.equal(raw.status, 400, raw.body);
    assert.equal(raw.json?.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
    assert.match(raw.json?.errors?.[0]?.message, /empty/);
  });

  it('refuses introspection text too unless INTROSPECTION=true is set explicitly', async () => {
    refused(await post(s, { query: '{ __schema { queryType { name } } }' }), 403, 'TRUSTED_DOCUMENT_REQUIRED');
    const sandbox = await startServer({ NODE_ENV: 'production', INTROSPECTION: 'true', RATE_LIMIT_ENABLED: 'false' });
    try {
      assert.equal(sandbox.config.server.trustedDocuments.introspectionInRequire, true);
      const r = await post(sandbox, { query: 'query I { __schema { queryType { name } } ...T } fragment T on Query { __typename }' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.data.__schema.queryType.name, 'Query');
      const viaGet = await get(sandbox, { query: '{ __type(name: "Prediction") { name } }' });
      assert.equal(viaGet.status, 200, viaGet.text);
      // Anything beside introspection is still text the server refuses.
      refused(await post(sandbox, { query: '{ __schema { queryType { name } } health { status } }' }), 403, 'TRUSTED_DOCUMENT_REQUIRED');
      refused(await post(sandbox, { query: '{ health { status } }' }), 403, 'TRUSTED_DOCUMENT_REQUIRED');
      refused(await post(sandbox, { query: '{ __schema ' }), 403, 'TRUSTED_DOCUMENT_REQUIRED');
      refused(await post(sandbox, attackDocument(1024 * 1024)), 403, 'TRUSTED_DOCUMENT_REQUIRED');
    } finally {
      await sandbox.close();
    }
    // In development, INTROSPECTION defaults to true, but a default does not open require mode to text.
    const dev = await startServer({ TRUSTED_DOCUMENTS: 'require', RATE_LIMIT_ENABLED: 'false' });
    try {
      assert.equal(dev.config.server.introspection, true);
      refused(await post(dev, { query: '{ __schema { queryType { name } } }' }), 403, 'TRUSTED_DOCUMENT_REQUIRED');
    } finally {
      await dev.close();
    }
  });
});

describe('trusted documents: TRUSTED_DOCUMENTS=off', () => {
  it('leaves requests as Apollo answers them: no ids, persisted queries not supported, text runs', async () => {
    const s = await startServer({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'off', RATE_LIMIT_ENABLED: 'false' });
    try {
      assert.deepEqual(s.config.server.trustedDocuments.files, []);
      refused(await post(s, { documentId: HEALTH_ID }), 400, 'BAD_REQUEST');
      const pq = await post(s, { extensions: { persistedQuery: { version: 1, sha256Hash: HEALTH_ID.slice(7) } } });
      assert.equal(pq.body.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_SUPPORTED', pq.text);
      assert.equal((await post(s, { query: '{ health { status } }' })).status, 200);
    } finally {
      await s.close();
    }
  });
});

describe('trusted documents: several manifests, and the attack in require mode', () => {
  it("serves a second frontend's manifest beside the committed one; attackers' megabyte text is refused, the id client keeps serving", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trusted-'));
    const second = path.join(dir, 'bench-manifest.json');
    writeFileSync(second, JSON.stringify(benchManifest()));
    const s = await startServer({
      NODE_ENV: 'production',
      LOG_LEVEL: 'silent',
      TRUSTED_DOCUMENTS_FILE: `client/persisted-documents.json,${second}`,
      REQUEST_LIMIT_MAX: '100000000',
      RATE_LIMIT_MAX: '100000000',
      RATE_LIMIT_ROWS_MAX: '100000000',
    });
    try {
      assert.equal(s.app.trustedDocuments?.size, Object.keys(MANIFEST).length + 2);
      assert.equal((await post(s, { documentId: HEALTH_ID })).status, 200);
      const r = await underAttack(s.port, s.config.limits.bodyLimitBytes, 3, predictTrustedBody());
      assert.ok(r.attackers.requests > 10);
      assert.deepEqual(Object.keys(r.attackers.byStatus), ['403 TRUSTED_DOCUMENT_REQUIRED']);
      // The third client, sending its id, was answered throughout (underAttack throws on any non-200). Its
      // latency under attack is a speed figure: the bench reports it (attackRequire), tests do not time it.
      assert.ok(r.victimAttacked.requests > 0 && r.victimUnloaded.requests > 0);
    } finally {
      await s.close();
    }
  });
});
