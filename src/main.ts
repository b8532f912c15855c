import 'reflect-metadata';
import cluster from 'node:cluster';
import { attachProcess, runPrimary } from './cluster';
import { ConfigError, loadConfig, loadEnvFile } from './config';
import { ModelHost } from './inference/model-host';
import { createLogger } from './logger';
import { TrustedDocumentsError } from './protection/trusted-documents';
import { createApp, loadModel } from './server';

/** Process entry: config, HTTP server (alive at once), model load (ready when done), signals. */
async function main(): Promise<void> {
  let config;
  try {
    loadEnvFile();
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.observability);
  if (config.server.workers > 1 && cluster.isPrimary) return runPrimary(config, logger);
  const models = new ModelHost();
  let app;
  try {
    app = await createApp(config, logger, models);
  } catch (err) {
    // A manifest the server cannot serve is a configuration error: the same exit code, the id at fault.
    if (err instanceof TrustedDocumentsError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { url } = await app.listen();
  const origin = url.slice(0, -'/graphql'.length);
  logger.info(
    {
      graphql: url,
      ...(config.server.landingPage ? { sandbox: url } : {}),
      ...(config.server.serveConsole ? { console: `${origin}/console/` } : {}),
      env: config.nodeEnv,
    },
    `listening: GraphQL at ${url}` +
      (config.server.landingPage ? ` (Apollo Sandbox: open it in a browser)` : '') +
      (config.server.serveConsole ? `; operator console at ${origin}/console/` : ''),
  );
  const serving = await attachProcess(app, models, config, logger);

  let exiting = false;
  const shutdown = async (signal: string, code: number) => {
    if (exiting) return;
    exiting = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    try {
      await app.stop();
      logger.info('stopped');
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      code = 1;
    }
    logger.flush();
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  try {
    const service = await loadModel(config, logger, models);
    logger.info(
      { model: service.manifest.name, version: service.manifest.version, device: service.device, modelDir: config.inference.modelDir },
      'model ready',
    );
    serving.ready();
  } catch (err) {
    // A shadow that fails its checks is a configuration error (SHADOW_MODEL_DIR): exit 2, one line.
    const shadow = err instanceof ConfigError;
    logger.fatal({ err: { message: (err as Error).message } }, shadow ? 'shadow model failed to load' : 'model failed to load');
    process.stderr.write(shadow ? `${(err as Error).message}\n` : `Model failed to load: ${(err as Error).message}\n`);
    logger.flush();
    await app.stop().catch(() => undefined);
    process.exit(shadow ? 2 : 1);
  }
}

void main();
