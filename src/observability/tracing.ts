import type { FastifyRequest } from 'fastify';
import type { TracingConfig } from '../config';
import type { ModelObserver } from '../inference/model-host';
import type { RequestSpans } from './request-spans';
import type { Tracing, TracingDeps } from './tracing.types';

export type { RequestSpans } from './request-spans';

export type { Tracing, TracingDeps } from './tracing.types';

/**
 * Tracing per the configuration, or undefined when it is off. Off means off: the OpenTelemetry SDK is
 * required here only when the exporter is `otlp`, so with the default `none` no tracing code is loaded
 * and no hook is registered.
 */
export function createTracing(config: TracingConfig, deps: TracingDeps): Tracing | undefined {
  if (config.exporter === 'none') return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
  const sdk = require('./tracing-sdk') as typeof import('./tracing-sdk');
  return sdk.SdkTracing.create(config, deps);
}

/** The trace id of a traced request (the access log and the prediction log record it). */
export function traceIdOf(spans: RequestSpans): string {
  return spans.http.spanContext().traceId;
}

/** The access log's trace fields: the request's trace id when it has a span. */
export function traceLogFields(request: FastifyRequest): { traceId?: string } {
  const spans = request.otelSpans;
  return spans ? { traceId: traceIdOf(spans) } : {};
}

/** Both observers of a ModelHost in one (metrics and tracing hook different events). */
export function mergeObservers(a: ModelObserver | undefined, b: ModelObserver | undefined): ModelObserver | undefined {
  if (!a || !b) return a ?? b;
  return { ...a, ...b, inference: { ...a.inference, ...b.inference } };
}
