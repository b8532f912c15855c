import cluster from 'node:cluster';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { App } from './app';
import { ConfigError, type Config } from './config';
import { defaultConsoleDir } from './http/console';
import { DriftMonitor } from './inference/drift';
import { InferenceService } from './inference/inference.service';
import { ModelHost } from './inference/model-host';
import { Metrics } from './observability/metrics';
import { createTracing, mergeObservers } from './observability/tracing';
import { PredictionLog } from './prediction-log/prediction-log';
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
  const tracing = createTracing(config.observability.tracing, { logger, metrics });
  const observer = mergeObservers(metrics?.modelObserver(), tracing?.modelObserver());
  if (observer) models.observe(observer);
  // Input drift (docs/monitoring.md): counted where served rows pass, read by modelInfo.drift and /metrics.
  const drift = new DriftMonitor(config.observability.drift);
  models.watchDrift(drift);
  metrics?.watchDrift(drift);
  models.predictionLog = await PredictionLog.create(config.predictionLog, logger, metrics?.registry, cluster.worker?.id);
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
    tracing,
    // Operator console (examples/console/dist) at /console/ when SERVE_CONSOLE is on.
    consoleDir: config.server.serveConsole ? defaultConsoleDir() : undefined,
  });
}

/**
 * Loads the model named by the config into `models` (MODEL_NOT_READY until this resolves), then the
 * shadow model when SHADOW_MODEL_DIR is set: one that fails its checks is a configuration error (the
 * process refuses to start, exit 2).
 */
export async function loadModel(config: Config, logger: Logger, models: ModelHost): Promise<InferenceService> {
  const onRunError = (err: unknown) => logger.error({ err }, 'inference run failed');
  const service = await models.load((hooks) =>
    InferenceService.create({ ...config.inference, hooks, predictionLog: models.predictionLog, onRunError }),
  );
  const shadow = config.inference.shadow;
  if (shadow) {
    try {
      const scorer = await models.loadShadow(
        (hooks) => InferenceService.create({ ...config.inference, modelDir: shadow.modelDir, hooks, onRunError }),
        { sampleRate: shadow.sampleRate, maxQueueRows: config.inference.maxQueueRows },
      );
      logger.info({ shadow: scorer.version, sampleRate: shadow.sampleRate, modelDir: shadow.modelDir }, 'shadow model ready');
    } catch (err) {
      throw new ConfigError('SHADOW_MODEL_DIR', `the shadow model failed its checks: ${(err as Error).message}`);
    }
  }
  return service;
}
