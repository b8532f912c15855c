import 'reflect-metadata';
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { attachProcess, runPrimary } from './cluster';
import { ConfigError, loadConfig, loadEnvFile, type Config } from './config';
import { ModelHost } from './inference/model-host';
import { createLogger } from './logger';
import { TrustedDocumentsError } from './protection/trusted-documents';
import { createApp, loadModel } from './server';

/** What main() needs of its own process: the real one, or a recorder in tests. */
export interface MainProcess {
  env: NodeJS.ProcessEnv;
  stderr: { write(text: string): unknown };
  exit(code: number): void;
  once(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

/** main()'s collaborators; each defaults to the real one (tests pass fakes, the process passes none). */
export interface MainDeps {
  proc: MainProcess;
  isPrimary: boolean;
  createLogger: typeof createLogger;
  runPrimary: typeof runPrimary;
  createApp: typeof createApp;
  attachProcess: typeof attachProcess;
  loadModel: typeof loadModel;
}

/** Process entry: config, HTTP server (alive at once), model load (ready when done), signals. */
export async function main(deps: Partial<MainDeps> = {}): Promise<void> {
  const {
    proc = process,
    isPrimary = cluster.isPrimary,
    createLogger: newLogger = createLogger,
    runPrimary: startPrimary = runPrimary,
    createApp: newApp = createApp,
    attachProcess: attach = attachProcess,
    loadModel: load = loadModel,
  } = deps;
  let config;
  try {
    loadEnvFile(proc.env);
    config = loadConfig(proc.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      proc.stderr.write(`${err.message}\n`);
      return proc.exit(2);
    }
    throw err;
  }
  const logger = newLogger(config.observability);
  if (config.server.workers > 1 && isPrimary) return startPrimary(config, logger);
  const models = new ModelHost();
  let app;
  try {
    app = await newApp(config, logger, models);
  } catch (err) {
    // A manifest the server cannot serve is a configuration error: the same exit code, the id at fault.
    if (err instanceof TrustedDocumentsError) {
      proc.stderr.write(`${err.message}\n`);
      return proc.exit(2);
    }
    throw err;
  }
  const { url } = await app.listen();
  logListening(logger, config, url);
  const serving = await attach(app, models, config, logger);

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
    proc.exit(code);
  };
  proc.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  proc.once('SIGINT', () => void shutdown('SIGINT', 0));

  try {
    const service = await load(config, logger, models);
    logger.info(
      { model: service.manifest.name, version: service.manifest.version, device: service.device, modelDir: config.inference.modelDir },
      'model ready',
    );
    serving.ready();
  } catch (err) {
    // A shadow that fails its checks is a configuration error (SHADOW_MODEL_DIR): exit 2, one line.
    const shadow = err instanceof ConfigError;
    logger.fatal({ err: { message: (err as Error).message } }, shadow ? 'shadow model failed to load' : 'model failed to load');
    proc.stderr.write(shadow ? `${(err as Error).message}\n` : `Model failed to load: ${(err as Error).message}\n`);
    logger.flush();
    await app.stop().catch(() => undefined);
    proc.exit(shadow ? 2 : 1);
  }
}

/** The line that says where the server listens, and where the sandbox and the console are when served. */
function logListening(logger: Logger, config: Config, url: string): void {
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
}

// Run as the process (node dist/src/main.js); imported (tests), it only exports main.
if (require.main === module) void main();
