/**
 * The OpenTelemetry side of tracing, required only when OTEL_TRACES_EXPORTER=otlp (see tracing.ts).
 * Spans are made by hand at the few places that matter (HTTP server, GraphQL operation, queue wait,
 * ONNX run, model reload) instead of by auto-instrumentation: see docs/tracing.md for why.
 */
import { randomUUID } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  createNoopMeter,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Meter,
  type MeterProvider,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SamplingResult,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { TracingConfig } from '../config';
import type { AppContext } from '../context';
import { ErrorCode } from '../errors';
import type { DropReason, RunInfo } from '../inference/batcher';
import type { ModelObserver } from '../inference/model-host';
import { SERVER_VERSION } from '../version';
import { outcomeLabel } from './metrics';
import { rootFieldNames, rootFieldOf } from './metrics.plugin';
import type { RequestSpans } from './request-spans';
import type { Tracing, TracingDeps } from './tracing.types';

/** Probes and scrapes: a span each would bury the requests worth reading. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** One run carries at most MAX_BATCH_SIZE rows (default 1,024), so at most that many callers to link. */
const LINK_LIMIT = 1_024;

const DROP_MESSAGES: Record<DropReason, string> = {
  disconnected: 'client disconnected before its rows ran',
  deadline: 'rows waited past MAX_QUEUE_WAIT_MS',
};

export class SdkTracing implements Tracing {
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly ended = new WeakSet<Span>();

  private constructor(
    private readonly config: TracingConfig,
    private readonly provider: TracerProvider,
    private readonly tracer: Tracer,
  ) {}

  /** `exporter`: where spans go instead of OTLP/HTTP (tests); production always leaves it out. */
  static create(config: TracingConfig, deps: TracingDeps, exporter: SpanExporter = otlpExporter(config)): SdkTracing {
    const processor = new BatchSpanProcessor({
      exporter,
      maxQueueSize: config.batch.maxQueueSize,
      maxExportBatchSize: config.batch.maxExportBatchSize,
      scheduledDelayMillis: config.batch.scheduleDelayMs,
      exportTimeoutMillis: config.batch.exportTimeoutMs,
      // Experimental in the SDK (pinned exactly in package.json): the only place it reports queue-full drops.
      selfObsMeterProvider: dropCounter(deps),
    });
    const provider = new TracerProvider({
      // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES, as the SDK has it.
      resource: resourceFromAttributes({
        [ATTR_SERVICE_VERSION]: SERVER_VERSION,
        ...config.resourceAttributes,
        [ATTR_SERVICE_NAME]: config.serviceName,
        // Each worker process (WORKERS=N) exports its own spans: this tells them apart.
        'service.instance.id': randomUUID(),
        'process.pid': process.pid,
      }),
      sampler: new LinkedRootSampler(baseSampler(config)),
      spanLimits: { linkCountLimit: LINK_LIMIT, attributeValueLengthLimit: 256 },
      spanProcessors: [processor],
    });
    return new SdkTracing(config, provider, provider.getTracer('predictive-maintenance-api'));
  }

  registerHttp(fastify: FastifyInstance): void {
    fastify.decorateRequest('otelSpans', null);
    fastify.addHook('onRequest', (request, _reply, done) => {
      const path = request.url.split('?')[0];
      if (UNTRACED_PATHS.has(path)) return done();
      const parent = this.propagator.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter);
      // Undefined when no route matched (a 404): then the name is the method alone, never the client's path
      // (a span name a client could choose, one per path tried), and there is no http.route.
      const route = request.routeOptions.url;
      const attributes: Attributes = { 'http.request.method': request.method, 'url.path': path };
      let name = request.method;
      if (route !== undefined) {
        name = `${request.method} ${route}`;
        attributes['http.route'] = route;
      }
      const http = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
      request.otelSpans = { http, rows: 0 };
      done();
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      this.endHttp(request, reply);
      done();
    });
    fastify.addHook('onRequestAbort', (request, done) => {
      this.endHttp(request, undefined);
      done();
    });
  }

  apolloPlugin(schema: GraphQLSchema): ApolloServerPlugin<AppContext> {
    const known = rootFieldNames(schema);
    const tracer = this.tracer;
    return {
      async requestDidStart({ contextValue }) {
        const spans = contextValue.spans;
        if (!spans) return;
        const operation = tracer.startSpan('graphql.operation', {}, trace.setSpan(ROOT_CONTEXT, spans.http));
        spans.operation = operation;
        return {
          async didResolveOperation({ operation: document, operationName }) {
            if (!document) return;
            const type = document.operation;
            // Names and the root field only: variables' values (readings, keys) never go into a span.
            operation.setAttribute('graphql.operation.type', type);
            if (operationName) {
              operation.updateName(`${type} ${operationName}`);
              operation.setAttribute('graphql.operation.name', operationName);
            } else operation.updateName(type);
            operation.setAttribute('pm.graphql.root_field', rootFieldOf(document, known));
          },
          async willSendResponse({ response }) {
            const errors = response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
            const code = errors && errors.length > 0 ? (errors[0].extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR) : undefined;
            const outcome = outcomeLabel(code);
            operation.setAttribute('pm.outcome', outcome);
            operation.setAttribute('pm.rows', spans.rows);
            if (code !== undefined) operation.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
            // So that a frontend developer can quote the trace (the header `traceparent` is not echoed).
            const result = response.body.kind === 'single' ? response.body.singleResult : response.body.initialResult;
            result.extensions = { ...result.extensions, traceId: operation.spanContext().traceId };
            operation.end();
          },
        };
      },
    };
  }

  modelObserver(): ModelObserver {
    const tracer = this.tracer;
    return {
      inference: {
        onTracedWait: (handle, queuedAt, rows, dropped) => {
          const spans = handle as RequestSpans;
          spans.rows += rows;
          const parent = spans.operation ?? spans.http;
          if (!parent.isRecording()) return;
          const span = tracer.startSpan(
            'inference.queue_wait',
            { startTime: queuedAt, attributes: { 'pm.rows': rows } },
            trace.setSpan(ROOT_CONTEXT, parent),
          );
          if (dropped !== undefined) {
            span.setAttribute('pm.drop.reason', dropped);
            span.setStatus({ code: SpanStatusCode.ERROR, message: DROP_MESSAGES[dropped] });
          }
          span.end();
        },
        onTracedRun: (handles, rows, startedAt, ok, info) => runSpan(tracer, handles as readonly RequestSpans[], rows, startedAt, ok, info),
      },
      reloadStarted: (handle) => {
        const spans = handle as RequestSpans | undefined;
        const parent = spans ? trace.setSpan(ROOT_CONTEXT, spans.operation ?? spans.http) : ROOT_CONTEXT;
        const span = tracer.startSpan('model.reload', {}, parent);
        return (outcome, reason) => {
          span.setAttribute('pm.reload.outcome', outcome);
          if (outcome === 'refused') span.setStatus({ code: SpanStatusCode.ERROR, message: reason ?? 'refused' });
          span.end();
        };
      },
    };
  }

  async shutdown(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.min(timeoutMs, this.config.timeoutMs));
      timer.unref();
    });
    // An unreachable collector must not hold the drain: what it has not taken by then is dropped.
    await Promise.race([this.provider.shutdown().catch(() => undefined), late]);
    clearTimeout(timer);
  }

  private endHttp(request: FastifyRequest, reply: FastifyReply | undefined): void {
    const span = request.otelSpans?.http;
    if (!span || this.ended.has(span)) return;
    this.ended.add(span);
    if (reply) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    } else {
      span.setAttribute('pm.aborted', true);
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection' });
    }
    span.end();
  }
}

/** OTEL_EXPORTER_OTLP_PROTOCOL's exporter, to OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT. */
function otlpExporter(config: TracingConfig): SpanExporter {
  const options = { url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs };
  return config.protocol === 'http/json' ? new OtlpJsonExporter(options) : new OtlpProtoExporter(options);
}

/** One ONNX run, linked to every sampled request whose rows it carried: a fan-in a span tree cannot show. */
function runSpan(
  tracer: Tracer,
  handles: readonly RequestSpans[],
  rows: number,
  startedAt: number,
  ok: boolean,
  info: RunInfo | undefined,
): void {
  const links: Link[] = [];
  for (const spans of handles) {
    const context = (spans.operation ?? spans.http).spanContext();
    if (context.traceFlags & TraceFlags.SAMPLED) links.push({ context });
  }
  if (links.length === 0) return;
  const attributes: Attributes = { 'pm.rows': rows, 'pm.run.callers': handles.length };
  if (info) {
    attributes['pm.model.version'] = info.modelVersion;
    attributes['pm.device'] = info.device;
  }
  const span = tracer.startSpan('onnx.run', { startTime: startedAt, links, attributes, root: true }, ROOT_CONTEXT);
  if (!ok) span.setStatus({ code: SpanStatusCode.ERROR, message: 'INFERENCE_FAILED' });
  span.end();
}

/** OTEL_TRACES_SAMPLER and _ARG as the SDK documents them. */
function baseSampler(config: TracingConfig): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
  }
}

/**
 * The configured sampler, except that a root span linked to sampled spans (an `onnx.run`) is sampled:
 * otherwise a sampled request's run would be kept only at the ratio's chance.
 */
export class LinkedRootSampler implements Sampler {
  constructor(private readonly base: Sampler) {}

  shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (trace.getSpanContext(context) === undefined && links.some((l) => l.context.traceFlags & TraceFlags.SAMPLED)) {
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    }
    return this.base.shouldSample(context, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `LinkedRootSampler{${this.base.toString()}}`;
  }
}

/**
 * The batch span processor reports spans it could not deliver through its self-observability meter:
 * `error.type` queue_full (the bounded queue was full) or the export's error. Those feed
 * pm_trace_spans_dropped_total; nothing else of the meter is kept.
 */
function dropCounter(deps: TracingDeps): MeterProvider {
  const noop = createNoopMeter();
  const counter = {
    add(value: number, attributes?: Attributes) {
      const type = attributes?.['error.type'];
      if (type === undefined || deps.metrics === undefined) return;
      deps.metrics.traceSpansDropped.inc({ reason: type === 'queue_full' ? 'queue_full' : 'export_failed' }, value);
    },
  };
  const meter = Object.assign(Object.create(noop) as Meter, { createCounter: () => counter });
  return { getMeter: () => meter };
}
