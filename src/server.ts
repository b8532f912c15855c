import type { Logger } from 'pino';
import { App } from './app';
import type { Config } from './config';
import { consoleRoutes } from './console/static';
import { InferenceService } from './inference/inference.service';
import { ModelHost } from './inference/model-host';
import { Metrics } from './observability/metrics';
import { createProtection } from './protection';

/**
 * The composition root: every feature (protection, console, ...) is wired into the App here, so that
 * main.ts and the tests start exactly the same server.
 */
export async function createApp(config: Config, logger: Logger, models = new ModelHost()): Promise<App> {
  const metrics = config.metrics.enabled ? new Metrics() : undefined;
  if (metrics) models.observe(metrics.modelObserver());
  return App.create({
    config,
    models,
    logger,
    metrics,
    // Protection: rate limits + rateLimit query, optional API keys, query limits (src/protection).
    ...createProtection(config, logger),
    // Operator console (examples/console/dist) at /console/ when SERVE_CONSOLE is on.
    routes: config.serveConsole ? consoleRoutes() : undefined,
  });
}

/** Loads the model named by the config into `models` (MODEL_NOT_READY until this resolves). */
export function loadModel(config: Config, logger: Logger, models: ModelHost): Promise<InferenceService> {
  return models.load((hooks) =>
    InferenceService.create({
      modelDir: config.modelDir,
      device: config.inferenceDevice,
      threads: config.inferenceThreads,
      maxBatchSize: config.maxBatchSize,
      maxBatchWaitMs: config.maxBatchWaitMs,
      maxQueueRows: config.maxQueueRows,
      maxQueueWaitMs: config.maxQueueWaitMs,
      hooks,
      onRunError: (err) => logger.error({ err }, 'inference run failed'),
    }),
  );
}
