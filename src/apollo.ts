import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { AppContext } from './context';
import { createErrorFormatter, inputErrorsPlugin } from './error-formatter';
import { landingPagePlugin } from './http/landing-page';
import { tracePlugin } from './http/trace';
import type { Metrics } from './observability/metrics';
import { metricsPlugin } from './observability/metrics.plugin';
import type { Tracing } from './observability/tracing';
import type { Protection } from './protection';
import type { TrustedDocuments } from './protection/trusted-documents';
import { jitGateway } from './schema/executor';

export interface ApolloOptions {
  config: Config;
  logger: Logger;
  schema: GraphQLSchema;
  protection: Protection;
  /** Whether the operator console is served (the landing page links to it). */
  consoleServed: boolean;
  metrics: Metrics | undefined;
  tracing?: Tracing;
  /** Trusted documents (docs/trusted-documents.md); undefined when TRUSTED_DOCUMENTS=off. */
  trusted?: TrustedDocuments;
}

/** Apollo Server as the edge runs it: our error boundary, trace, metrics and tracing plugins, Apollo's reporting off. */
export function createApollo({
  config,
  logger,
  schema,
  protection,
  consoleServed,
  metrics,
  tracing,
  trusted,
}: ApolloOptions): ApolloServer<AppContext> {
  const gateway = config.server.graphqlExecutor === 'jit' ? jitGateway(schema) : undefined;
  // Trusted documents: compiled now, and found parsed and validated in Apollo's document store.
  if (gateway && trusted) trusted.onLoad((docs) => docs.forEach((doc) => gateway.prepare(doc.document)));
  return new ApolloServer<AppContext>({
    // graphql-jit replaces graphql-js's execute through Apollo's gateway interface (see schema/executor.ts).
    ...(gateway ? { gateway } : { schema }),
    ...(trusted ? { documentStore: trusted.documentStore() } : {}),
    introspection: config.server.introspection,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // Persisted queries are off: documents here are small (readings travel as variables), and a cache
    // keyed by client-chosen hashes is memory any client can fill. Clients get PERSISTED_QUERY_NOT_SUPPORTED.
    persistedQueries: false,
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: !config.production,
    // No "Did you mean ...?" field suggestions in production: they map the schema for anyone who asks.
    hideSchemaDetailsFromClientErrors: config.production,
    // The lexer stops after this many tokens, so parsing costs at most that much whatever the body holds.
    parseOptions: { maxTokens: config.limits.maxQueryTokens },
    validationRules: protection.validationRules,
    formatError: createErrorFormatter({
      production: config.production,
      onInternal: (err) => logger.error({ err }, 'internal error'),
    }),
    logger: {
      debug: (m) => logger.debug(m),
      info: (m) => logger.info(m),
      warn: (m) => logger.warn(m),
      error: (m) => logger.error(m),
    },
    plugins: [
      tracePlugin(),
      inputErrorsPlugin<AppContext>(),
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      config.server.landingPage
        ? landingPagePlugin<AppContext>({ consoleUrl: consoleServed ? '/console/' : undefined })
        : ApolloServerPluginLandingPageDisabled(),
      ...protection.plugins,
      ...(metrics ? [metricsPlugin(metrics, schema)] : []),
      ...(tracing ? [tracing.apolloPlugin(schema)] : []),
    ],
  });
}
