import type { Span } from '@opentelemetry/api';

/**
 * The spans of one traced request. Everything outside src/observability/tracing*.ts passes it along
 * without looking inside (the batcher sees it as `unknown`).
 */
export interface RequestSpans {
  readonly http: Span;
  /** The GraphQL operation's span, once Apollo has started on the request. */
  operation?: Span;
  /** Rows this request handed to the model (what its queue-wait spans counted). */
  rows: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the tracing hooks when OTEL_TRACES_EXPORTER=otlp; undefined otherwise. */
    otelSpans?: RequestSpans | null;
  }
}
