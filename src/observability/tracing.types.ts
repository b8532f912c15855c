import type { ApolloServerPlugin } from '@apollo/server';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { AppContext } from '../context';
import type { ModelObserver } from '../inference/model-host';
import type { Metrics } from './metrics';

export interface TracingDeps {
  logger: Logger;
  metrics?: Metrics;
}

/** What the app wires in when tracing is on (src/observability/tracing-sdk.ts). */
export interface Tracing {
  /** The HTTP server span: Fastify hooks that continue an incoming `traceparent`. */
  registerHttp(fastify: FastifyInstance): void;
  /** The GraphQL operation span and `extensions.traceId`. */
  apolloPlugin(schema: GraphQLSchema): ApolloServerPlugin<AppContext>;
  /** Queue-wait, `onnx.run` and `model.reload` spans. */
  modelObserver(): ModelObserver;
  /** Exports what is still queued, waiting at most `timeoutMs` (and one export's OTEL_EXPORTER_OTLP_TIMEOUT), and stops. */
  shutdown(timeoutMs: number): Promise<void>;
}
