// Tracing without a server (issue 25): the SDK side (src/observability/tracing-sdk.ts) with its spans caught
// by an in-memory exporter (SdkTracing.create's third argument) and read back as the SDK hands them to OTLP:
// the HTTP span of a Fastify instance, the GraphQL operation span through the Apollo plugin's hooks, the
// queue-wait, onnx.run and model.reload spans, sampling, resource, limits, dropped-span counts and a bounded
// shutdown. A real OTLP/HTTP receiver checks the exporter each protocol gets. test/tracing.test.ts runs the
// whole server against the receiver.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type DiagLogger,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  SamplingDecision,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import pino from 'pino';
import type { TracingConfig } from '../src/config';
import type { AppContext } from '../src/context';
import type { ModelObserver } from '../src/inference/model-host';
import { Metrics } from '../src/observability/metrics';
import { createTracing, mergeObservers, traceIdOf, traceLogFields, type RequestSpans } from '../src/observability/tracing';
import { LinkedRootSampler, SdkTracing } from '../src/observability/tracing-sdk';
import { SERVER_VERSION } from '../src/version';
import { metricValue } from './helpers/metrics';
import { OtlpReceiver } from './helpers/otlp-receiver';
import { until } from './helpers/wait';

const logger = pino({ level: 'silent' });

function config(over: Partial<TracingConfig> = {}): TracingConfig {
  return {
    exporter: 'otlp',
    url: 'http://127.0.0.1:9/v1/traces',
    protocol: 'http/json',
    headers: {},
    timeoutMs: 10_000,
    serviceName: 'pm-unit',
    resourceAttributes: {},
    sampler: 'always_on',
    samplerRatio: 1,
    batch: { scheduleDelayMs: 60_000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    ...over,
  };
}

/** Keeps what the batch processor exports; `hold` keeps each export pending until `release`. */
class Collector implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  failure: Error | undefined;
  hold = false;
  private readonly pending: Array<() => void> = [];

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const finish = () => {
      if (this.failure) return done({ code: ExportResultCode.FAILED, error: this.failure });
      this.spans.push(...spans);
      done({ code: ExportResultCode.SUCCESS });
    };
    if (this.hold) this.pending.push(finish);
    else finish();
  }

  get held(): number {
    return this.pending.length;
  }

  release(): void {
    this.hold = false;
    for (const finish of this.pending.splice(0)) finish();
  }

  async shutdown(): Promise<void> {}
}

function make(over: Partial<TracingConfig> = {}, metrics?: Metrics) {
  const exporter = new Collector();
  const tracing = SdkTracing.create(config(over), { logger, metrics }, exporter);
  return {
    tracing,
    exporter,
    /** Shuts the SDK down (exporting what is queued) and answers every span it exported. */
    finish: async () => {
      await tracing.shutdown(10_000);
      return exporter.spans;
    },
  };
}

function randomContext(sampled = true): SpanContext {
  return {
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  };
}
const traceparent = (c: SpanContext) => `00-${c.traceId}-${c.spanId}-0${c.traceFlags}`;

/** Recording spans from a provider of their own, to stand in for a request's HTTP or operation span. */
const foreign = new TracerProvider().getTracer('test');
function handle(operation = false): RequestSpans & { recorded: Span[] } {
  const http = foreign.startSpan('http');
  const spans: RequestSpans & { recorded: Span[] } = { http, rows: 0, recorded: [http] };
  if (operation) {
    spans.operation = foreign.startSpan('operation', {}, trace.setSpan(ROOT_CONTEXT, http));
    spans.recorded.push(spans.operation);
  }
  return spans;
}
/** A request handle whose span is only a context (another process's, or not sampled here). */
const remoteHandle = (sampled: boolean): RequestSpans => ({ http: trace.wrapSpanContext(randomContext(sampled)), rows: 0 });

const only = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `${found.length} spans named ${name}: ${spans.map((s) => s.name).join(', ')}`);
  return found[0];
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const startMs = (s: ReadableSpan) => hrTimeToMilliseconds(s.startTime);
/** An epoch time in ms is the performance.now() reading `at` (the SDK corrects for a clock drift of a few ms). */
const near = (epochMs: number, at: number) => Math.abs(epochMs - (performance.timeOrigin + at)) < 20;

// ------------------------------------------------------------------ the HTTP span

/** What the instance logged at warn or above (a hook that throws is logged, not answered). */
const problems = new WeakMap<FastifyInstance, Array<{ level: number; msg: string }>>();

async function httpApp(tracing: SdkTracing): Promise<FastifyInstance> {
  const logged: Array<{ level: number; msg: string }> = [];
  const stream = { write: (line: string) => logged.push(JSON.parse(line) as { level: number; msg: string }) };
  const app = Fastify({ loggerInstance: pino({ level: 'warn' }, stream) }) as unknown as FastifyInstance;
  problems.set(app, logged);
  tracing.registerHttp(app);
  const fields = async (request: { otelSpans?: RequestSpans | null }) => ({
    ...traceLogFields(request as never),
    spans: request.otelSpans,
  });
  app.get('/items/:id', async (request) => traceLogFields(request));
  for (const path of ['/healthz', '/readyz', '/metrics', '/healthzz']) {
    app.get(path, async (request) => ({ ...(await fields(request)), spans: request.otelSpans === null ? 'null' : 'set' }));
  }
  app.get('/boom', async (_request, reply) => reply.code(500).send('boom'));
  app.get('/unavailable', async (_request, reply) => reply.code(503).send('later'));
  app.get('/gone', async (_request, reply) => reply.code(499).send('gone'));
  await app.ready();
  return app;
}

describe('SdkTracing.registerHttp', () => {
  it('names the server span by method and route, continues the traceparent and records path, route and status', async () => {
    const { tracing, finish } = make();
    const app = await httpApp(tracing);
    const parent = randomContext();
    const res = await app.inject({ method: 'GET', url: '/items/42?color=red', headers: { traceparent: traceparent(parent) } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { traceId: parent.traceId }, 'the access log fields name the trace');
    await app.close();
    const span = only(await finish(), 'GET /items/:id');
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.spanContext().traceId, parent.traceId);
    assert.equal(parentOf(span), parent.spanId);
    assert.deepEqual(span.attributes, {
      'http.request.method': 'GET',
      'url.path': '/items/42',
      'http.route': '/items/:id',
      'http.response.status_code': 200,
    });
    assert.deepEqual(span.status, { code: SpanStatusCode.UNSET });
    assert.ok(span.ended);
    assert.equal(span.instrumentationScope.name, 'predictive-maintenance-api');
  });

  it('names a request no route matched by its method alone: the client path is no span name and no route', async () => {
    const { tracing, finish } = make();
    const app = await httpApp(tracing);
    for (const url of ['/wp-admin/setup.php', '/.env', '/items']) assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404);
    assert.equal((await app.inject({ method: 'POST', url: '/nothing/here' })).statusCode, 404);
    await app.close();
    const spans = await finish();
    assert.deepEqual(spans.map((s) => s.name).sort(), ['GET', 'GET', 'GET', 'POST']);
    const post = only(spans, 'POST');
    assert.deepEqual(post.attributes, { 'http.request.method': 'POST', 'url.path': '/nothing/here', 'http.response.status_code': 404 });
    assert.deepEqual(spans.map((s) => s.attributes['url.path']).sort(), ['/.env', '/items', '/nothing/here', '/wp-admin/setup.php']);
    for (const s of spans) assert.equal(s.status.code, SpanStatusCode.UNSET, '404 is the client error, not the server');
  });

  it('marks 5xx answers as errors, and only those', async () => {
    const { tracing, finish } = make();
    const app = await httpApp(tracing);
    await app.inject({ method: 'GET', url: '/boom' });
    await app.inject({ method: 'GET', url: '/unavailable' });
    await app.inject({ method: 'GET', url: '/gone' });
    await app.close();
    const spans = await finish();
    assert.deepEqual(only(spans, 'GET /boom').status, { code: SpanStatusCode.ERROR });
    assert.equal(only(spans, 'GET /boom').attributes['http.response.status_code'], 500);
    assert.deepEqual(only(spans, 'GET /unavailable').status, { code: SpanStatusCode.ERROR });
    assert.deepEqual(only(spans, 'GET /gone').status, { code: SpanStatusCode.UNSET });
  });

  it('traces no probe or scrape (with or without a query string), and nothing else it does not start', async () => {
    const { tracing, finish } = make();
    const app = await httpApp(tracing);
    for (const url of ['/healthz', '/readyz', '/metrics', '/metrics?name[]=pm_up', '/healthz?full=1']) {
      const res = await app.inject({ method: 'GET', url, headers: { traceparent: traceparent(randomContext()) } });
      assert.deepEqual(res.json(), { spans: 'null' }, url);
    }
    const near = await app.inject({ method: 'GET', url: '/healthzz' });
    assert.equal(near.json().spans, 'set');
    assert.match(near.json().traceId, /^[0-9a-f]{32}$/);
    await app.close();
    assert.deepEqual(
      (await finish()).map((s) => s.name),
      ['GET /healthzz'],
    );
    assert.deepEqual(problems.get(app), [], 'an untraced request went through every hook quietly');
  });

  it('cuts attribute values at 256 characters', async () => {
    const { tracing, finish } = make();
    const app = await httpApp(tracing);
    const path = `/${'x'.repeat(400)}`;
    await app.inject({ method: 'GET', url: path });
    await app.close();
    assert.equal(only(await finish(), 'GET').attributes['url.path'], path.slice(0, 256));
  });

  it('ends the span of a request whose client went away as aborted', async () => {
    const { tracing, finish } = make();
    const app = Fastify();
    tracing.registerHttp(app);
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let aborted!: () => void;
    const abortSeen = new Promise<void>((resolve) => (aborted = resolve));
    let answer!: () => void;
    app.addHook('onRequestAbort', (_request, done) => {
      aborted();
      done();
    });
    app.get('/slow', async () => {
      entered();
      await new Promise<void>((resolve) => (answer = resolve));
      return 'late';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const req = http.get({ host: '127.0.0.1', port, path: '/slow', agent: false });
    req.on('error', () => {});
    await inHandler;
    req.destroy();
    await abortSeen;
    answer(); // Fastify calls no onResponse for it
    await app.close();
    const span = only(await finish(), 'GET /slow');
    assert.deepEqual(span.attributes, {
      'http.request.method': 'GET',
      'url.path': '/slow',
      'http.route': '/slow',
      'pm.aborted': true,
    });
    assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message: 'client closed the connection' });
  });
});

// ------------------------------------------------------------------ sampling

describe('sampling (OTEL_TRACES_SAMPLER)', () => {
  const silentDiag: DiagLogger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} };
  /** Which of: no parent, a sampled parent, an unsampled parent, gets an exported server span. */
  async function sampled(over: Partial<TracingConfig>): Promise<string[]> {
    // The SDK reports a sampler built wrong (and then falls back) on its diagnostic channel.
    const complaints: string[] = [];
    diag.setLogger({ ...silentDiag, error: (message: string) => complaints.push(message) }, DiagLogLevel.ERROR);
    try {
      return await sampledQuietly(over);
    } finally {
      diag.disable();
      assert.deepEqual(complaints, [], 'the SDK complained about the sampler');
    }
  }

  async function sampledQuietly(over: Partial<TracingConfig>): Promise<string[]> {
    const { tracing, finish } = make(over);
    const app = await httpApp(tracing);
    const answers = [
      await app.inject({ method: 'GET', url: '/items/none' }),
      await app.inject({ method: 'GET', url: '/items/sampled', headers: { traceparent: traceparent(randomContext(true)) } }),
      await app.inject({ method: 'GET', url: '/items/unsampled', headers: { traceparent: traceparent(randomContext(false)) } }),
    ];
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      [200, 200, 200],
      'the sampler decided without failing',
    );
    await app.close();
    return (await finish()).map((s) => String(s.attributes['url.path']).slice('/items/'.length)).sort();
  }

  const cases: Array<[Partial<TracingConfig>, string[]]> = [
    [{ sampler: 'always_on' }, ['none', 'sampled', 'unsampled']],
    [{ sampler: 'always_off' }, []],
    [{ sampler: 'traceidratio', samplerRatio: 1 }, ['none', 'sampled', 'unsampled']],
    [{ sampler: 'traceidratio', samplerRatio: 0 }, []],
    [{ sampler: 'parentbased_always_on' }, ['none', 'sampled']],
    [{ sampler: 'parentbased_always_off' }, ['sampled']],
    [{ sampler: 'parentbased_traceidratio', samplerRatio: 1 }, ['none', 'sampled']],
    [{ sampler: 'parentbased_traceidratio', samplerRatio: 0 }, ['sampled']],
  ];
  for (const [over, expected] of cases) {
    it(`${JSON.stringify(over)} exports ${JSON.stringify(expected)}`, async () => {
      assert.deepEqual(await sampled(over), expected);
    });
  }

  it('keeps a run linked to a sampled request even where the sampler drops new roots', async () => {
    const { tracing, finish } = make({ sampler: 'parentbased_always_off' });
    tracing.modelObserver().inference!.onTracedRun!([remoteHandle(true)], 1, 10, true, undefined);
    assert.equal((await finish()).length, 1);
  });
});

describe('LinkedRootSampler', () => {
  const sampledLink = { context: randomContext(true) };
  const unsampledLink = { context: randomContext(false) };
  const decide = (base: AlwaysOnSampler | AlwaysOffSampler, context = ROOT_CONTEXT, links = [sampledLink]) =>
    new LinkedRootSampler(base).shouldSample(context, randomContext().traceId, 'onnx.run', SpanKind.INTERNAL, {}, links).decision;

  it('samples a root span linked to a sampled span, whatever the base says', () => {
    assert.equal(decide(new AlwaysOffSampler()), SamplingDecision.RECORD_AND_SAMPLED);
    assert.equal(decide(new AlwaysOffSampler(), ROOT_CONTEXT, [unsampledLink, sampledLink]), SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('leaves everything else to the base sampler: no sampled link, or a parent', () => {
    assert.equal(decide(new AlwaysOffSampler(), ROOT_CONTEXT, [unsampledLink]), SamplingDecision.NOT_RECORD);
    assert.equal(decide(new AlwaysOffSampler(), ROOT_CONTEXT, []), SamplingDecision.NOT_RECORD);
    assert.equal(decide(new AlwaysOnSampler(), ROOT_CONTEXT, []), SamplingDecision.RECORD_AND_SAMPLED);
    const withParent = trace.setSpanContext(ROOT_CONTEXT, randomContext(true));
    assert.equal(decide(new AlwaysOffSampler(), withParent), SamplingDecision.NOT_RECORD);
  });

  it('describes itself around its base', () => {
    assert.equal(new LinkedRootSampler(new AlwaysOnSampler()).toString(), 'LinkedRootSampler{AlwaysOnSampler}');
  });
});

// ------------------------------------------------------------------ the GraphQL operation span

const SCHEMA = buildSchema(`
  type Query { modelInfo: String health: String }
  type Mutation { predict: String }
`);

type Plugin = ApolloServerPlugin<AppContext>;
type Listener = Awaited<ReturnType<NonNullable<Plugin['requestDidStart']>>>;
type Body = { kind: 'single'; singleResult: Result } | { kind: 'incremental'; initialResult: Result };
interface Result {
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  extensions?: Record<string, unknown>;
}

/** The plugin's hooks as Apollo calls them, on a request with `spans` in its context. */
async function operation(tracing: SdkTracing, spans: RequestSpans | null | undefined, source?: string, operationName?: string) {
  const plugin = tracing.apolloPlugin(SCHEMA);
  const listener: Listener = await plugin.requestDidStart!({ contextValue: { spans } } as never);
  const document = source ? parse(source) : undefined;
  const definition = document?.definitions[0] as OperationDefinitionNode | undefined;
  await listener?.didResolveOperation?.({ operation: definition, operationName } as never);
  return {
    listener,
    send: async (body: Body) => {
      await listener!.willSendResponse!({ response: { body } } as never);
      return body.kind === 'single' ? body.singleResult : body.initialResult;
    },
  };
}

describe('SdkTracing.apolloPlugin', () => {
  it('does nothing for a request without spans (untraced)', async () => {
    const { tracing, finish } = make();
    assert.equal((await operation(tracing, undefined)).listener, undefined);
    assert.equal((await operation(tracing, null)).listener, undefined);
    assert.deepEqual(await finish(), []);
  });

  it('a named operation: a child of the HTTP span named by type and name, with root field, rows, outcome and the trace id', async () => {
    const { tracing, finish } = make();
    const spans = handle();
    const op = await operation(tracing, spans, 'mutation Score { predict }', 'Score');
    assert.ok(spans.operation, 'the operation span is where later spans hang');
    spans.rows = 3;
    const result = await op.send({ kind: 'single', singleResult: { extensions: { cost: 1 } } });
    const span = only(await finish(), 'mutation Score');
    assert.equal(span.spanContext().spanId, spans.operation.spanContext().spanId);
    assert.equal(parentOf(span), spans.http.spanContext().spanId);
    assert.equal(span.spanContext().traceId, spans.http.spanContext().traceId);
    assert.deepEqual(span.attributes, {
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'Score',
      'pm.graphql.root_field': 'predict',
      'pm.outcome': 'ok',
      'pm.rows': 3,
    });
    assert.deepEqual(span.status, { code: SpanStatusCode.UNSET });
    assert.deepEqual(result.extensions, { cost: 1, traceId: spans.http.spanContext().traceId });
    assert.ok(span.ended);
  });

  it('an anonymous operation is named by its type; an unknown root field is "other"; errors set the outcome and status', async () => {
    const { tracing, finish } = make();
    const anonymous = await operation(tracing, handle(), '{ health }');
    await anonymous.send({ kind: 'single', singleResult: { errors: [{ message: 'no', extensions: { code: 'BAD_USER_INPUT' } }] } });
    const odd = await operation(tracing, handle(), 'query Odd { __typename }', 'Odd');
    await odd.send({ kind: 'single', singleResult: { errors: [{ message: 'no code' }] } });
    const spans = await finish();
    const query = only(spans, 'query');
    assert.deepEqual(query.attributes, {
      'graphql.operation.type': 'query',
      'pm.graphql.root_field': 'health',
      'pm.outcome': 'BAD_USER_INPUT',
      'pm.rows': 0,
    });
    assert.deepEqual(query.status, { code: SpanStatusCode.ERROR, message: 'BAD_USER_INPUT' });
    const other = only(spans, 'query Odd');
    assert.equal(other.attributes['pm.graphql.root_field'], 'other');
    assert.equal(other.attributes['pm.outcome'], 'INTERNAL_SERVER_ERROR');
    assert.deepEqual(other.status, { code: SpanStatusCode.ERROR, message: 'INTERNAL_SERVER_ERROR' });
  });

  it('an empty error list is ok; an incremental answer gets the same outcome and trace id on its initial result', async () => {
    const { tracing, finish } = make();
    const spans = handle();
    const empty = await operation(tracing, spans, '{ modelInfo }');
    const emptyResult = await empty.send({ kind: 'single', singleResult: { errors: [] } });
    assert.deepEqual(emptyResult.extensions, { traceId: spans.http.spanContext().traceId });
    const incremental = await operation(tracing, handle(), 'query Deferred { modelInfo }', 'Deferred');
    const initial = await incremental.send({
      kind: 'incremental',
      initialResult: { errors: [{ message: 'busy', extensions: { code: 'SERVER_BUSY' } }] },
    });
    const failing = await operation(tracing, handle(), 'query Fine { modelInfo }', 'Fine');
    await failing.send({ kind: 'incremental', initialResult: {} });
    const all = await finish();
    assert.equal(only(all, 'query').attributes['pm.outcome'], 'ok');
    assert.deepEqual(only(all, 'query').status, { code: SpanStatusCode.UNSET });
    const deferred = only(all, 'query Deferred');
    assert.equal(deferred.attributes['pm.outcome'], 'SERVER_BUSY');
    assert.deepEqual(initial.extensions, { traceId: deferred.spanContext().traceId });
    assert.equal(only(all, 'query Fine').attributes['pm.outcome'], 'ok');
  });

  it('a document that did not resolve keeps the generic name and no operation attributes', async () => {
    const { tracing, finish } = make();
    const op = await operation(tracing, handle());
    await op.send({ kind: 'single', singleResult: { errors: [{ message: 'syntax', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] } });
    const span = only(await finish(), 'graphql.operation');
    assert.deepEqual(span.attributes, { 'pm.outcome': 'GRAPHQL_PARSE_FAILED', 'pm.rows': 0 });
  });
});

// ------------------------------------------------------------------ queue waits, runs, reloads

describe('SdkTracing.modelObserver', () => {
  const observer = (tracing: SdkTracing) => tracing.modelObserver();

  it('a queue wait is a child of the operation (else the HTTP span) from when the rows were queued, and counts the rows', async () => {
    const { tracing, finish } = make();
    const wait = observer(tracing).inference!.onTracedWait!;
    const withOperation = handle(true);
    const httpOnly = handle(false);
    const queuedAt = performance.now() - 250; // batcher times are performance.now() readings
    wait(withOperation, queuedAt, 2);
    wait(withOperation, queuedAt + 10, 3);
    wait(httpOnly, queuedAt + 100, 1);
    assert.equal(withOperation.rows, 5);
    assert.equal(httpOnly.rows, 1);
    const spans = (await finish()).filter((s) => s.name === 'inference.queue_wait');
    assert.equal(spans.length, 3);
    const [first, second, third] = spans;
    assert.equal(parentOf(first), withOperation.operation!.spanContext().spanId);
    assert.equal(first.spanContext().traceId, withOperation.http.spanContext().traceId);
    assert.equal(parentOf(third), httpOnly.http.spanContext().spanId);
    assert.deepEqual(
      spans.map((s) => s.attributes),
      [{ 'pm.rows': 2 }, { 'pm.rows': 3 }, { 'pm.rows': 1 }],
    );
    assert.ok(near(startMs(first), queuedAt), 'the wait starts when the rows were queued');
    assert.ok(near(startMs(third), queuedAt + 100));
    for (const s of spans) assert.deepEqual(s.status, { code: SpanStatusCode.UNSET });
    assert.ok(second.ended);
  });

  it('rows dropped from the queue end their wait span as an error with the reason', async () => {
    const { tracing, finish } = make();
    const wait = observer(tracing).inference!.onTracedWait!;
    wait(handle(true), 10, 4, 'deadline');
    wait(handle(true), 11, 1, 'disconnected');
    const [deadline, disconnected] = await finish();
    assert.deepEqual(deadline.attributes, { 'pm.rows': 4, 'pm.drop.reason': 'deadline' });
    assert.deepEqual(deadline.status, { code: SpanStatusCode.ERROR, message: 'rows waited past MAX_QUEUE_WAIT_MS' });
    assert.deepEqual(disconnected.attributes, { 'pm.rows': 1, 'pm.drop.reason': 'disconnected' });
    assert.deepEqual(disconnected.status, { code: SpanStatusCode.ERROR, message: 'client disconnected before its rows ran' });
  });

  it('a wait under a span that records nothing (not sampled, or already ended) still counts its rows but makes no span', async () => {
    const { tracing, finish } = make();
    const wait = observer(tracing).inference!.onTracedWait!;
    const unsampled = remoteHandle(true);
    wait(unsampled, 1, 2);
    const ended = handle(true);
    ended.operation!.end();
    wait(ended, 1, 1);
    assert.equal(unsampled.rows, 2);
    assert.equal(ended.rows, 1);
    assert.deepEqual(await finish(), []);
  });

  it('a run is a root span linking each sampled caller (its operation, else its HTTP span), with rows, callers and model', async () => {
    const { tracing, finish } = make();
    const callers = [handle(true), handle(false), remoteHandle(false), remoteHandle(true)];
    const startedAt = performance.now() - 250;
    observer(tracing).inference!.onTracedRun!(callers, 7, startedAt, true, { modelVersion: '2.1.0', device: 'cuda' });
    const run = only(await finish(), 'onnx.run');
    assert.equal(parentOf(run), undefined);
    assert.equal(run.kind, SpanKind.INTERNAL);
    const linked = [callers[0].operation!, callers[1].http, callers[3].http].map((s) => s.spanContext().spanId);
    assert.deepEqual(
      run.links.map((l) => l.context.spanId),
      linked,
    );
    assert.deepEqual(run.attributes, { 'pm.rows': 7, 'pm.run.callers': 4, 'pm.model.version': '2.1.0', 'pm.device': 'cuda' });
    assert.deepEqual(run.status, { code: SpanStatusCode.UNSET });
    assert.ok(near(startMs(run), startedAt), 'the run starts when it started');
  });

  it('a failed run is an error; without run info it has no model attributes; with no sampled caller there is no span', async () => {
    const { tracing, finish } = make();
    const run = observer(tracing).inference!.onTracedRun!;
    run([remoteHandle(true)], 2, 1, false, undefined);
    run([remoteHandle(false), remoteHandle(false)], 2, 1, true, { modelVersion: 'x', device: 'cpu' });
    run([], 0, 1, true, undefined);
    const failed = only(await finish(), 'onnx.run');
    assert.deepEqual(failed.attributes, { 'pm.rows': 2, 'pm.run.callers': 1 });
    assert.deepEqual(failed.status, { code: SpanStatusCode.ERROR, message: 'INFERENCE_FAILED' });
  });

  it("links at most 1,024 callers (MAX_BATCH_SIZE's default), counting them all", async () => {
    const { tracing, finish } = make();
    const callers = Array.from({ length: 1_030 }, () => remoteHandle(true));
    observer(tracing).inference!.onTracedRun!(callers, 1_030, 1, true, undefined);
    const run = only(await finish(), 'onnx.run');
    assert.equal(run.links.length, 1_024);
    assert.equal(run.attributes['pm.run.callers'], 1_030);
  });

  it('a reload is a span under the operation that asked (else its HTTP span, else a root), ended with its outcome', async () => {
    const { tracing, finish } = make();
    const reloadStarted = observer(tracing).reloadStarted!;
    const asked = handle(true);
    reloadStarted(asked)('ok');
    const httpOnly = handle(false);
    reloadStarted(httpOnly)('refused', 'golden check failed');
    reloadStarted(undefined)('refused');
    const [ok, refused, root] = await finish();
    assert.equal(ok.name, 'model.reload');
    assert.equal(parentOf(ok), asked.operation!.spanContext().spanId);
    assert.deepEqual(ok.attributes, { 'pm.reload.outcome': 'ok' });
    assert.deepEqual(ok.status, { code: SpanStatusCode.UNSET });
    assert.equal(parentOf(refused), httpOnly.http.spanContext().spanId);
    assert.deepEqual(refused.attributes, { 'pm.reload.outcome': 'refused' });
    assert.deepEqual(refused.status, { code: SpanStatusCode.ERROR, message: 'golden check failed' });
    assert.equal(parentOf(root), undefined);
    assert.deepEqual(root.status, { code: SpanStatusCode.ERROR, message: 'refused' });
  });
});

// ------------------------------------------------------------------ resource, drops, shutdown

describe('SdkTracing: resource, dropped spans, shutdown', () => {
  it('describes the process: service name over OTEL_RESOURCE_ATTRIBUTES, their version over ours, an instance id each', async () => {
    const a = make({ resourceAttributes: { 'service.name': 'ignored', 'service.version': '9.9.9', team: 'ops' } });
    const b = make();
    for (const { tracing } of [a, b]) tracing.modelObserver().reloadStarted!(undefined)('ok');
    const [ra] = (await a.finish()).map((s) => s.resource.attributes);
    const [rb] = (await b.finish()).map((s) => s.resource.attributes);
    assert.equal(ra['service.name'], 'pm-unit');
    assert.equal(ra['service.version'], '9.9.9');
    assert.equal(ra.team, 'ops');
    assert.equal(ra['process.pid'], process.pid);
    assert.equal(rb['service.version'], SERVER_VERSION);
    assert.equal(rb['service.name'], 'pm-unit');
    assert.match(String(ra['service.instance.id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(ra['service.instance.id'], rb['service.instance.id']);
  });

  it('counts spans a full queue refused as queue_full, a failed export as export_failed, and nothing that was delivered', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const { tracing, exporter } = make(
      { batch: { scheduleDelayMs: 60_000, exportTimeoutMs: 30_000, maxQueueSize: 1, maxExportBatchSize: 1 } },
      metrics,
    );
    const dropped = async (reason: string) => metricValue((await metrics.metricsText()).body, 'pm_trace_spans_dropped_total', { reason });
    const reload = tracing.modelObserver().reloadStarted!;
    exporter.hold = true;
    reload(undefined)('ok'); // exported at once (a full batch of 1), held
    reload(undefined)('ok'); // queued
    reload(undefined)('ok'); // refused: the queue holds 1
    reload(undefined)('ok'); // refused
    assert.equal(exporter.held, 1);
    assert.equal(await dropped('queue_full'), 2);
    exporter.failure = new Error('collector said no');
    exporter.release(); // the first fails; the queued one goes out and fails too
    await tracing.shutdown(10_000);
    assert.equal(await dropped('export_failed'), 2);
    assert.equal(await dropped('queue_full'), 2);
    assert.deepEqual(exporter.spans, []);

    const delivered = new Metrics({ defaultMetrics: false });
    const fine = make({}, delivered);
    fine.tracing.modelObserver().reloadStarted!(undefined)('ok');
    assert.equal((await fine.finish()).length, 1);
    const text = (await delivered.metricsText()).body;
    assert.equal(metricValue(text, 'pm_trace_spans_dropped_total'), 0);
  });

  it('drops without counting where there are no metrics', async () => {
    const { tracing, exporter } = make({
      batch: { scheduleDelayMs: 60_000, exportTimeoutMs: 30_000, maxQueueSize: 1, maxExportBatchSize: 1 },
    });
    exporter.hold = true;
    for (let i = 0; i < 3; i++) tracing.modelObserver().reloadStarted!(undefined)('ok');
    exporter.failure = new Error('no');
    exporter.release();
    await tracing.shutdown(10_000);
    assert.deepEqual(exporter.spans, []);
  });

  it('shutdown waits for a hung export no longer than the drain allows, nor than one export timeout', async () => {
    for (const [drainMs, exportMs] of [
      [20, 5_000],
      [5_000, 20],
    ]) {
      const { tracing, exporter } = make({ timeoutMs: exportMs });
      exporter.hold = true;
      tracing.modelObserver().reloadStarted!(undefined)('ok');
      const started = performance.now();
      await tracing.shutdown(drainMs);
      const took = performance.now() - started;
      assert.equal(exporter.held, 1, 'the export is still hanging');
      assert.ok(took < 2_500, `shutdown(${drainMs}) with a ${exportMs} ms export timeout took ${took} ms`);
      exporter.release();
      assert.equal(exporter.spans.length, 1);
    }
  });

  it('shutdown exports what is still queued', async () => {
    const { tracing, exporter } = make();
    tracing.modelObserver().reloadStarted!(undefined)('ok');
    assert.equal(exporter.spans.length, 0, 'batched for a minute');
    await tracing.shutdown(10_000);
    assert.equal(exporter.spans.length, 1);
  });
});

// ------------------------------------------------------------------ OTLP/HTTP

describe('SdkTracing over OTLP/HTTP (a real receiver)', () => {
  const receivers: OtlpReceiver[] = [];
  after(async () => {
    for (const r of receivers) await r.close();
  });

  for (const [protocol, contentType] of [
    ['http/json', 'application/json'],
    ['http/protobuf', 'application/x-protobuf'],
  ] as const) {
    it(`${protocol}: posts to the configured URL with the configured headers`, async () => {
      const receiver = await OtlpReceiver.start();
      receivers.push(receiver);
      const tracing = SdkTracing.create(
        config({ url: `${receiver.url}/collector/v1/traces`, protocol, headers: { authorization: 'Bearer t0ken' } }),
        { logger },
      );
      tracing.modelObserver().reloadStarted!(undefined)('refused', 'nope');
      await tracing.shutdown(10_000);
      assert.equal(receiver.requests.length, 1);
      assert.equal(receiver.requests[0].path, '/collector/v1/traces');
      assert.equal(receiver.requests[0].contentType, contentType);
      assert.equal(receiver.requests[0].headers.authorization, 'Bearer t0ken');
      assert.equal(receiver.spans.length, 1);
      assert.equal(receiver.spans[0].name, 'model.reload');
      assert.deepEqual(receiver.spans[0].status, { code: SpanStatusCode.ERROR, message: 'nope' });
    });
  }

  it('gives up on a collector that does not answer after OTEL_EXPORTER_OTLP_TIMEOUT, counting the spans', async () => {
    const hung: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => hung.push(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const metrics = new Metrics({ defaultMetrics: false });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
      const tracing = SdkTracing.create(config({ url, timeoutMs: 200 }), { logger, metrics });
      tracing.modelObserver().reloadStarted!(undefined)('ok');
      await tracing.shutdown(60_000); // returns after the 200 ms; the export fails at about the same time
      const failed = async () =>
        metricValue((await metrics.metricsText()).body, 'pm_trace_spans_dropped_total', { reason: 'export_failed' }) === 1;
      await until('the hung export counted as failed', failed, { timeoutMs: 5_000, everyMs: 10 });
    } finally {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

// ------------------------------------------------------------------ tracing.ts

describe('createTracing and the helpers around it', () => {
  it('is off (undefined) with the exporter none, an SDK with otlp', async () => {
    assert.equal(createTracing(config({ exporter: 'none' }), { logger }), undefined);
    const on = createTracing(config(), { logger });
    assert.ok(on instanceof SdkTracing);
    await on.shutdown(1_000);
  });

  it('traceIdOf and traceLogFields read the HTTP span; an untraced request has no trace fields', () => {
    const spans = handle(true);
    const id = spans.http.spanContext().traceId;
    assert.equal(traceIdOf(spans), id);
    assert.deepEqual(traceLogFields({ otelSpans: spans } as never), { traceId: id });
    assert.deepEqual(traceLogFields({ otelSpans: null } as never), {});
    assert.deepEqual(traceLogFields({} as never), {});
  });

  it('mergeObservers keeps either alone, and joins both (their batcher hooks too)', () => {
    const calls: string[] = [];
    const metrics: ModelObserver = {
      reloaded: () => calls.push('metrics.reloaded'),
      inference: { onDrop: () => calls.push('metrics.onDrop'), onTracedRun: () => calls.push('metrics.onTracedRun') },
    };
    const tracing: ModelObserver = {
      reloadStarted: () => () => calls.push('tracing.reload'),
      inference: { onTracedRun: () => calls.push('tracing.onTracedRun') },
    };
    assert.equal(mergeObservers(metrics, undefined), metrics);
    assert.equal(mergeObservers(undefined, tracing), tracing);
    assert.equal(mergeObservers(undefined, undefined), undefined);
    const both = mergeObservers(metrics, tracing)!;
    both.reloaded!('ok');
    both.reloadStarted!(undefined)('ok');
    both.inference!.onDrop!('deadline', 1);
    both.inference!.onTracedRun!([], 0, 0, true, undefined);
    assert.deepEqual(calls, ['metrics.reloaded', 'tracing.reload', 'metrics.onDrop', 'tracing.onTracedRun']);
  });
});
