import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, it, mock } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import pino from 'pino';
import { App, type AppOptions } from '../src/app';
import { loadConfig, type Config } from '../src/config';
import { ErrorCode, HttpError } from '../src/errors';
import { ModelHost } from '../src/inference/model-host';
import { Metrics } from '../src/observability/metrics';
import type { Tracing } from '../src/observability/tracing.types';
import { createProtection, type Protection } from '../src/protection';
import { buildSchema } from '../src/server';
import { LogCapture } from './helpers/server';

const silent = pino({ level: 'silent' });

// The HTTP edge as src/app.ts composes it, in-process (inject, or port 0 for listen): the error and
// not-found handlers, request ids and security headers, load shedding, compression, the console, proxy
// trust, the node:http server's timeouts, listen's URL and the stop sequence. No model is loaded: the
// routes used here (probes, SDL, `health`, the edge's refusals) answer without one.

const BASE = {
  ENV_FILE: '/dev/null',
  NODE_ENV: 'test',
  PORT: '0',
  HOST: '127.0.0.1',
  TRUSTED_DOCUMENTS: 'off',
  MAX_EVENT_LOOP_DELAY_MS: '0',
};

interface Built {
  app: App;
  config: Config;
  logs: LogCapture;
  models: ModelHost;
}

const open: App[] = [];
afterEach(async () => {
  mock.restoreAll();
  for (const app of open.splice(0)) await app.stop();
});

async function build(env: Record<string, string> = {}, extra: Partial<AppOptions> = {}): Promise<Built> {
  const config = loadConfig({ ...BASE, ...env });
  const logs = new LogCapture('info');
  const models = (extra.models as ModelHost | undefined) ?? new ModelHost();
  const protection = createProtection(config, logs.logger);
  const schema = await buildSchema(protection.globalMiddlewares);
  const metrics = config.observability.metrics.enabled ? new Metrics() : undefined;
  const app = await App.create({ config, models, logger: logs.logger, schema, protection, metrics, ...extra });
  open.push(app);
  return { app, config, logs, models };
}

const HEALTH = JSON.stringify({ query: '{ health { status } }' });
const postGraphql = (b: Built, headers: Record<string, string> = {}, payload: string | Buffer = HEALTH, remoteAddress?: string) =>
  b.app.fastify.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', ...headers },
    payload,
    remoteAddress,
  });

describe('App: what it is made of', () => {
  it('exposes its node:http server, metrics and trusted documents, and reports no large bodies in flight', async () => {
    const metrics = new Metrics();
    const watch = mock.method(metrics, 'watchLargeBodies');
    const b = await build({ LARGE_BODIES_MAX_BYTES: '2000000' }, { metrics });
    assert.equal(b.app.httpServer, b.app.fastify.server);
    assert.equal(b.app.metrics, metrics);
    assert.equal(b.app.trustedDocuments, undefined);
    assert.equal(b.app.largeBodiesInFlight, 0);
    assert.equal(watch.mock.callCount(), 1);
    assert.equal(watch.mock.calls[0].arguments[0](), 0);
    assert.equal((b.app as unknown as { bulk: { maxLargeBytes: number } }).bulk.maxLargeBytes, 2_000_000);
  });

  it('gives the node:http server the configured timeouts, and sweeps for them every half headers timeout (250 ms to 1 s)', async () => {
    const b = await build({ HEADERS_TIMEOUT_MS: '1200', REQUEST_TIMEOUT_MS: '3400', KEEP_ALIVE_TIMEOUT_MS: '5600' });
    const server = b.app.httpServer as unknown as Record<string, number>;
    assert.equal(server.headersTimeout, 1200);
    assert.equal(server.requestTimeout, 3400);
    assert.equal(server.keepAliveTimeout, 5600);
    assert.equal(server.connectionsCheckingInterval, 600);
    const slow = await build({ HEADERS_TIMEOUT_MS: '60000', REQUEST_TIMEOUT_MS: '120000' });
    assert.equal((slow.app.httpServer as unknown as Record<string, number>).connectionsCheckingInterval, 1000);
    const fast = await build({ HEADERS_TIMEOUT_MS: '100' });
    assert.equal((fast.app.httpServer as unknown as Record<string, number>).connectionsCheckingInterval, 250);
  });

  it('serves the probes, the SDL and /graphql, and writes one access line per request (no Fastify request lines)', async () => {
    const b = await build();
    const alive = await b.app.fastify.inject({ method: 'GET', url: '/healthz' });
    assert.equal(alive.statusCode, 200);
    assert.deepEqual(alive.json(), { status: 'alive' });
    const sdl = await b.app.fastify.inject({ method: 'GET', url: '/schema.graphql' });
    assert.equal(sdl.statusCode, 200);
    assert.match(sdl.body, /type Query/);
    const gql = await postGraphql(b, { 'x-request-id': 'gql-1' });
    assert.equal(gql.statusCode, 200);
    assert.deepEqual(gql.json(), { data: { health: { status: 'LOADING' } } });
    const access = await b.logs.waitFor((l) => l.msg === 'request' && l.requestId === 'gql-1');
    assert.equal(access.path, '/graphql');
    assert.equal(access.status, 200);
    assert.equal(b.logs.lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed').length, 0);
    // Fastify logs through the logger given.
    b.app.fastify.log.warn('from fastify');
    assert.equal(b.logs.lines.find((l) => l.msg === 'from fastify')?.level, 'warn');
  });

  it("links the console from Apollo's landing page when the console is served", async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'console-'));
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>console</title>');
    const page = (b: Built) => b.app.fastify.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
    const withConsole = await page(await build({ LANDING_PAGE: 'true' }, { consoleDir: root }));
    assert.equal(withConsole.statusCode, 200);
    assert.match(withConsole.body, /<a href="\/console\/">operator console<\/a>/);
    const without = await page(await build({ LANDING_PAGE: 'true' }));
    assert.equal(without.statusCode, 200);
    assert.match(without.body, /\/schema\.graphql/);
    assert.equal(without.body.includes('operator console'), false);
  });

  it('serves the console from its directory when given one, and not otherwise', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'console-'));
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>console</title>');
    mkdirSync(path.join(root, 'assets'));
    const served = await build({}, { consoleDir: root });
    const page = await served.app.fastify.inject({ method: 'GET', url: '/console/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<title>console<\/title>/);
    const none = await build();
    assert.equal((await none.app.fastify.inject({ method: 'GET', url: '/console/' })).statusCode, 404);
  });
});

describe('App: errors', () => {
  class BrokenHost extends ModelHost {
    override get ready(): boolean {
      throw new Error('state unreadable');
    }
  }

  it('an unexpected error is a 500 INTERNAL_SERVER_ERROR, logged with the request id', async () => {
    const b = await build({}, { models: new BrokenHost() });
    const res = await b.app.fastify.inject({ method: 'GET', url: '/readyz', headers: { 'x-request-id': 'broken-1' } });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().errors[0].extensions.code, 'INTERNAL_SERVER_ERROR');
    assert.equal(JSON.stringify(res.json()).includes('state unreadable'), false);
    const line = b.logs.lines.find((l) => l.msg === 'unhandled request error');
    assert.ok(line);
    assert.equal(line.level, 'error');
    assert.equal(line.requestId, 'broken-1');
    assert.equal((line.err as { message: string }).message, 'state unreadable');
  });

  it("a client's error is answered with its status and code, recorded in the access line, and not logged as unhandled", async () => {
    const b = await build();
    const res = await postGraphql(b, { 'x-request-id': 'bad-json' }, '{"query": ');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().errors[0].extensions.code, 'BAD_REQUEST');
    const access = await b.logs.waitFor((l) => l.msg === 'request' && l.requestId === 'bad-json');
    assert.deepEqual(access.errorCodes, ['BAD_REQUEST']);
    assert.equal(
      b.logs.lines.find((l) => l.msg === 'unhandled request error'),
      undefined,
    );
  });

  it('a body over BODY_LIMIT_BYTES is 413 PAYLOAD_TOO_LARGE', async () => {
    const b = await build({ BODY_LIMIT_BYTES: '2048' });
    const big = JSON.stringify({ query: `{ health { status } } # ${'x'.repeat(3000)}` });
    const res = await postGraphql(b, {}, big);
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
  });

  it('records the error code of a compressed error response in the access line', async () => {
    // Compression (a route-level onSend) runs after the route has read the code from the error body.
    const b = await build({ COMPRESSION_THRESHOLD_BYTES: '0', BODY_LIMIT_BYTES: '2048' });
    const big = JSON.stringify({ query: `{ health { status } } # ${'x'.repeat(3000)}` });
    const res = await postGraphql(b, { 'x-request-id': 'gz-413', 'accept-encoding': 'gzip' }, big);
    assert.equal(res.statusCode, 413);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(JSON.parse(gunzipSync(res.rawPayload).toString()).errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
    const access = await b.logs.waitFor((l) => l.msg === 'request' && l.requestId === 'gz-413');
    assert.deepEqual(access.errorCodes, ['PAYLOAD_TOO_LARGE']);
    assert.equal(access.outcome, 'error');
  });

  it('refuses for the request budget without metrics too', async () => {
    const b = await build({ REQUEST_LIMIT_MAX: '1', RATE_LIMIT_ENABLED: 'true', METRICS_ENABLED: 'false' });
    assert.equal(b.app.metrics, undefined);
    assert.equal((await postGraphql(b)).statusCode, 200);
    const refused = await postGraphql(b);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().errors[0].extensions.code, 'RATE_LIMITED');
  });

  it('counts requests refused for the request budget in the metrics, and nothing else', async () => {
    const b = await build({ REQUEST_LIMIT_MAX: '3', RATE_LIMIT_ENABLED: 'true', BODY_LIMIT_BYTES: '2048' });
    const refusals = async () => {
      const { body } = await b.app.metrics!.metricsText();
      return body.split('\n').filter((l) => l.startsWith('pm_rate_limit_refusals_total{'));
    };
    assert.equal((await postGraphql(b)).statusCode, 200);
    await postGraphql(b, {}, '{"query": ');
    // A 413 goes through the same error handler; it is no refusal for the budget.
    const tooLarge = await postGraphql(b, {}, JSON.stringify({ query: `{ health { status } } # ${'x'.repeat(3000)}` }));
    assert.equal(tooLarge.statusCode, 413);
    assert.equal((await refusals()).filter((l) => !l.endsWith(' 0')).length, 0);
    const refused = await postGraphql(b);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().errors[0].extensions.code, 'RATE_LIMITED');
    assert.deepEqual(
      (await refusals()).filter((l) => !l.endsWith(' 0')),
      ['pm_rate_limit_refusals_total{budget="requests"} 1'],
    );
  });

  it('counts only the request budget: a RATE_LIMITED for another budget reaching the edge is not counted as one', async () => {
    const rows = new HttpError(429, ErrorCode.RATE_LIMITED, 'Row budget spent', { budget: 'rows' });
    const config = loadConfig({ ...BASE, RATE_LIMIT_ENABLED: 'true' });
    const real = createProtection(config, silent);
    const limiter = {
      consumeRequest: async () => {
        throw rows;
      },
    };
    const b = await build({ RATE_LIMIT_ENABLED: 'true' }, { protection: { ...real, limiter } as unknown as Protection });
    const refused = await postGraphql(b);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().errors[0].extensions.budget, 'rows');
    const { body } = await b.app.metrics!.metricsText();
    assert.deepEqual(
      body.split('\n').filter((l) => l.startsWith('pm_rate_limit_refusals_total{') && !l.endsWith(' 0')),
      [],
    );
  });

  it('an unknown path is 404 NOT_FOUND naming the path without its query string', async () => {
    const b = await build();
    const res = await b.app.fastify.inject({ method: 'GET', url: '/nope/here?secret=1' });
    assert.equal(res.statusCode, 404);
    const [error] = res.json().errors;
    assert.equal(error.message, 'Not found: /nope/here');
    assert.equal(error.extensions.code, 'NOT_FOUND');
  });
});

describe('App: request ids and headers', () => {
  it('keeps a client x-request-id of 1 to 128 characters, else makes a UUID; echoes it with the security headers', async () => {
    const b = await build();
    const idOf = async (id?: string) => {
      const res = await b.app.fastify.inject({ method: 'GET', url: '/healthz', headers: id === undefined ? {} : { 'x-request-id': id } });
      return { id: res.headers['x-request-id'] as string, res };
    };
    assert.equal((await idOf('abc')).id, 'abc');
    assert.equal((await idOf('a'.repeat(128))).id, 'a'.repeat(128));
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    assert.match((await idOf('a'.repeat(129))).id, uuid);
    assert.match((await idOf('')).id, uuid);
    const { res } = await idOf();
    assert.match(res.headers['x-request-id'] as string, uuid);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const csp = res.headers['content-security-policy'] as string;
    assert.match(csp, /default-src 'self'/);
    assert.equal(csp.includes('upgrade-insecure-requests'), false);
  });
});

describe('App: compression', () => {
  it('compresses responses over COMPRESSION_THRESHOLD_BYTES with brotli at quality 4, or gzip; not deflate', async () => {
    const b = await build({ COMPRESSION_THRESHOLD_BYTES: '100' });
    const get = (encoding: string) =>
      b.app.fastify.inject({ method: 'GET', url: '/schema.graphql', headers: { 'accept-encoding': encoding } });
    const plain = await get('identity');
    assert.equal(plain.headers['content-encoding'], undefined);
    const br = await get('br');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(brotliDecompressSync(br.rawPayload).toString(), plain.body);
    const quality4 = brotliCompressSync(Buffer.from(plain.body), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } });
    assert.equal(br.rawPayload.length, quality4.length);
    const gzip = await get('gzip');
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gzip.rawPayload).toString(), plain.body);
    const deflate = await get('deflate');
    assert.equal(deflate.headers['content-encoding'], undefined);
    assert.equal(deflate.body, plain.body);
  });

  it('leaves responses under the threshold uncompressed', async () => {
    const b = await build({ COMPRESSION_THRESHOLD_BYTES: '10000000' });
    const res = await b.app.fastify.inject({ method: 'GET', url: '/schema.graphql', headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.match(res.body, /type Query/);
  });

  it('decodes a gzip request body once (its own body decoder, not the compression plugin)', async () => {
    const b = await build();
    const res = await postGraphql(b, { 'content-encoding': 'gzip' }, gzipSync(HEALTH));
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { data: { health: { status: 'LOADING' } } });
  });
});

describe('App: load shedding', () => {
  it('answers 503 SERVER_BUSY while the event loop lags past MAX_EVENT_LOOP_DELAY_MS; the probes still answer', async () => {
    const b = await build({ MAX_EVENT_LOOP_DELAY_MS: '50' });
    assert.equal((await postGraphql(b)).statusCode, 200);
    // Block this process's event loop (the server's) for 300 ms, twice, so an under-pressure sample sees the lag.
    for (let i = 0; i < 2; i++) {
      const end = Date.now() + 300;
      while (Date.now() < end);
      await new Promise((r) => setImmediate(r));
    }
    const busy = await postGraphql(b);
    assert.equal(busy.statusCode, 503, busy.body);
    const [error] = busy.json().errors;
    assert.equal(error.extensions.code, 'SERVER_BUSY');
    assert.equal(error.message, 'The server is overloaded; retry shortly');
    assert.equal((await b.app.fastify.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });
});

describe('App: proxy trust', () => {
  // The client a request is counted as is the address proxy trust resolves; with one request allowed per
  // client, a second request is refused exactly when it resolves to the same client.
  const env = { REQUEST_LIMIT_MAX: '1', RATE_LIMIT_ENABLED: 'true' };
  const status = async (b: Built, forwarded: string) =>
    (await postGraphql(b, { 'x-forwarded-for': forwarded }, HEALTH, '10.0.0.1')).statusCode;

  it('a hop count trusts that many proxies: the client is the address that many hops back', async () => {
    const b = await build({ ...env, TRUST_PROXY: '1' });
    assert.equal(await status(b, '5.5.5.5, 6.6.6.6'), 200);
    // The same last hop: the same client, whatever came before it.
    assert.equal(await status(b, '7.7.7.7, 6.6.6.6'), 429);
    // Another last hop: another client (not the proxy's own address).
    assert.equal(await status(b, '8.8.8.8'), 200);
  });

  it('proxy addresses trust exactly those proxies', async () => {
    const b = await build({ ...env, TRUST_PROXY: '10.0.0.1' });
    assert.equal(await status(b, '9.9.9.9'), 200);
    assert.equal(await status(b, '9.9.9.8'), 200);
    assert.equal(await status(b, '9.9.9.8'), 429);
  });

  it('no trust: the client is the connection address', async () => {
    const b = await build({ ...env, TRUST_PROXY: 'false' });
    assert.equal(await status(b, '9.9.9.9'), 200);
    assert.equal(await status(b, '9.9.9.8'), 429);
  });
});

describe('App: listen and stop', () => {
  it('listens where the config says by default and names the URL; an any-address host is shown as localhost', async () => {
    // A short drain: the fetch below leaves an idle keep-alive connection open.
    const b = await build({ PORT: '0', HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '50' });
    const { port, url } = await b.app.listen();
    assert.ok(port > 0);
    assert.equal(url, `http://127.0.0.1:${port}/graphql`);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200);
    const any = await build();
    const shown = await any.app.listen(0, '0.0.0.0');
    assert.equal(shown.url, `http://localhost:${shown.port}/graphql`);
    const v6 = await build();
    const six = await v6.app.listen(0, '::').catch(() => undefined);
    if (six) assert.equal(six.url, `http://localhost:${six.port}/graphql`);
  });

  it('stops once, in order: the model drains, the HTTP drain, Apollo (and its plugins), the model closes, tracing flushes', async () => {
    const order: string[] = [];
    const models = new ModelHost();
    mock.method(models, 'drain', () => void order.push('models.drain'));
    mock.method(models, 'close', async () => void order.push('models.close'));
    const registered: unknown[] = [];
    const tracing = {
      registerHttp: (fastify: unknown) => void registered.push(fastify),
      apolloPlugin: () => ({ serverWillStart: async () => ({ serverWillStop: async () => void order.push('apollo.stop') }) }),
      modelObserver: () => ({}),
      shutdown: async (ms: number) => void order.push(`tracing.shutdown(${ms})`),
    } as unknown as Tracing;
    const b = await build({ SHUTDOWN_TIMEOUT_MS: '1234' }, { models, tracing });
    assert.deepEqual(registered, [b.app.fastify]);
    const { port } = await b.app.listen(0, '127.0.0.1');
    const first = b.app.stop();
    assert.equal(b.app.stop(), first);
    await first;
    assert.deepEqual(order, ['models.drain', 'apollo.stop', 'models.close', 'tracing.shutdown(1234)']);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
    await b.app.stop();
    assert.equal(order.length, 4);
  });
});
