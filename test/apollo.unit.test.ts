import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { HeaderMap, type ApolloServer, type ApolloServerPlugin, type GraphQLRequest } from '@apollo/server';
import { GraphQLError, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type DocumentNode, type ValidationRule } from 'graphql';
import { createApollo, type ApolloOptions } from '../src/apollo';
import { loadConfig, type Config } from '../src/config';
import type { AppContext } from '../src/context';
import type { ModelHost } from '../src/inference/model-host';
import { Metrics } from '../src/observability/metrics';
import type { Tracing } from '../src/observability/tracing.types';
import type { Protection } from '../src/protection';
import type { TrustedDocuments } from '../src/protection/trusted-documents';
import * as executorModule from '../src/schema/executor';
import { contextFor } from './helpers/fake-models';
import { LogCapture } from './helpers/server';

// Apollo Server as src/apollo.ts builds it, executed in-process (executeOperation, executeHTTPGraphQLRequest)
// on a four-field schema: the graphql-jit gateway and trusted documents, the error boundary, parse and
// validation limits, Apollo's options (CSRF, batching, persisted queries, signals), and the plugins.

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      hello: { type: GraphQLString, resolve: () => 'world' },
      boom: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('secret internal detail');
        },
      },
      notReady: {
        type: GraphQLString,
        resolve: () => {
          throw new GraphQLError('The model is loading', { extensions: { code: 'MODEL_NOT_READY' } });
        },
      },
      forbidden: { type: GraphQLString, resolve: () => 'never' },
    },
  }),
});

/** A validation rule standing in for the protection's: refuses the `forbidden` field. */
const refuseForbidden: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value === 'forbidden') context.reportError(new GraphQLError('forbidden is refused', { nodes: node }));
  },
});

interface Built {
  apollo: ApolloServer<AppContext>;
  config: Config;
  logs: LogCapture;
  stopped: string[];
  ctx: () => AppContext;
}

const open: Array<ApolloServer<AppContext>> = [];
afterEach(async () => {
  mock.restoreAll();
  for (const a of open.splice(0)) await a.stop();
});

async function build(env: Record<string, string> = {}, extra: Partial<ApolloOptions> = {}): Promise<Built> {
  const config = loadConfig({ ENV_FILE: '/dev/null', NODE_ENV: 'test', TRUSTED_DOCUMENTS: 'off', ...env });
  const logs = new LogCapture('debug');
  const stopped: string[] = [];
  const protection = {
    globalMiddlewares: [],
    validationRules: [refuseForbidden],
    plugins: [{ serverWillStart: async () => ({ serverWillStop: async () => void stopped.push('protection') }) }],
  } as unknown as Protection;
  const apollo = createApollo({ config, logger: logs.logger, schema, protection, consoleServed: false, metrics: undefined, ...extra });
  await apollo.start();
  open.push(apollo);
  return { apollo, config, logs, stopped, ctx: () => contextFor(config, {} as ModelHost, logs.logger) };
}

async function run(b: Built, request: GraphQLRequest, contextValue = b.ctx()) {
  const response = await b.apollo.executeOperation(request, { contextValue });
  assert.equal(response.body.kind, 'single');
  return { result: (response.body as { singleResult: { data?: Record<string, unknown>; errors?: any[] } }).singleResult, contextValue };
}

/** An HTTP request through Apollo's own request handling (what the Fastify integration calls). */
async function http(b: Built, method: 'GET' | 'POST', headers: Record<string, string>, body?: unknown, search = '') {
  const map = new HeaderMap();
  for (const [k, v] of Object.entries(headers)) map.set(k, v);
  const response = await b.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method, headers: map, search, body },
    context: async () => b.ctx(),
  });
  let text = '';
  if (response.body.kind === 'complete') text = response.body.string;
  else for await (const chunk of response.body.asyncIterator) text += chunk;
  return { status: response.status ?? 200, headers: response.headers, text };
}

describe('createApollo: the executor', () => {
  function spyJit() {
    const executed: string[] = [];
    const prepared: DocumentNode[] = [];
    const real = executorModule.jitGateway;
    const spy = mock.method(executorModule, 'jitGateway', (s: GraphQLSchema) => {
      const gateway = real(s);
      return {
        ...gateway,
        prepare: (doc: DocumentNode) => (prepared.push(doc), gateway.prepare(doc)),
        load: async (...args: Parameters<typeof gateway.load>) => {
          const loaded = await gateway.load(...args);
          const executor = loaded.executor!;
          return { ...loaded, executor: (ctx: Parameters<typeof executor>[0]) => (executed.push(ctx.source), executor(ctx)) };
        },
      };
    });
    return { executed, prepared, spy };
  }

  it('GRAPHQL_EXECUTOR=jit executes through the graphql-jit gateway on the schema given', async () => {
    const jit = spyJit();
    const b = await build({ GRAPHQL_EXECUTOR: 'jit' });
    assert.equal(jit.spy.mock.callCount(), 1);
    assert.equal(jit.spy.mock.calls[0].arguments[0], schema);
    const { result } = await run(b, { query: 'query Hello { hello }' });
    assert.deepEqual(result.data, { hello: 'world' });
    assert.deepEqual(jit.executed, ['query Hello { hello }']);
  });

  it('GRAPHQL_EXECUTOR=graphql-js executes on the schema itself, no gateway', async () => {
    const jit = spyJit();
    const b = await build({ GRAPHQL_EXECUTOR: 'graphql-js' });
    assert.equal(jit.spy.mock.callCount(), 0);
    const { result } = await run(b, { query: '{ hello }' });
    assert.deepEqual({ ...result.data }, { hello: 'world' });
  });

  function fakeTrusted(text: string) {
    const document = parse(text);
    const reads: string[] = [];
    const listeners: Array<(docs: Array<{ document: DocumentNode }>) => void> = [];
    const trusted = {
      onLoad(listener: (docs: Array<{ document: DocumentNode }>) => void) {
        listeners.push(listener);
        listener([{ document }]);
      },
      documentStore: () => ({
        get: async (key: string) => (reads.push(key), undefined),
        set: async () => undefined,
        delete: async () => true,
      }),
    } as unknown as TrustedDocuments;
    return { trusted, document, reads, listeners };
  }

  it('trusted documents are compiled as they load (jit), and Apollo reads documents from their store', async () => {
    const jit = spyJit();
    const t = fakeTrusted('query Hello { hello }');
    const b = await build({ GRAPHQL_EXECUTOR: 'jit' }, { trusted: t.trusted });
    assert.equal(t.listeners.length, 1);
    assert.deepEqual(jit.prepared, [t.document]);
    const { result } = await run(b, { query: 'query Hello { hello }' });
    assert.deepEqual(result.data, { hello: 'world' });
    assert.equal(t.reads.length, 1);
  });

  it('with graphql-js nothing is compiled, and the store is still read', async () => {
    const jit = spyJit();
    const t = fakeTrusted('query Hello { hello }');
    const b = await build({ GRAPHQL_EXECUTOR: 'graphql-js' }, { trusted: t.trusted });
    assert.equal(t.listeners.length, 0);
    assert.deepEqual(jit.prepared, []);
    await run(b, { query: 'query Hello { hello }' });
    assert.equal(t.reads.length, 1);
  });
});

describe('createApollo: the error boundary', () => {
  it('an unknown error is INTERNAL_SERVER_ERROR with a generic message in production, its details logged only', async () => {
    const b = await build({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'off', LOG_LEVEL: 'info' });
    const { result } = await run(b, { query: '{ boom }' });
    assert.equal(result.errors?.length, 1);
    const [error] = result.errors!;
    assert.equal(error.extensions.code, 'INTERNAL_SERVER_ERROR');
    assert.equal(JSON.stringify(error).includes('secret internal detail'), false);
    assert.equal(error.extensions.stacktrace, undefined);
    const logged = b.logs.lines.find((l) => l.msg === 'internal error');
    assert.ok(logged);
    assert.equal(logged.level, 'error');
    assert.equal((logged.err as { message: string }).message, 'secret internal detail');
  });

  it('outside production the stack trace is in the response', async () => {
    const b = await build({ NODE_ENV: 'development' });
    const { result } = await run(b, { query: '{ notReady }' });
    const [error] = result.errors!;
    assert.equal(error.extensions.code, 'MODEL_NOT_READY');
    assert.ok(Array.isArray(error.extensions.stacktrace) && error.extensions.stacktrace.length > 0);
    const internal = await run(b, { query: '{ boom }' });
    assert.equal(internal.result.errors![0].extensions.code, 'INTERNAL_SERVER_ERROR');
    assert.ok(b.logs.lines.some((l) => l.msg === 'internal error'));
  });

  it('no field suggestions in production; suggestions outside it', async () => {
    const prod = await build({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'off' });
    const hidden = await run(prod, { query: '{ helo }' });
    assert.equal(hidden.result.errors![0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.equal(hidden.result.errors![0].message.includes('Did you mean'), false);
    const dev = await build({ NODE_ENV: 'development' });
    const shown = await run(dev, { query: '{ helo }' });
    assert.match(shown.result.errors![0].message, /Did you mean "hello"\?/);
  });
});

describe('createApollo: limits and validation', () => {
  it('stops parsing after MAX_QUERY_TOKENS tokens', async () => {
    const b = await build({ MAX_QUERY_TOKENS: '100' });
    const under = `{ ${'hello '.repeat(90)}}`;
    assert.deepEqual((await run(b, { query: under })).result.data, { hello: 'world' });
    const over = `{ ${'hello '.repeat(120)}}`;
    const { result } = await run(b, { query: over });
    assert.equal(result.errors![0].extensions.code, 'GRAPHQL_PARSE_FAILED');
    assert.match(result.errors![0].message, /100 tokens/);
  });

  it("runs the protection's validation rules", async () => {
    const b = await build();
    const { result } = await run(b, { query: '{ hello forbidden }' });
    assert.equal(result.data, undefined);
    assert.equal(result.errors![0].message, 'forbidden is refused');
    assert.equal(result.errors![0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('introspection follows INTROSPECTION', async () => {
    const query = '{ __schema { queryType { name } } }';
    const on = await build({ INTROSPECTION: 'true' });
    assert.deepEqual((await run(on, { query })).result.data, { __schema: { queryType: { name: 'Query' } } });
    const off = await build({ INTROSPECTION: 'false' });
    const { result } = await run(off, { query });
    assert.equal(result.errors![0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.match(result.errors![0].message, /introspection/i);
  });

  it('persisted queries are not supported', async () => {
    const b = await build();
    const { result } = await run(b, { extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } });
    assert.equal(result.errors![0].extensions.code, 'PERSISTED_QUERY_NOT_SUPPORTED');
  });
});

describe('createApollo: HTTP options', () => {
  it('refuses a simple GET without a preflight header (CSRF prevention) and answers one with it', async () => {
    const b = await build();
    const refused = await http(b, 'GET', {}, undefined, 'query=%7B%20hello%20%7D');
    assert.equal(refused.status, 400);
    assert.match(refused.text, /CSRF/);
    const served = await http(b, 'GET', { 'apollo-require-preflight': 'true' }, undefined, 'query=%7B%20hello%20%7D');
    assert.equal(served.status, 200);
    assert.deepEqual(JSON.parse(served.text), { data: { hello: 'world' } });
  });

  it('refuses batched requests', async () => {
    const b = await build();
    const res = await http(b, 'POST', { 'content-type': 'application/json' }, [{ query: '{ hello }' }, { query: '{ hello }' }]);
    assert.equal(res.status, 400);
    assert.match(res.text, /batch/i);
  });

  it('sends no cache-control header (cache control is off)', async () => {
    const b = await build();
    const res = await http(b, 'POST', { 'content-type': 'application/json' }, { query: '{ hello }' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), undefined);
  });

  it('leaves termination signals to the process (no SIGTERM or SIGINT listener of its own)', async () => {
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const b = await build();
    assert.deepEqual([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')], before);
    assert.ok(b.apollo);
  });

  it('serves the landing page with the console link when the console is served; none when LANDING_PAGE=false', async () => {
    const page = await build({ LANDING_PAGE: 'true' }, { consoleServed: true });
    const html = await http(page, 'GET', { accept: 'text/html' });
    assert.equal(html.status, 200);
    assert.match(html.text, /<a href="\/console\/">operator console<\/a>/);
    const noConsole = await build({ LANDING_PAGE: 'true' }, { consoleServed: false });
    const plain = await http(noConsole, 'GET', { accept: 'text/html' });
    assert.equal(plain.status, 200);
    assert.match(plain.text, /\/schema\.graphql/);
    assert.equal(plain.text.includes('operator console'), false);
    const off = await build({ LANDING_PAGE: 'false' });
    const none = await http(off, 'GET', { accept: 'text/html' });
    assert.notEqual(none.status, 200);
    assert.equal(none.text.includes('<html'), false);
  });
});

describe('createApollo: plugins and logging', () => {
  it("writes the request's trace (operation, type, error codes)", async () => {
    const b = await build();
    const ok = await run(b, { query: 'query Hello { hello }', operationName: 'Hello' });
    assert.deepEqual(ok.contextValue.trace, { operationName: 'Hello', operationType: 'query', errorCodes: [], written: true });
    const failed = await run(b, { query: '{ notReady }' });
    assert.deepEqual(failed.contextValue.trace.errorCodes, ['MODEL_NOT_READY']);
  });

  it("gives the formatter a request's variables (coercion errors carry the value sent)", async () => {
    const withArg = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: { echo: { type: GraphQLString, args: { n: { type: GraphQLString } }, resolve: (_r, a) => a.n } },
      }),
    });
    const b = await build({}, { schema: withArg });
    const { result } = await run(b, { query: 'query Q($n: String) { echo(n: $n) }', variables: { n: { not: 'a string' } } });
    const [error] = result.errors!;
    assert.equal(error.extensions.code, 'BAD_USER_INPUT');
    assert.ok(Array.isArray(error.extensions.violations), JSON.stringify(error));
  });

  it("runs the protection's plugins (its store closes when Apollo stops)", async () => {
    const b = await build();
    assert.deepEqual(b.stopped, []);
    await b.apollo.stop();
    assert.deepEqual(b.stopped, ['protection']);
  });

  it('records operations in the metrics when they are on', async () => {
    const metrics = new Metrics();
    const b = await build({}, { metrics });
    await run(b, { query: 'query Hello { hello }', operationName: 'Hello' });
    const { body } = await metrics.metricsText();
    assert.match(body, /^pm_graphql_operations_total\{[^}]*outcome="ok"[^}]*\} 1$/m);
  });

  it('adds the tracing plugin, built on the schema, when tracing is on', async () => {
    const seen: string[] = [];
    const plugins: GraphQLSchema[] = [];
    const tracing = {
      apolloPlugin: (s: GraphQLSchema): ApolloServerPlugin<AppContext> => {
        plugins.push(s);
        return { requestDidStart: async (rc) => void seen.push(rc.request.query ?? '') };
      },
    } as unknown as Tracing;
    const b = await build({}, { tracing });
    assert.deepEqual(plugins, [schema]);
    await run(b, { query: '{ hello }' });
    assert.deepEqual(seen, ['{ hello }']);
  });

  it("forwards Apollo's own log lines to the logger at the same level", async () => {
    const b = await build();
    b.apollo.logger.debug('d-line');
    b.apollo.logger.info('i-line');
    b.apollo.logger.warn('w-line');
    b.apollo.logger.error('e-line');
    assert.deepEqual(
      b.logs.lines.filter((l) => String(l.msg).endsWith('-line')).map((l) => [l.level, l.msg]),
      [
        ['debug', 'd-line'],
        ['info', 'i-line'],
        ['warn', 'w-line'],
        ['error', 'e-line'],
      ],
    );
  });
});
