import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GraphQLError, getIntrospectionQuery, parse } from 'graphql';
import { createErrorFormatter } from '../src/error-formatter';
import { measureDocument } from '../src/protection/query-limits';
import { startServer, type TestServer } from './helpers/server';

const code = (r: { body: { errors?: Array<{ extensions?: Record<string, any> }> } }) => r.body.errors?.[0]?.extensions?.code;
const tooComplex = (r: { body: { errors?: Array<{ extensions?: Record<string, any> }> } }) =>
  r.body.errors?.find((e) => e.extensions?.code === 'QUERY_TOO_COMPLEX')?.extensions;

/** `levels` fragments, each spreading the previous one twice: 2^levels copies of `health { status }`. */
export function fragmentBomb(levels: number): string {
  const parts = ['fragment F0 on Query { health { status } }'];
  for (let i = 1; i <= levels; i++) parts.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
  return `query Bomb { ...F${levels} }\n${parts.join('\n')}`;
}

describe('query limits (validation rules)', () => {
  let s: TestServer;
  before(async () => {
    // Limits this low refuse the committed manifest's own documents at start (a manifest document over a
    // limit is a configuration error, tested in trusted-documents.unit); these cases are about free text.
    s = await startServer({
      TRUSTED_DOCUMENTS: 'off',
      RATE_LIMIT_ENABLED: 'false',
      MAX_QUERY_DEPTH: '2',
      MAX_QUERY_COST: '200',
      MAX_ALIASES: '15',
      MAX_ROOT_FIELDS: '10',
    });
  });
  after(() => s.close());

  it('rejects an operation deeper than MAX_QUERY_DEPTH with QUERY_TOO_COMPLEX naming limit and value', async () => {
    const r = await s.gql('query Deep { modelInfo { inputs { field } } }');
    assert.equal(r.status, 400);
    assert.equal(code(r), 'QUERY_TOO_COMPLEX');
    assert.deepEqual(
      { rule: r.body.errors![0].extensions!.rule, limit: r.body.errors![0].extensions!.limit, value: r.body.errors![0].extensions!.value },
      { rule: 'depth', limit: 2, value: 3 },
    );
    assert.match(r.body.errors![0].message, /MAX_QUERY_DEPTH/);
    assert.equal((await s.gql('{ modelInfo { name } }')).status, 200, 'depth 2 passes');
  });

  it('counts depth through fragments and inline fragments', async () => {
    const r = await s.gql(
      '{ ...Q } fragment Q on Query { ... on Query { modelInfo { ...I } } } fragment I on ModelInfo { inputs { field } }',
    );
    assert.equal(tooComplex(r)?.value, 3);
  });

  it('rejects a fragment bomb by its expanded cost (MAX_QUERY_COST), quickly', async () => {
    const started = Date.now();
    const r = await s.gql(fragmentBomb(20)); // 2^21 fields once expanded
    assert.equal(r.status, 400);
    const ext = tooComplex(r)!;
    assert.equal(ext.rule, 'cost');
    assert.equal(ext.limit, 200);
    assert.equal(ext.value, 2 ** 21);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  it('rejects more than MAX_ALIASES aliases', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `s${i}: status`).join(' ');
    const r = await s.gql(`{ health { ${aliases} } }`);
    assert.equal(r.status, 400);
    assert.deepEqual(
      { ...tooComplex(r), stacktrace: undefined },
      { code: 'QUERY_TOO_COMPLEX', rule: 'aliases', limit: 15, value: 16, stacktrace: undefined },
    );
    const ok = Array.from({ length: 15 }, (_, i) => `s${i}: status`).join(' ');
    assert.equal((await s.gql(`{ health { ${ok} } }`)).status, 200);
  });

  it('rejects more than MAX_ROOT_FIELDS root fields', async () => {
    const fields = Array.from({ length: 11 }, () => '__typename').join(' ');
    const requestId = `root-fields-${Date.now()}`;
    const r = await s.gql(`{ ${fields} }`, undefined, { 'x-request-id': requestId });
    assert.equal(r.status, 400);
    assert.equal(tooComplex(r)?.rule, 'rootFields');
    assert.equal(tooComplex(r)?.value, 11);
    const line = await s.logs.waitFor((l) => l.msg === 'request' && l.requestId === requestId);
    assert.deepEqual(line.errorCodes, ['QUERY_TOO_COMPLEX'], 'the access log names the real code');
  });

  it('checks every operation of a document', async () => {
    const r = await s.gql('query A { health { status } } query B { modelInfo { inputs { field } } }', undefined);
    assert.equal(r.status, 400); // operationName is missing too, but the limit is reported
    assert.ok(tooComplex(r));
  });
});

describe('query limits: defaults', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  it('the standard introspection query passes the default limits when introspection is on', async () => {
    const r = await s.gql(getIntrospectionQuery());
    assert.equal(r.status, 200, JSON.stringify(r.body.errors));
    assert.ok(r.body.data.__schema.types.length > 0);
    const [m] = measureDocument(parse(getIntrospectionQuery()));
    assert.ok(m.cost < 5_000 && m.aliases <= 15 && m.rootFields <= 10);
  });

  it('a normal 1,000-row batch document is far below the limits', () => {
    const [m] = measureDocument(
      parse(
        'mutation($r: [SensorReadingInput!]!) { predictBatch(inputs: $r) { predictedFailureType label probability failureProbability probabilities { failureType label probability } reconstructionError anomalyThreshold isAnomaly device modelVersion } }',
      ),
    );
    assert.ok(m.depth <= 3 && m.cost < 50);
  });
});

describe('transport limits', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({
      RATE_LIMIT_ENABLED: 'false',
      CORS_ORIGINS: 'https://app.example.com',
      BODY_LIMIT_BYTES: '2048',
      HEADERS_TIMEOUT_MS: '4000',
      REQUEST_TIMEOUT_MS: '9000',
    });
  });
  after(() => s.close());

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('sets headersTimeout and requestTimeout on the HTTP server', () => {
    assert.equal(s.app.httpServer.headersTimeout, 4000);
    assert.equal(s.app.httpServer.requestTimeout, 9000);
  });

  it('turns batched HTTP arrays off', async () => {
    const r = await post(JSON.stringify([{ query: '{ health { status } }' }, { query: '{ health { status } }' }]));
    assert.equal(r.status, 400);
    assert.equal(code({ body: (await r.json()) as any }), 'BAD_REQUEST');
  });

  it('caps the request body (413 PAYLOAD_TOO_LARGE)', async () => {
    const r = await post(JSON.stringify({ query: `{ health { status } } # ${'x'.repeat(4096)}` }));
    assert.equal(r.status, 413);
    const body = (await r.json()) as any;
    assert.equal(code({ body }), 'PAYLOAD_TOO_LARGE');
    assert.equal(body.errors[0].extensions.limit, 2048);
  });

  it('prevents CSRF: a simple GET without a preflight header is refused', async () => {
    const r = await fetch(`${s.url}?query=${encodeURIComponent('{ health { status } }')}`);
    assert.equal(r.status, 400);
    assert.equal(code({ body: (await r.json()) as any }), 'BAD_REQUEST');
    const ok = await fetch(`${s.url}?query=${encodeURIComponent('{ health { status } }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    assert.equal(ok.status, 200);
  });

  it('refuses a mutation over GET (405)', async () => {
    const q = encodeURIComponent(
      'mutation { predict(input: {airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 1, productType: L}) { label } }',
    );
    const r = await fetch(`${s.url}?query=${q}`, { headers: { 'apollo-require-preflight': 'true' } });
    assert.equal(r.status, 405);
    assert.equal(code({ body: (await r.json()) as any }), 'BAD_REQUEST');
  });

  it('sends Helmet security headers', async () => {
    const r = await post(JSON.stringify({ query: '{ health { status } }' }));
    const h = r.headers;
    assert.ok(h.get('content-security-policy')?.includes("default-src 'self'"));
    assert.equal(h.get('x-content-type-options'), 'nosniff');
    assert.match(h.get('strict-transport-security') ?? '', /max-age=\d+/);
    assert.equal(h.get('x-frame-options'), 'SAMEORIGIN');
    assert.equal(h.get('referrer-policy'), 'no-referrer');
    assert.equal(h.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(h.get('x-powered-by'), null);
  });

  it('allows only listed CORS origins', async () => {
    const good = await fetch(s.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(good.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const bad = await fetch(s.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(bad.headers.get('access-control-allow-origin'), null);
    const badPost = await post(JSON.stringify({ query: '{ health { status } }' }), { origin: 'https://evil.example' });
    assert.equal(badPost.headers.get('access-control-allow-origin'), null);
  });
});

describe('production: introspection and masked errors', () => {
  it('introspection is off in production unless INTROSPECTION=true; errors carry no stack traces', async () => {
    const prod = await startServer({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'allow', RATE_LIMIT_ENABLED: 'false' });
    try {
      const r = await prod.gql('{ __schema { queryType { name } } }');
      assert.equal(r.status, 400);
      assert.equal(code(r), 'GRAPHQL_VALIDATION_FAILED');
      const bad = await prod.gql('{ nope }');
      assert.equal(bad.body.errors?.[0]?.extensions?.stacktrace, undefined);
      const limited = await prod.gql(`{ ${Array.from({ length: 11 }, () => '__typename').join(' ')} }`);
      assert.equal(code(limited), 'QUERY_TOO_COMPLEX');
      assert.equal(limited.body.errors?.[0]?.extensions?.stacktrace, undefined);
      assert.equal((await prod.gql('{ __typename }')).status, 200, '__typename is not introspection');
    } finally {
      await prod.close();
    }
    const on = await startServer({
      NODE_ENV: 'production',
      TRUSTED_DOCUMENTS: 'allow',
      INTROSPECTION: 'true',
      RATE_LIMIT_ENABLED: 'false',
    });
    try {
      assert.equal((await on.gql('{ __schema { queryType { name } } }')).body.data.__schema.queryType.name, 'Query');
    } finally {
      await on.close();
    }
  });

  it('masks unknown errors in production and keeps catalogue codes', () => {
    const logged: unknown[] = [];
    const format = createErrorFormatter({ production: true, onInternal: (e) => logged.push(e) });
    const secret = new Error('ECONNREFUSED 10.0.0.5:5432 password=hunter2');
    const masked = format({ message: secret.message, extensions: { code: 'WHATEVER', stacktrace: ['at x'] } }, secret);
    assert.deepEqual(masked, { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    assert.equal(logged[0], secret);
    const kept = format(
      { message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfter: 3, stacktrace: ['at y'] } },
      new GraphQLError('slow down'),
    );
    assert.deepEqual(kept.extensions, { code: 'RATE_LIMITED', retryAfter: 3 });
  });
});
