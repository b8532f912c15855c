/**
 * Hostile-input suite: a table of malicious or broken requests. Each case asserts the HTTP status and
 * `extensions.code` of the answer, then that the server still answers a valid `health` query. At the
 * end the heap (after GC) must be back within HEAP_MARGIN_MIB of where it was after warm-up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { rawPost, rawRequest } from './helpers/raw-http';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

/** Heap growth allowed across the whole suite, measured after a full GC (see docs/protection.md). */
const HEAP_MARGIN_MIB = 16;
const RATE_LIMIT_MAX = 100;

setFlagsFromString('--expose-gc');
const gc: () => void = (globalThis as { gc?: () => void }).gc ?? runInNewContext('gc');

interface Answer {
  status: number;
  code: string | undefined;
  codes: string[];
}

interface Case {
  name: string;
  status: number;
  /** Expected `extensions.code` of the first error; null: no GraphQL body (Node answered at the socket). */
  code: string | null;
  send: (s: TestServer) => Promise<Answer>;
}

const PREDICT = 'mutation P($i: SensorReadingInput!) { predict(input: $i) { label } }';
const BATCH = 'mutation B($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { label } }';
const HEALTH = '{ health { status } }';

function answer(status: number, body: any): Answer {
  const codes = Array.isArray(body?.errors) ? body.errors.map((e: any) => e?.extensions?.code) : [];
  return { status, code: codes[0], codes };
}

async function fetchAnswer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return answer(res.status, body);
}

/** POST with a raw string body. */
const post =
  (body: string, headers: Record<string, string> = {}) =>
  async (s: TestServer) =>
    fetchAnswer(await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }));
/** POST a GraphQL document with variables. */
const gql = (query: string, variables?: unknown, extra: Record<string, unknown> = {}) =>
  post(JSON.stringify({ query, variables, ...extra }));
/** predict with one field of a normal reading replaced (undefined: removed). */
const reading = (patch: Record<string, unknown>) => {
  const input: Record<string, unknown> = { ...NORMAL_READING, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete input[k];
  return input;
};
const predictWith = (patch: Record<string, unknown>) => gql(PREDICT, { i: reading(patch) });
/** predict with the reading JSON spliced in as raw text (for tokens JSON.stringify cannot write). */
const predictRawValue = (field: string, rawJson: string) =>
  post(
    `{"query":${JSON.stringify(PREDICT)},"variables":{"i":${JSON.stringify(reading({ [field]: 0 })).replace(`"${field}":0`, `"${field}":${rawJson}`)}}}`,
  );
const get =
  (query: string, headers: Record<string, string> = {}) =>
  async (s: TestServer) =>
    fetchAnswer(await fetch(`${s.url}?query=${encodeURIComponent(query)}`, { headers }));
const method = (m: string) => async (s: TestServer) =>
  fetchAnswer(
    await fetch(s.url, {
      method: m,
      headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' },
      body: m === 'HEAD' ? undefined : JSON.stringify({ query: HEALTH }),
    }),
  );
const raw = (chunks: Array<string | Buffer>, timeoutMs?: number) => async (s: TestServer) => {
  const r = await rawRequest(s.port, chunks, { timeoutMs });
  return answer(r.status, r.json);
};
const nested = (levels: number) => `{ health ${'{ status '.repeat(levels)}${'}'.repeat(levels)} }`;
const aliases = (n: number, field = 'health { status }') => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
const rows = (n: number) => Array.from({ length: n }, () => NORMAL_READING);
const MB = 1024 * 1024;

const cases: Case[] = [
  // --- transport: body, content type, method, encoding
  { name: 'malformed JSON (truncated)', status: 400, code: 'BAD_REQUEST', send: post('{"query": ') },
  { name: 'malformed JSON (trailing comma)', status: 400, code: 'BAD_REQUEST', send: post('{"query": "{ health { status } }",}') },
  { name: 'malformed JSON (single quotes)', status: 400, code: 'BAD_REQUEST', send: post("{'query': '{ health { status } }'}") },
  { name: 'empty JSON body', status: 400, code: 'BAD_REQUEST', send: post('') },
  { name: 'JSON null body', status: 400, code: 'BAD_REQUEST', send: post('null') },
  { name: 'JSON string body', status: 400, code: 'BAD_REQUEST', send: post('"{ health { status } }"') },
  { name: 'JSON number body', status: 400, code: 'BAD_REQUEST', send: post('42') },
  { name: 'batched HTTP array', status: 400, code: 'BAD_REQUEST', send: post(JSON.stringify([{ query: HEALTH }, { query: HEALTH }])) },
  { name: 'missing query', status: 400, code: 'BAD_REQUEST', send: post('{}') },
  { name: 'empty query string', status: 400, code: 'BAD_REQUEST', send: gql('') },
  { name: 'query is a number', status: 400, code: 'BAD_REQUEST', send: post('{"query": 5}') },
  { name: 'variables is a string', status: 400, code: 'BAD_REQUEST', send: post(JSON.stringify({ query: HEALTH, variables: 'x' })) },
  { name: 'extensions is an array', status: 400, code: 'BAD_REQUEST', send: post(JSON.stringify({ query: HEALTH, extensions: [] })) },
  {
    name: 'wrong content type: text/plain',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    send: post(JSON.stringify({ query: HEALTH }), { 'content-type': 'text/plain' }),
  },
  {
    name: 'wrong content type: form',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    send: post('query=%7Bhealth%7D', { 'content-type': 'application/x-www-form-urlencoded' }),
  },
  {
    name: 'wrong content type: multipart',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    send: post('--x--', { 'content-type': 'multipart/form-data; boundary=x' }),
  },
  {
    name: 'no content type',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    send: raw([`POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`]),
  },
  {
    name: 'GET mutation',
    status: 405,
    code: 'BAD_REQUEST',
    send: get(
      'mutation { predict(input: {airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 1, productType: L}) { label } }',
      { 'apollo-require-preflight': 'true' },
    ),
  },
  { name: 'GET without CSRF preflight header', status: 400, code: 'BAD_REQUEST', send: get(HEALTH) },
  { name: 'PUT', status: 405, code: 'BAD_REQUEST', send: method('PUT') },
  { name: 'DELETE', status: 405, code: 'BAD_REQUEST', send: method('DELETE') },
  {
    name: 'unknown path /graphql/x',
    status: 404,
    code: 'NOT_FOUND',
    send: async (s) => fetchAnswer(await fetch(`${s.url}/x`, { method: 'POST' })),
  },
  {
    name: 'invalid UTF-8 body',
    status: 400,
    code: 'BAD_REQUEST',
    send: raw([
      rawPost(
        Buffer.concat([Buffer.from('{"query":"{ health { status } }","x":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')]),
      ),
    ]),
  },
  {
    name: 'overlong UTF-8 encoding of "/"',
    status: 400,
    code: 'BAD_REQUEST',
    send: raw([rawPost(Buffer.concat([Buffer.from('{"query":"{ health { status } }'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]))]),
  },
  {
    name: 'UTF-8 encoded surrogate',
    status: 400,
    code: 'BAD_REQUEST',
    send: raw([rawPost(Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]))]),
  },
  // Bodies of 64 KiB and more are decoded and parsed in the bulk lane (src/http/bulk-lane.ts): same answers.
  {
    name: 'invalid UTF-8 at the end of a 200 KB body',
    status: 400,
    code: 'BAD_REQUEST',
    send: raw([
      rawPost(
        Buffer.concat([Buffer.from(`{"query":"{ health { status } } #${'x'.repeat(200_000)}`), Buffer.from([0xff]), Buffer.from('"}')]),
      ),
    ]),
  },
  {
    name: 'malformed JSON at the end of a 200 KB body',
    status: 400,
    code: 'BAD_REQUEST',
    send: post(`{"query":"{ health { status } } #${'x'.repeat(200_000)}",}`),
  },
  {
    name: 'a 200 KB document over MAX_QUERY_TOKENS',
    status: 400,
    code: 'QUERY_TOO_COMPLEX',
    send: gql(`{ ${'health { status } '.repeat(11_000)}}`),
  },
  {
    name: 'oversized body announced by Content-Length (10 MB)',
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    send: raw([
      `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${10 * MB}\r\nconnection: close\r\n\r\n{"query":"`,
    ]),
  },
  {
    name: 'oversized chunked body (no Content-Length)',
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    send: raw([
      `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`,
      ...Array.from({ length: 3 }, () => `${(MB / 2).toString(16)}\r\n${'a'.repeat(MB / 2)}\r\n`),
      '0\r\n\r\n',
    ]),
  },
  {
    name: 'oversized body (2 MB query)',
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    send: gql(`{ health { status } } # ${'x'.repeat(2 * MB)}`),
  },
  {
    name: 'megabyte string variable (over the body cap)',
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    send: predictWith({ productType: 'L'.repeat(1.2 * MB) }),
  },
  {
    name: 'oversized headers (64 KB cookie)',
    status: 431,
    code: null,
    send: raw([
      `POST /graphql HTTP/1.1\r\nhost: x\r\ncookie: ${'c'.repeat(64 * 1024)}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
    ]),
  },
  {
    name: 'slow client that never finishes its headers',
    status: 408,
    code: null,
    send: raw(['POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: app'], 15_000),
  },
  {
    name: 'garbage instead of HTTP',
    status: 400,
    code: null,
    send: raw(['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n']),
  },

  // --- GraphQL documents
  { name: 'syntax error', status: 400, code: 'GRAPHQL_PARSE_FAILED', send: gql('{ health { status }') },
  { name: 'NUL byte in the document', status: 400, code: 'GRAPHQL_PARSE_FAILED', send: gql('{ health\u0000 { status } }') },
  { name: 'unknown field', status: 400, code: 'GRAPHQL_VALIDATION_FAILED', send: gql('{ secrets }') },
  {
    name: 'unknown operationName',
    status: 400,
    code: 'OPERATION_RESOLUTION_FAILURE',
    send: gql('query A { health { status } }', undefined, { operationName: 'B' }),
  },
  {
    name: 'two operations, no operationName',
    status: 400,
    code: 'OPERATION_RESOLUTION_FAILURE',
    send: gql('query A { health { status } } query B { health { status } }'),
  },
  { name: 'deep nesting (40 levels)', status: 400, code: 'QUERY_TOO_COMPLEX', send: gql(nested(40)) },
  // 40,000 tokens: refused by MAX_QUERY_TOKENS (25,000) before any parsing (it was a parser failure before the token limit).
  { name: 'very deep nesting (20,000 levels)', status: 400, code: 'QUERY_TOO_COMPLEX', send: gql(nested(20_000)) },
  {
    name: 'alias flood (1,000 predict aliases)',
    status: 400,
    code: 'QUERY_TOO_COMPLEX',
    send: gql(
      `mutation ${aliases(1000, `predict(input: {airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 1, productType: L}) { label }`).slice(1).replace(/^/, '{')}`,
    ),
  },
  { name: 'alias flood (20,000 __typename)', status: 400, code: 'QUERY_TOO_COMPLEX', send: gql(aliases(20_000, '__typename')) },
  { name: 'root field flood (50 x health)', status: 400, code: 'QUERY_TOO_COMPLEX', send: gql(`{ ${'health { status } '.repeat(50)}}`) },
  {
    name: 'fragment bomb (2^25 fields expanded)',
    status: 400,
    code: 'QUERY_TOO_COMPLEX',
    send: gql(
      [
        'query Q { ...F25 }',
        'fragment F0 on Query { health { status } }',
        ...Array.from({ length: 25 }, (_, i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`),
      ].join('\n'),
    ),
  },
  {
    name: 'fragment cycle (A -> B -> A)',
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    send: gql('query Q { ...A } fragment A on Query { ...B } fragment B on Query { ...A }'),
  },
  {
    name: 'fragment self-cycle',
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    send: gql('query Q { ...A } fragment A on Query { health { status } ...A }'),
  },
  {
    name: 'repeated @skip directives',
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    send: gql(`{ health ${'@skip(if: false) '.repeat(500)}{ status } }`),
  },
  {
    name: 'subscription operation (no subscriptions here)',
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    send: gql('subscription { health { status } }'),
  },

  // --- inputs: types, enums, missing and extra fields
  { name: 'missing input argument', status: 400, code: 'GRAPHQL_VALIDATION_FAILED', send: gql('mutation { predict { label } }') },
  { name: 'missing field (torque)', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ torque: undefined }) },
  { name: 'null input', status: 400, code: 'BAD_USER_INPUT', send: gql(PREDICT, { i: null }) },
  { name: 'missing variables', status: 400, code: 'BAD_USER_INPUT', send: gql(PREDICT) },
  { name: 'extra field in the reading', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ colour: 'red' }) },
  {
    name: '__proto__ key in the reading',
    status: 400,
    code: 'BAD_USER_INPUT',
    send: post(
      `{"query":${JSON.stringify(PREDICT)},"variables":{"i":${JSON.stringify(NORMAL_READING).slice(0, -1)},"__proto__":{"isAdmin":true}}}}`,
    ),
  },
  { name: 'reading is an array', status: 400, code: 'BAD_USER_INPUT', send: gql(PREDICT, { i: [NORMAL_READING] }) },
  { name: 'string for a number ("300")', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ airTemperature: '300' }) },
  { name: 'string for a number ("abc")', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ toolWear: 'abc' }) },
  { name: 'boolean for a number', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ torque: true }) },
  { name: 'object for a number', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ torque: { valueOf: 1 } }) },
  { name: '1e309 in JSON variables (Infinity)', status: 400, code: 'BAD_USER_INPUT', send: predictRawValue('airTemperature', '1e309') },
  { name: '-1e309 in JSON variables', status: 400, code: 'BAD_USER_INPUT', send: predictRawValue('torque', '-1e309') },
  {
    name: '1e309 as a literal in the document',
    status: 200,
    code: 'BAD_USER_INPUT',
    send: gql(
      'mutation { predict(input: {airTemperature: 1e309, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 1, productType: L}) { label } }',
    ),
  },
  { name: 'NaN token in JSON', status: 400, code: 'BAD_REQUEST', send: predictRawValue('airTemperature', 'NaN') },
  { name: 'Infinity token in JSON', status: 400, code: 'BAD_REQUEST', send: predictRawValue('airTemperature', 'Infinity') },
  { name: '"NaN" string', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ airTemperature: 'NaN' }) },
  { name: '"Infinity" string', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ rotationalSpeed: 'Infinity' }) },
  { name: '"-Infinity" string', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ torque: '-Infinity' }) },
  {
    name: 'NaN literal in the document',
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    send: gql(
      'mutation { predict(input: {airTemperature: NaN, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 1, productType: L}) { label } }',
    ),
  },
  {
    name: 'Infinity literal in the document',
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    send: gql(
      'mutation { predict(input: {airTemperature: Infinity, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 1, productType: L}) { label } }',
    ),
  },
  { name: 'unknown enum value', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ productType: 'X' }) },
  { name: 'lower-case enum value', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ productType: 'l' }) },
  { name: 'enum as a number', status: 400, code: 'BAD_USER_INPUT', send: predictWith({ productType: 1 }) },
  {
    name: 'enum as a lone surrogate',
    status: 400,
    code: 'BAD_USER_INPUT',
    send: post(
      `{"query":${JSON.stringify(PREDICT)},"variables":{"i":${JSON.stringify(reading({ productType: 'Z' })).replace('"Z"', '"\\ud800"')}}}`,
    ),
  },
  {
    name: 'megabyte-ish string for a number (900 KB)',
    status: 400,
    code: 'BAD_USER_INPUT',
    send: predictWith({ torque: '9'.repeat(900 * 1024) }),
  },

  // --- physically impossible readings (class-validator): the operation runs, the field errors
  { name: 'negative air temperature (K)', status: 200, code: 'BAD_USER_INPUT', send: predictWith({ airTemperature: -5 }) },
  { name: '0 K process temperature', status: 200, code: 'BAD_USER_INPUT', send: predictWith({ processTemperature: 0 }) },
  { name: 'absurd air temperature (1e6 K)', status: 200, code: 'BAD_USER_INPUT', send: predictWith({ airTemperature: 1e6 }) },
  { name: 'negative rotational speed', status: 200, code: 'BAD_USER_INPUT', send: predictWith({ rotationalSpeed: -1 }) },
  { name: 'absurd torque (1e12 Nm)', status: 200, code: 'BAD_USER_INPUT', send: predictWith({ torque: 1e12 }) },
  { name: 'negative tool wear', status: 200, code: 'BAD_USER_INPUT', send: predictWith({ toolWear: -0.001 }) },
  { name: 'tool wear 1.7e308', status: 200, code: 'BAD_USER_INPUT', send: predictWith({ toolWear: 1.7e308 }) },
  {
    name: 'every field negative',
    status: 200,
    code: 'BAD_USER_INPUT',
    send: predictWith({ airTemperature: -1, processTemperature: -1, rotationalSpeed: -1, torque: -1, toolWear: -1 }),
  },

  // --- batches
  { name: '0-row batch', status: 200, code: 'BAD_USER_INPUT', send: gql(BATCH, { rows: [] }) },
  { name: 'null batch', status: 400, code: 'BAD_USER_INPUT', send: gql(BATCH, { rows: null }) },
  { name: '1,001-row batch (over MAX_BATCH_ROWS)', status: 200, code: 'BAD_USER_INPUT', send: gql(BATCH, { rows: rows(1001) }) },
  { name: '100,000-row batch', status: 413, code: 'PAYLOAD_TOO_LARGE', send: gql(BATCH, { rows: rows(100_000) }) },
  {
    name: 'batch with one impossible row',
    status: 200,
    code: 'BAD_USER_INPUT',
    send: gql(BATCH, { rows: [...rows(10), reading({ torque: -1 }), ...rows(10)] }),
  },
  { name: 'batch with a null row', status: 400, code: 'BAD_USER_INPUT', send: gql(BATCH, { rows: [NORMAL_READING, null] }) },

  // --- rate limit: a burst from one client (its own API key, so other cases keep their budget)
  {
    name: `burst of 150 simultaneous predicts over the rate limit (${RATE_LIMIT_MAX})`,
    status: 429,
    code: 'RATE_LIMITED',
    send: async (s) => {
      const headers = { 'x-api-key': 'hostile-burst-client' };
      const all = await Promise.all(Array.from({ length: 150 }, () => s.gql(PREDICT, { i: NORMAL_READING }, headers)));
      const ok = all.filter((r) => r.status === 200 && r.body.data?.predict).length;
      assert.equal(ok, RATE_LIMIT_MAX, 'exactly the limit got through');
      const refused = all.find((r) => r.status !== 200)!;
      return answer(refused.status, refused.body);
    },
  },
];

describe('hostile inputs', () => {
  let s: TestServer;
  let heapBefore = 0;

  before(async () => {
    s = await startServer({
      HEADERS_TIMEOUT_MS: '1000',
      REQUEST_TIMEOUT_MS: '5000',
      RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
      LOG_LEVEL: 'warn',
    });
    // Warm up (JIT, Apollo caches, ONNX session) before taking the baseline.
    for (let i = 0; i < 20; i++) await s.gql(HEALTH);
    await s.gql(PREDICT, { i: NORMAL_READING }, { 'x-api-key': 'warm-up' });
    gc();
    heapBefore = process.memoryUsage().heapUsed;
  });

  after(async () => {
    await s.close();
  });

  it(`has at least 60 cases (${cases.length})`, () => {
    assert.ok(cases.length >= 60);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
  });

  for (const c of cases) {
    it(`${c.name} -> ${c.status} ${c.code ?? '(no body)'}, then a valid request still works`, async () => {
      const got = await c.send(s);
      assert.equal(got.status, c.status, `status for ${c.name} (codes: ${got.codes.join(', ')})`);
      assert.equal(got.code ?? null, c.code, `extensions.code for ${c.name}`);
      const health = await s.gql(HEALTH);
      assert.equal(health.status, 200);
      assert.equal(health.body.data?.health?.status, 'READY');
    });
  }

  it(`memory is back within ${HEAP_MARGIN_MIB} MiB of the start after the suite`, async () => {
    await new Promise((r) => setTimeout(r, 100));
    gc();
    gc();
    const heapAfter = process.memoryUsage().heapUsed;
    const grownMiB = (heapAfter - heapBefore) / MB;
    console.log(
      `# heapUsed before ${(heapBefore / MB).toFixed(1)} MiB, after ${(heapAfter / MB).toFixed(1)} MiB, growth ${grownMiB.toFixed(1)} MiB (margin ${HEAP_MARGIN_MIB} MiB)`,
    );
    assert.ok(grownMiB < HEAP_MARGIN_MIB, `heap grew by ${grownMiB.toFixed(1)} MiB`);
  });
});
