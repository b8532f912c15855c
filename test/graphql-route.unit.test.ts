import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ApolloServer } from '@apollo/server';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildSchema } from 'graphql';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config';
import type { AppContext } from '../src/context';
import { BulkLane, LARGE_BODY_BYTES } from '../src/http/bulk-lane';
import { sha256Hex } from '../src/http/client-identity';
import type { Drain, DrainPhase } from '../src/http/drain';
import { errorReply, toHttpError } from '../src/http/errors';
import { graphqlRoute } from '../src/http/graphql.plugin';
import { tracePlugin } from '../src/http/trace';
import type { ModelHost } from '../src/inference/model-host';
import type { Metrics } from '../src/observability/metrics';
import { createProtection } from '../src/protection';
import { TrustedDocuments } from '../src/protection/trusted-documents';

// POST/GET /graphql as src/http/graphql.plugin.ts wires it, on a bare Fastify instance with a two-field
// Apollo schema: admission (drain phases, API keys, the request budget, room for a large body), the
// static query limits before Apollo, the edge headers and the context Apollo's resolvers get. The whole
// server runs the same in the HTTP suites; here each rule is driven on its own with inject.

const silent = pino({ level: 'silent' });
const KEY = 'route-test-key';

interface Route {
  app: FastifyInstance;
  drain: { phase: DrainPhase };
  bulk: BulkLane;
  refusals: number[];
  traces: unknown[];
  contexts: AppContext[];
}

const open: Route[] = [];
after(async () => {
  for (const r of open) await r.app.close();
});

const TYPE_DEFS = 'type Query { hello: String, client: String }';
const HELLO = 'query Hello { hello }';
const HELLO_ID = `sha256:${createHash('sha256').update(HELLO).digest('hex')}`;

interface RouteOptions {
  bulk?: BulkLane;
  /** Trusted documents from a manifest holding HELLO (TRUSTED_DOCUMENTS in env says the mode). */
  trusted?: boolean;
  /** Without the metrics registry (METRICS_ENABLED=false). */
  noMetrics?: boolean;
}

async function route(
  env: Record<string, string> = {},
  { bulk = new BulkLane(), trusted = false, noMetrics = false }: RouteOptions = {},
): Promise<Route> {
  let manifest: string | undefined;
  if (trusted) {
    manifest = path.join(mkdtempSync(path.join(tmpdir(), 'route-')), 'manifest.json');
    writeFileSync(manifest, JSON.stringify({ [HELLO_ID]: HELLO }));
  }
  const config: Config = loadConfig({
    RATE_LIMIT_ENABLED: 'true',
    TRUSTED_DOCUMENTS: 'off',
    ...(manifest ? { TRUSTED_DOCUMENTS_FILE: manifest } : {}),
    ...env,
  });
  const protection = createProtection(config, silent);
  const documents = trusted
    ? await TrustedDocuments.create({
        config: config.server.trustedDocuments,
        schema: buildSchema(TYPE_DEFS),
        limits: config.limits,
        validationRules: protection.validationRules,
        introspection: false,
      })
    : undefined;
  const contexts: AppContext[] = [];
  const apollo = new ApolloServer<AppContext>({
    plugins: [tracePlugin()],
    typeDefs: TYPE_DEFS,
    resolvers: {
      Query: {
        hello: () => 'world',
        client: (_root: unknown, _args: unknown, ctx: AppContext) => {
          contexts.push(ctx);
          return ctx.clientId;
        },
      },
    },
  });
  await apollo.start();
  const refusals: number[] = [];
  const metrics = noMetrics ? undefined : ({ largeBodyRefusals: { inc: () => refusals.push(1) } } as unknown as Metrics);
  const drain = { phase: 'serving' as DrainPhase };
  const app = Fastify();
  app.decorateRequest('edge', null);
  app.setErrorHandler((err, _request, reply) => errorReply(reply, toHttpError(err, config.limits.bodyLimitBytes)));
  const traces: unknown[] = [];
  app.addHook('onResponse', (request, _reply, done) => {
    traces.push(request.edge && { ...request.edge.trace });
    done();
  });
  await app.register(graphqlRoute, {
    config,
    models: {} as ModelHost,
    logger: silent,
    protection,
    apollo,
    bulk,
    drain: drain as unknown as Drain,
    metrics,
    trusted: documents,
  });
  await app.ready();
  const r = { app, drain, bulk, refusals, traces, contexts };
  open.push(r);
  return r;
}

const post = (r: Route, body: unknown, headers: Record<string, string> = {}) =>
  r.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });

describe('graphqlRoute: admission before the body is read', () => {
  it('serves while serving; answers with Connection: close while draining; refuses with 503 once closing', async () => {
    const r = await route();
    const serving = await post(r, { query: '{ hello }' });
    assert.equal(serving.statusCode, 200);
    assert.deepEqual(serving.json(), { data: { hello: 'world' } });
    assert.notEqual(serving.headers.connection, 'close');
    r.drain.phase = 'draining';
    const draining = await post(r, { query: '{ hello }' });
    assert.equal(draining.statusCode, 200);
    assert.equal(draining.headers.connection, 'close');
    r.drain.phase = 'closing';
    const closing = await post(r, { query: '{ hello }' });
    assert.equal(closing.statusCode, 503);
    assert.equal(closing.json().errors[0].extensions.code, 'SERVER_BUSY');
    assert.match(closing.json().errors[0].message, /shutting down; retry on another connection/);
    assert.equal(closing.headers.connection, 'close');
  });

  it('names the client by API key when it sends one, else by address, and hands that to the resolvers', async () => {
    const r = await route();
    assert.equal((await post(r, { query: '{ client }' })).json().data.client, 'ip:127.0.0.1');
    const keyed = await post(r, { query: '{ client }' }, { 'x-api-key': KEY });
    assert.equal(keyed.json().data.client, `key:${sha256Hex(KEY).slice(0, 16)}`);
    const ctx = r.contexts.at(-1)!;
    assert.equal(ctx.apiKeyHash, sha256Hex(KEY));
    assert.equal(typeof ctx.requestId, 'string');
    assert.ok(ctx.signal, 'the client-gone signal its queued rows would be dropped by');
    assert.ok(ctx.budgets.length >= 1, 'the request budget it spent travels with it');
  });

  it('refuses a missing or wrong key with 401 when API_KEYS is set, before anything else is spent', async () => {
    const r = await route({ API_KEYS: sha256Hex(KEY) });
    const none = await post(r, { query: '{ hello }' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.equal((await post(r, { query: '{ hello }' }, { 'x-api-key': 'wrong' })).statusCode, 401);
    assert.equal((await post(r, { query: '{ hello }' }, { 'x-api-key': KEY })).statusCode, 200);
  });

  it('spends one request of the budget per call, says what is left in RateLimit headers, and refuses past it', async () => {
    const r = await route({ REQUEST_LIMIT_MAX: '2', REQUEST_LIMIT_WINDOW: '1m' });
    const first = await post(r, { query: '{ hello }' });
    assert.equal(first.headers['ratelimit-policy'], '"requests";q=2;w=60');
    assert.match(String(first.headers.ratelimit), /^"requests";r=1;/);
    assert.match(String((await post(r, { query: '{ hello }' })).headers.ratelimit), /^"requests";r=0;/);
    const third = await post(r, { query: '{ hello }' });
    assert.equal(third.statusCode, 429);
    assert.equal(third.json().errors[0].extensions.code, 'RATE_LIMITED');
    assert.equal(third.json().errors[0].extensions.budget, 'requests');
    // A GET spends the same budget.
    assert.equal((await r.app.inject({ method: 'GET', url: '/graphql?query=%7Bhello%7D' })).statusCode, 429);
  });

  it('refuses a large body with 503 and Retry-After when the lane is full, counting it; small ones still pass', async () => {
    const bulk = new BulkLane({ maxLargeBytes: LARGE_BODY_BYTES * 2 });
    const r = await route({}, { bulk });
    // Another large body holds the lane until its response closes.
    const holder = new EventEmitter() as unknown as ServerResponse;
    assert.equal(bulk.admit(LARGE_BODY_BYTES * 2 - 10, holder), true);
    const pad = 'x'.repeat(LARGE_BODY_BYTES);
    const refused = await post(r, { query: '{ hello }', variables: { pad } });
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.json().errors[0].extensions.code, 'SERVER_BUSY');
    assert.equal(refused.json().errors[0].extensions.limit, 33_554_432, 'names LARGE_BODIES_MAX_BYTES (its default here)');
    assert.match(refused.json().errors[0].message, /Too many large request bodies in flight \(LARGE_BODIES_MAX_BYTES/);
    assert.ok(refused.headers['retry-after']);
    assert.deepEqual(r.refusals, [1]);
    assert.equal((await post(r, { query: '{ hello }' })).statusCode, 200, 'a small body does not need the lane');
    holder.emit('close');
    assert.equal((await post(r, { query: '{ hello }', variables: { pad } })).statusCode, 200, 'room again once the other answered');
    assert.equal(bulk.largeBytesInFlight, 0, 'released when its response closed');
    // Without a metrics registry the refusal is the same.
    const bare = new BulkLane({ maxLargeBytes: LARGE_BODY_BYTES * 2 });
    const plain = await route({}, { bulk: bare, noMetrics: true });
    bare.admit(LARGE_BODY_BYTES * 2 - 10, new EventEmitter() as unknown as ServerResponse);
    assert.equal((await post(plain, { query: '{ hello }', variables: { pad } })).statusCode, 503);
  });

  it('spends nothing and sends no RateLimit headers when rate limiting is off', async () => {
    const r = await route({ RATE_LIMIT_ENABLED: 'false' });
    const res = await post(r, { query: '{ client }' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers.ratelimit, undefined);
    assert.deepEqual(r.contexts.at(-1)!.budgets, []);
  });
});

describe('graphqlRoute: the query limits before Apollo parses', () => {
  it('refuses a document over a limit with 400 QUERY_TOO_COMPLEX, free text by POST and by GET', async () => {
    const r = await route({ MAX_ALIASES: '1' });
    const deep = '{ a: hello b: client c: hello }';
    const byPost = await post(r, { query: deep });
    assert.equal(byPost.statusCode, 400);
    assert.equal(byPost.json().errors[0].extensions.code, 'QUERY_TOO_COMPLEX');
    const byGet = await r.app.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent(deep)}` });
    assert.equal(byGet.statusCode, 400);
    assert.equal(byGet.json().errors[0].extensions.code, 'QUERY_TOO_COMPLEX');
    assert.equal((await post(r, { query: '{ hello }' })).statusCode, 200);
  });

  it('checks a document of 64 KiB or more in the bulk lane, with the same answers', async () => {
    const r = await route({ MAX_ALIASES: '1' });
    const comment = `# ${'x'.repeat(LARGE_BODY_BYTES)}\n`;
    const fine = await post(r, { query: `${comment}{ hello }` });
    assert.equal(fine.statusCode, 200, fine.body.slice(0, 200));
    assert.deepEqual(fine.json(), { data: { hello: 'world' } });
    const over = await post(r, { query: `${comment}{ a: hello b: client c: hello }` });
    assert.equal(over.statusCode, 400);
    assert.equal(over.json().errors[0].extensions.code, 'QUERY_TOO_COMPLEX');
  });

  it('leaves bodies without a query string to Apollo, and records the codes of what Apollo answered outside its pipeline', async () => {
    const r = await route();
    const missing = await post(r, { variables: {} });
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(r.traces.at(-1), { operationName: undefined, operationType: undefined, errorCodes: ['BAD_REQUEST'], written: true });
    // A request Apollo refuses before its pipeline (no plugin hook runs): the edge reads the codes from the body.
    const malformed = await post(r, { query: 5 });
    assert.equal(malformed.statusCode, 400);
    assert.deepEqual(r.traces.at(-1), { errorCodes: ['BAD_REQUEST'], written: true });
    const ok = await post(r, { query: '{ hello }' });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(r.traces.at(-1), { errorCodes: [], written: true, operationName: undefined, operationType: 'query' });
  });
});

describe('graphqlRoute: trusted documents, CORS and the landing page', () => {
  it('runs a trusted document named by id, by POST and by GET, and refuses text in require mode before Apollo', async () => {
    const r = await route({ TRUSTED_DOCUMENTS: 'require' }, { trusted: true });
    const byPost = await post(r, { documentId: HELLO_ID });
    assert.deepEqual(byPost.json(), { data: { hello: 'world' } });
    assert.equal(r.traces.at(-1) && (r.traces.at(-1) as { operationName?: string }).operationName, 'Hello');
    const byGet = await r.app.inject({
      method: 'GET',
      url: `/graphql?documentId=${encodeURIComponent(HELLO_ID)}`,
      headers: { 'apollo-require-preflight': 'true' },
    });
    assert.equal(byGet.statusCode, 200, byGet.body);
    assert.deepEqual(byGet.json(), { data: { hello: 'world' } });
    const unknown = await r.app.inject({
      method: 'GET',
      url: `/graphql?documentId=sha256:${'0'.repeat(64)}`,
      headers: { 'apollo-require-preflight': 'true' },
    });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().errors[0].extensions.code, 'TRUSTED_DOCUMENT_NOT_FOUND');
    const text = await post(r, { query: HELLO });
    assert.equal(text.statusCode, 403);
    assert.equal(text.json().errors[0].extensions.code, 'TRUSTED_DOCUMENT_REQUIRED');
    const large = await post(r, { query: `# ${'x'.repeat(LARGE_BODY_BYTES)}\n${HELLO}` });
    assert.equal(large.statusCode, 403);
    // Past the body limit too: refused from its first bytes, before the limit is even reached (else 413).
    const huge = await post(r, { query: `# ${'x'.repeat(2 * 1024 * 1024)}\n${HELLO}` });
    assert.equal(huge.statusCode, 403);
    assert.equal(huge.json().errors[0].extensions.code, 'TRUSTED_DOCUMENT_REQUIRED');
  });

  it('answers a CORS preflight from an allowed origin with the methods, headers and max-age the API takes', async () => {
    const r = await route({ CORS_ORIGINS: 'https://app.example' });
    const preflight = await r.app.inject({
      method: 'OPTIONS',
      url: '/graphql',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-api-key',
      },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(preflight.headers['access-control-allow-methods'], 'GET, POST, OPTIONS');
    assert.equal(
      preflight.headers['access-control-allow-headers'],
      'content-type, authorization, x-api-key, apollo-require-preflight, x-apollo-operation-name',
    );
    assert.equal(preflight.headers['access-control-max-age'], '600');
    const other = await r.app.inject({
      method: 'OPTIONS',
      url: '/graphql',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  it("gives the landing page (GET text/html) the CSP that lets Apollo's Sandbox load, and only that page", async () => {
    const r = await route({ LANDING_PAGE: 'true' });
    const page = await r.app.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(
      page.headers['content-security-policy'],
      [
        "default-src 'self'",
        "base-uri 'self'",
        "font-src 'self' https://fonts.gstatic.com",
        "form-action 'self'",
        "frame-ancestors 'self'",
        "img-src 'self' data: https://apollo-server-landing-page.cdn.apollographql.com",
        "object-src 'none'",
        "script-src 'self' 'unsafe-inline' https://embeddable-sandbox.cdn.apollographql.com",
        "script-src-attr 'none'",
        "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
        "frame-src 'self' https://sandbox.embed.apollographql.com",
        "manifest-src 'self' https://apollo-server-landing-page.cdn.apollographql.com",
      ].join(';'),
    );
    assert.equal(page.headers['cross-origin-embedder-policy'], undefined);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    // A GET that accepts HTML but prefers JSON is answered with JSON: no landing-page CSP on it.
    const run = await r.app.inject({
      method: 'GET',
      url: '/graphql?query=%7Bhello%7D',
      headers: { accept: 'application/json, text/html;q=0.5', 'apollo-require-preflight': 't' },
    });
    assert.match(String(run.headers['content-type']), /json/);
    assert.equal(run.headers['content-security-policy'], undefined);
    const json = await r.app.inject({
      method: 'GET',
      url: '/graphql?query=%7Bhello%7D',
      headers: { accept: 'application/json', 'apollo-require-preflight': 't' },
    });
    assert.equal(json.statusCode, 200);
    assert.equal(json.headers['content-security-policy'], undefined);
    const off = await route({ LANDING_PAGE: 'false' });
    const noPage = await off.app.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
    assert.equal(noPage.headers['content-security-policy'], undefined);
  });
});
