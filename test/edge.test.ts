import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { loadConfig } from '../src/config';
import { rawPost, rawRequest } from './helpers/raw-http';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

const PREDICT = 'mutation($i: SensorReadingInput!) { predict(input: $i) { label } }';
const BATCH =
  'mutation($r: [SensorReadingInput!]!) { predictBatch(inputs: $r) { label probability failureProbability isAnomaly reconstructionError } }';
const body = (query: string, variables?: Record<string, unknown>) => Buffer.from(JSON.stringify({ query, variables }));

describe('edge: request decoding (Content-Encoding)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_ENABLED: 'false', BODY_LIMIT_BYTES: '65536' });
  });
  after(() => s.close());

  for (const [encoding, encode] of [
    ['gzip', zlib.gzipSync],
    ['deflate', zlib.deflateSync],
    ['br', zlib.brotliCompressSync],
  ] as const) {
    it(`decodes a ${encoding} body`, async () => {
      const res = await rawRequest(s.port, [rawPost(encode(body(PREDICT, { i: NORMAL_READING })), { 'content-encoding': encoding })]);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json.data.predict.label, 'No Failure');
    });
  }

  it('refuses a body marked br that is not brotli data (400), and an unknown encoding (415)', async () => {
    const plain = await rawRequest(s.port, [rawPost(body(PREDICT, { i: NORMAL_READING }), { 'content-encoding': 'br' })]);
    assert.equal(plain.status, 400);
    assert.equal(plain.json.errors[0].extensions.code, 'BAD_REQUEST');
    const unknown = await rawRequest(s.port, [rawPost(body('{ health { status } }'), { 'content-encoding': 'compress' })]);
    assert.equal(unknown.status, 415);
    assert.equal(unknown.json.errors[0].extensions.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.match(unknown.json.errors[0].message, /compress/);
  });

  it('applies the body limit to the decoded size: a compression bomb is refused with 413 without inflating it', async () => {
    // 64 MiB of spaces inside a JSON string: ~64 KiB gzipped, 1,000x the 64 KiB limit once inflated.
    const bomb = zlib.gzipSync(Buffer.concat([Buffer.from('{"query":"'), Buffer.alloc(64 * 1024 * 1024, 0x20), Buffer.from('"}')]), {
      level: 9,
    });
    assert.ok(bomb.length < 65_536, `the encoded bomb (${bomb.length} B) passes the encoded-size limit`);
    const cpuBefore = process.cpuUsage();
    const res = await rawRequest(s.port, [rawPost(bomb, { 'content-encoding': 'gzip' })]);
    const cpu = process.cpuUsage(cpuBefore);
    assert.equal(res.status, 413);
    assert.equal(res.json.errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(res.json.errors[0].extensions.limit, 65_536);
    // Inflating all 64 MiB costs ~150 ms of CPU here; stopping at the limit costs a few ms. The margin is
    // wide on purpose: this asserts "did not inflate the bomb", not a speed.
    assert.ok((cpu.user + cpu.system) / 1000 < 100, `CPU spent on the bomb: ${(cpu.user + cpu.system) / 1000} ms`);
    // One byte under the limit once decoded passes the limit (it is then just bad JSON... of spaces: a 400).
    const justUnder = zlib.gzipSync(Buffer.alloc(65_536, 0x20));
    const ok = await rawRequest(s.port, [rawPost(justUnder, { 'content-encoding': 'gzip' })]);
    assert.equal(ok.status, 400, 'a decoded body of exactly the limit is read, not refused for size');
    assert.equal((await s.gql('{ health { status } }')).status, 200, 'the server still serves');
  });
});

describe('edge: response compression', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  const batch = Array.from({ length: 1000 }, () => NORMAL_READING);
  const post = (acceptEncoding?: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; raw: Buffer }>((resolve, reject) => {
      const payload = body(BATCH, { r: batch });
      const req = http.request(s.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}),
        },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, raw: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(payload);
    });

  it('compresses a large answer per Accept-Encoding (br, gzip) and sends it plain otherwise', async () => {
    const plain = await post();
    assert.equal(plain.headers['content-encoding'], undefined);
    const expected = JSON.parse(plain.raw.toString());
    assert.equal(expected.data.predictBatch.length, 1000);
    for (const [encoding, decode] of [
      ['gzip', zlib.gunzipSync],
      ['br', zlib.brotliDecompressSync],
    ] as const) {
      const res = await post(encoding);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], encoding);
      assert.match(String(res.headers.vary), /accept-encoding/i);
      assert.ok(res.raw.length * 5 < plain.raw.length, `${encoding}: ${res.raw.length} B vs ${plain.raw.length} B plain`);
      assert.deepEqual(JSON.parse(decode(res.raw).toString()), expected);
    }
  });

  it('leaves answers under the threshold uncompressed', async () => {
    const res = await fetch(`${s.origin}/healthz`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers.get('content-encoding'), null);
  });
});

describe('edge: request budget (REQUEST_LIMIT_MAX)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ REQUEST_LIMIT_MAX: '10', REQUEST_LIMIT_WINDOW: '1m', RATE_LIMIT_MAX: '1000' });
  });
  after(() => s.close());

  it('counts every /graphql request (free, malformed, refused) before the body is read; exact under concurrency', async () => {
    const free = await s.gql('{ health { status } }', undefined, { 'x-api-key': 'client-a' });
    assert.equal(free.status, 200);
    assert.equal(free.headers.get('ratelimit-policy'), '"requests";q=10;w=60');
    assert.equal(free.headers.get('ratelimit')?.replace(/t=\d+/, 't=T'), '"requests";r=9;t=T');
    const malformed = await rawRequest(s.port, [rawPost('{not json', { 'x-api-key': 'client-a' })]);
    assert.equal(malformed.status, 400);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => s.gql('{ health { status } }', undefined, { 'x-api-key': 'client-a' })),
    );
    assert.equal(results.filter((r) => r.status === 200).length, 8, '10 - the two above');
    const refused = results.filter((r) => r.status === 429);
    assert.equal(refused.length, 42);
    const e = refused[0].body.errors![0];
    assert.equal(e.extensions!.code, 'RATE_LIMITED');
    assert.equal(e.extensions!.budget, 'requests');
    assert.equal(e.extensions!.limit, 10);
    assert.ok(Number(refused[0].headers.get('retry-after')) >= 1);
    // A refused request is refused before its body is read: a body over the limit gets the 429, not a 413.
    const huge = await rawRequest(s.port, [rawPost(Buffer.alloc(2_000_000, 0x20), { 'x-api-key': 'client-a' })]);
    assert.equal(huge.status, 429);
  });

  it('leaves probes and other clients alone, and rateLimit reports it', async () => {
    for (let i = 0; i < 12; i++) assert.equal((await fetch(`${s.origin}/healthz`)).status, 200);
    const other = await s.gql(
      '{ rateLimit { requestsLimit requestsUsed requestsRemaining requestsWindowSeconds requestsResetAt } }',
      undefined,
      { 'x-api-key': 'client-b' },
    );
    assert.deepEqual(
      { ...other.body.data.rateLimit, requestsResetAt: typeof other.body.data.rateLimit.requestsResetAt },
      {
        requestsLimit: 10,
        requestsUsed: 1,
        requestsRemaining: 9,
        requestsWindowSeconds: 60,
        requestsResetAt: 'string',
      },
    );
  });

  it('RateLimit names the budget closest to running out', async () => {
    const t = await startServer({ REQUEST_LIMIT_MAX: '100', RATE_LIMIT_MAX: '3', RATE_LIMIT_ROWS_MAX: '1000' });
    try {
      const r = await t.gql(PREDICT, { i: NORMAL_READING });
      assert.equal(r.headers.get('ratelimit-policy'), '"requests";q=100;w=60, "operations";q=3;w=900, "rows";q=1000;w=900');
      assert.match(r.headers.get('ratelimit') ?? '', /^"operations";r=2;t=\d+$/);
      const batch = await t.gql(BATCH, { r: Array.from({ length: 999 }, () => NORMAL_READING) });
      assert.match(batch.headers.get('ratelimit') ?? '', /^"rows";r=0;t=\d+$/);
      const refused = await t.gql(PREDICT, { i: NORMAL_READING });
      assert.equal(refused.status, 429);
      assert.match(refused.headers.get('ratelimit') ?? '', /^"rows";r=0;t=\d+$/);
    } finally {
      await t.close();
    }
  });
});

describe('edge: production hardening', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'off', LOG_LEVEL: 'info', RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  it('gives no schema hints (no "Did you mean") in production', async () => {
    const r = await s.gql('{ healt { status } }');
    assert.equal(r.status, 400);
    assert.doesNotMatch(r.body.errors![0].message, /Did you mean/);
    const dev = await startServer({ RATE_LIMIT_ENABLED: 'false' });
    try {
      assert.match((await dev.gql('{ healt { status } }')).body.errors![0].message, /Did you mean "health"/);
    } finally {
      await dev.close();
    }
  });

  it('has persisted queries off: a hash-only request gets PERSISTED_QUERY_NOT_SUPPORTED', async () => {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }),
    });
    const json = (await res.json()) as { errors: Array<{ extensions: { code: string } }> };
    assert.equal(json.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_SUPPORTED');
  });

  it('takes the largest legitimate document (1,000 rows written inline) under the default MAX_QUERY_TOKENS', async () => {
    const row = '{airTemperature: 300.1, processTemperature: 310.2, rotationalSpeed: 1500, torque: 40, toolWear: 100, productType: L}';
    const r = await s.gql(`mutation { predictBatch(inputs: [${Array(1000).fill(row).join(' ')}]) { label probability } }`);
    assert.equal(r.status, 200, JSON.stringify(r.body.errors));
    assert.equal(r.body.data.predictBatch.length, 1000);
  });

  it('refuses a document over MAX_QUERY_TOKENS as QUERY_TOO_COMPLEX naming the limit', async () => {
    const t = await startServer({ RATE_LIMIT_ENABLED: 'false', MAX_QUERY_TOKENS: '1000' });
    try {
      const r = await t.gql(`{ ${'health { status } '.repeat(300)} }`);
      assert.equal(r.status, 400);
      assert.deepEqual(
        { code: r.body.errors![0].extensions!.code, rule: r.body.errors![0].extensions!.rule, limit: r.body.errors![0].extensions!.limit },
        { code: 'QUERY_TOO_COMPLEX', rule: 'tokens', limit: 1000 },
      );
      assert.match(r.body.errors![0].message, /MAX_QUERY_TOKENS/);
    } finally {
      await t.close();
    }
  });
});

describe('edge: landing page and schema', () => {
  it('links the console, the schema and a curl line from the Sandbox page for when the Sandbox cannot load', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false', SERVE_CONSOLE: 'true' });
    try {
      const page = await fetch(s.url, { headers: { accept: 'text/html' } });
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /Apollo Sandbox cannot be loaded/);
      assert.match(html, /<a href="\/console\/">operator console<\/a>/);
      assert.match(html, /<a href="\/schema.graphql">/);
      assert.match(html, /curl -s -X POST/);
      const sdl = await fetch(`${s.origin}/schema.graphql`);
      assert.equal(sdl.status, 200);
      assert.match(sdl.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await sdl.text();
      assert.match(text, /type Prediction \{/);
      assert.ok(
        readFileSync('schema.graphql', 'utf8').includes(text.trim().slice(0, 2000)),
        'the committed schema.graphql holds the same SDL',
      );
    } finally {
      await s.close();
    }
  });

  it('serves no schema where introspection is off (production)', async () => {
    const s = await startServer({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'allow', RATE_LIMIT_ENABLED: 'false' });
    try {
      assert.equal((await fetch(`${s.origin}/schema.graphql`)).status, 404);
    } finally {
      await s.close();
    }
  });
});

describe('edge: configuration', () => {
  it('refuses TRUST_PROXY=true (exit 2 at start) and says what to use', () => {
    assert.throws(() => loadConfig({ TRUST_PROXY: 'true' }), /TRUST_PROXY.*number of proxies/);
    assert.equal(loadConfig({ TRUST_PROXY: '1' }).server.trustProxy, 1);
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).server.trustProxy, false);
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).server.trustProxy, ['10.0.0.0/8', '127.0.0.1']);
    assert.throws(() => loadConfig({ TRUST_PROXY: 'proxy.example.com' }), /TRUST_PROXY/);
  });
});

describe('edge: under pressure', () => {
  it('answers 503 SERVER_BUSY with Retry-After while the event loop lags past MAX_EVENT_LOOP_DELAY_MS; probes still answer', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false', MAX_EVENT_LOOP_DELAY_MS: '50' });
    try {
      const agent = new http.Agent({ keepAlive: true });
      const get = (path: string) =>
        new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
          const req = http.request(
            `${s.origin}${path}`,
            { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
            (res) => {
              let text = '';
              res.on('data', (c) => (text += c));
              res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ query: '{ health { status } }' }));
        });
      assert.equal((await get('/graphql')).status, 200);
      // Block the loop the server runs on (this process) for 400 ms, twice, so a sample sees the lag.
      for (let i = 0; i < 2; i++) {
        const end = Date.now() + 400;
        while (Date.now() < end);
        await new Promise((r) => setTimeout(r, 5));
      }
      const busy = await get('/graphql');
      assert.equal(busy.status, 503, busy.text);
      assert.equal(JSON.parse(busy.text).errors[0].extensions.code, 'SERVER_BUSY');
      assert.equal(busy.headers['retry-after'], '1');
      assert.equal((await fetch(`${s.origin}/healthz`)).status, 200);
      agent.destroy();
    } finally {
      await s.close();
    }
  });
});

describe('edge: console caching', () => {
  it('sends an ETag for the console page and answers a revalidation with 304', async (t) => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false', SERVE_CONSOLE: 'true' });
    try {
      const page = await fetch(`${s.origin}/console/`);
      if (page.status === 404) return t.skip('console not built (npm run console:build); the browser test builds it');
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('cache-control'), 'no-cache');
      const etag = page.headers.get('etag');
      assert.ok(etag, 'ETag');
      assert.ok(page.headers.get('last-modified'), 'Last-Modified');
      await page.text();
      // node:http, not fetch: fetch adds Cache-Control: no-cache to conditional requests, which asks for a 200.
      const revalidate = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) =>
          http
            .get(`${s.origin}/console/`, { headers }, (res) => {
              res.resume();
              resolve(res.statusCode!);
            })
            .on('error', reject),
        );
      assert.equal(await revalidate({ 'if-none-match': etag }), 304);
      assert.equal(await revalidate({ 'if-none-match': '"something-else"' }), 200);
    } finally {
      await s.close();
    }
  });
});
