import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { App } from './app';
import type { Config } from './config';
import { defaultConsoleDir } from './http/console';
import { InferenceService } from './inference/inference.service';
import { ModelHost } from './inference/model-host';
import { Metrics } from './observability/metrics';
import { createProtection } from './protection';
import { TrustedDocuments } from './protection/trusted-documents';
import { ModelResolver } from './resolvers/model.resolver';
import { PredictionExplanationResolver } from './resolvers/prediction-explanation.resolver';
import { PredictionResolver } from './resolvers/prediction.resolver';
import { RateLimitResolver } from './resolvers/rate-limit.resolver';
import { buildAppSchema, type SchemaOptions } from './schema';

/** Every resolver the API serves. */
export const RESOLVERS = [PredictionResolver, PredictionExplanationResolver, ModelResolver, RateLimitResolver] as const;

/**
 * The API's schema. Building it needs no running app and no configuration (codegen's emit script calls
 * this alone): the limits its arguments are validated against are read from each request's context.
 */
export function buildSchema(globalMiddlewares?: SchemaOptions['globalMiddlewares']): Promise<GraphQLSchema> {
  return buildAppSchema({ resolvers: RESOLVERS, globalMiddlewares });
}

/**
 * The composition root: every feature (protection, console, ...) is wired into the App here, so that
 * main.ts and the tests start exactly the same server.
 */
export async function createApp(config: Config, logger: Logger, models = new ModelHost()): Promise<App> {
  const protection = createProtection(config, logger);
  const schema = await buildSchema(protection.globalMiddlewares);
  const metrics = config.observability.metrics.enabled ? new Metrics() : undefined;
  if (metrics) models.observe(metrics.modelObserver());
  // Throws TrustedDocumentsError (main.ts: exit 2) for a manifest document that does not parse or validate.
  const trusted =
    config.server.trustedDocuments.mode === 'off'
      ? undefined
      : await TrustedDocuments.create({
          config: config.server.trustedDocuments,
          schema,
          limits: config.limits,
          validationRules: protection.validationRules,
          introspection: config.server.introspection,
        });
  return App.create({
    trusted,
    config,
    models,
    logger,
    schema,
    protection,
    metrics,
    // Operator console (examples/console/dist) at /console/ when SERVE_CONSOLE is on.
    consoleDir: config.server.serveConsole ? defaultConsoleDir() : undefined,
  });
}

/** Loads the model named by the config into `models` (MODEL_NOT_READY until this resolves). */
export function loadModel(config: Config, logger: Logger, models: ModelHost): Promise<InferenceService> {
  return models.load((hooks) =>
    InferenceService.create({
      ...config.inference,
      hooks,
      onRunError: (err) => logger.error({ err }, 'inference run failed'),
    }),
  );
}
