import type { Logger } from 'pino';
import { App, type AppOptions } from './app';
import type { Config } from './config';
import { consoleRoutes } from './console/static';
import { InferenceService } from './inference/inference.service';
import { ModelHost } from './inference/model-host';
import { createProtection } from './protection';

/**
 * The composition root: every feature (protection, console, ...) is wired into the App here, so that
 * main.ts and the tests start exactly the same server.
 */
export async function createApp(config: Config, logger: Logger, models = new ModelHost()): Promise<App> {
  // Protection: rate limits + rateLimit query, optional API keys, query limits (src/protection).
  const protection = createProtection(config, logger);
  const options: AppOptions = {
    config,
    models,
    logger,
    extraResolvers: [...protection.extraResolvers],
    globalMiddlewares: [...protection.globalMiddlewares],
    plugins: [...protection.plugins],
    validationRules: [...protection.validationRules],
    beforeGraphQL: protection.beforeGraphQL,
    // Operator console (examples/console/dist) at /console/ when SERVE_CONSOLE is on.
    routes: config.serveConsole ? consoleRoutes() : undefined,
  };
  const app = await App.create(options);
  // Node enforces headersTimeout/requestTimeout from a sweep that runs every 30 s by default, so a
  // client stalling its headers would hold a socket up to 30 s past HEADERS_TIMEOUT_MS. Sweep more often
  // (read when the server starts listening; cost: one pass over open connections per tick).
  (app.httpServer as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.max(250, Math.min(1_000, Math.floor(config.headersTimeoutMs / 2)));
  return app;
}

/** Loads the model named by the config into `models` (MODEL_NOT_READY until this resolves). */
export function loadModel(config: Config, logger: Logger, models: ModelHost): Promise<InferenceService> {
  return models.load(() =>
    InferenceService.create({
      modelDir: config.modelDir,
      device: config.inferenceDevice,
      threads: config.inferenceThreads,
      maxBatchSize: config.maxBatchSize,
      maxBatchWaitMs: config.maxBatchWaitMs,
      maxQueueRows: config.maxQueueRows,
      onRunError: (err) => logger.error({ err }, 'inference run failed'),
    }),
  );
}
