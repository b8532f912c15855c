import type { FastifyInstance } from 'fastify';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import type { Config } from '../config';
import type { ModelHost } from '../inference/model-host';
import type { Metrics } from '../observability/metrics';
import { unencapsulated } from './unencapsulated';

export interface ProbeRoutesOptions {
  config: Config;
  models: ModelHost;
  schema: GraphQLSchema;
  metrics: Metrics | undefined;
}

/**
 * The routes beside /graphql: the health probes, /metrics (when it is not on its own port), the redirect
 * from / to the landing page, and the schema as SDL.
 */
export const probeRoutes = unencapsulated(async function probeRoutes(fastify: FastifyInstance, opts: ProbeRoutesOptions) {
  const { config, models, metrics } = opts;
  // Probes: no budget, no key, never refused for load (a liveness probe failing under load would restart
  // a busy pod); readiness is the one answer the model lifecycle gives.
  const probe = { config: { pressureHandler: () => undefined } };
  fastify.get('/healthz', probe, async () => ({ status: 'alive' }));
  fastify.get('/readyz', probe, async (_request, reply) => {
    reply.code(models.ready ? 200 : 503);
    return { status: models.state.status };
  });

  if (metrics && config.observability.metrics.port === undefined) {
    // Like the probes: no API key, no budget, not refused for load (a scrape is how an operator sees it).
    fastify.get('/metrics', probe, async (_request, reply) => {
      const { contentType, body } = await metrics.metricsText();
      reply.header('content-type', contentType);
      return body;
    });
  }

  if (config.server.landingPage) fastify.get('/', async (_request, reply) => reply.redirect('/graphql', 302));
  // The schema as SDL, sorted as the committed schema.graphql is: whoever may introspect may read it.
  if (config.server.introspection) {
    const sdl = printSchema(lexicographicSortSchema(opts.schema));
    fastify.get('/schema.graphql', async (_request, reply) => reply.type('text/plain; charset=utf-8').send(sdl));
  }
});
