import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { App } from './app';
import { IpcClient, type IpcRequest } from './cluster-ipc';
import type { Config } from './config';
import type { ModelHost, ShadowPair } from './inference/model-host';
import { addTotals, type ShadowTotals } from './inference/shadow-scorer';
import { withClusterDrift } from './observability/drift-cluster';
import { serveMetrics } from './observability/metrics-server';
import { RATE_LIMIT_CHANNEL } from './protection/cluster-store';
import { MemoryRateLimitStore } from './protection/store';

/** IPC tags besides the rate limiter's: a worker asking for the cluster's metrics, and saying it is ready. */
const METRICS_CHANNEL = 'pm:metrics';
const READY_CHANNEL = 'pm:ready';
/** A worker asking for the shadow statistics of every worker; the primary collecting them from each. */
const SHADOW_CHANNEL = 'pm:shadow';
const SHADOW_COLLECT = 'pm:shadow:collect';
type ShadowReport = { pair: ShadowPair; totals: ShadowTotals } | null;

/**
 * A ready worker's death is answered with a replacement at once; a death less than `resetMs` after the
 * previous one waits `firstMs`, doubling with each further death in a row up to `maxMs`.
 */
export const RESTART_BACKOFF = { firstMs: 1_000, maxMs: 30_000, resetMs: 60_000 } as const;

/** The wait before replacing the `deathsInRow`-th worker to die in a row (0: the first, replaced at once). */
function restartDelayMs(deathsInRow: number): number {
  if (deathsInRow === 0) return 0;
  return Math.min(RESTART_BACKOFF.firstMs * 2 ** (deathsInRow - 1), RESTART_BACKOFF.maxMs);
}

/**
 * Replaces a ready worker that died: at once, or, when it died soon after the previous death, after
 * RESTART_BACKOFF's wait, so a crash loop (a request that kills workers, retried by its client) is no fork storm.
 */
function replacer(fork: () => void, logger: Logger, stopping: () => boolean) {
  let deathsInRow = 0;
  let lastDeath = -Infinity;
  return (worker: Worker, code: number, signal: string): void => {
    const now = Date.now();
    deathsInRow = now - lastDeath < RESTART_BACKOFF.resetMs ? deathsInRow + 1 : 0;
    lastDeath = now;
    const delayMs = restartDelayMs(deathsInRow);
    if (delayMs === 0) {
      logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting a replacement');
      fork();
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: delayMs }, 'worker died again soon; its replacement waits');
    // One timer per death, so two workers dying together are both replaced; none once the cluster stops.
    setTimeout(() => {
      if (!stopping()) fork();
    }, delayMs);
  };
}

/** What the primary uses of node:cluster: a test hands in fake workers (EventEmitters with send()). */
export interface PrimaryCluster {
  readonly workers?: NodeJS.Dict<Worker>;
  fork(): Worker;
  on(event: 'message', listener: (worker: Worker, message: IpcRequest) => void): unknown;
  on(event: 'exit', listener: (worker: Worker, code: number, signal: string) => void): unknown;
}

/** runPrimary's surroundings; each defaults to the real one (node:cluster, the process, prom-client, a listener). */
export interface PrimaryOptions {
  cluster?: PrimaryCluster;
  /** Where SIGTERM, SIGINT and SIGHUP arrive, and how the primary exits. */
  process?: {
    on(signal: NodeJS.Signals, listener: () => void): unknown;
    once(signal: NodeJS.Signals, listener: () => void): unknown;
    exit(code: number): void;
  };
  /** Every worker's metrics, summed (prom-client asks each worker of node:cluster). */
  aggregator?: { readonly contentType: string; clusterMetrics(): Promise<string> };
  serveMetrics?: typeof serveMetrics;
}

/**
 * WORKERS > 1: the primary process serves nothing itself. It forks the workers (each a whole server
 * with its own ONNX session, sharing the port through node:cluster), holds the host's rate-limit
 * budgets for them (workers reserve through IPC, see ClusterRateLimitStore), aggregates their metrics,
 * replaces a worker that dies, forwards SIGHUP (reload the model) and drains every worker on SIGTERM.
 */
export function runPrimary(config: Config, logger: Logger, options: PrimaryOptions = {}): void {
  const nodeCluster: PrimaryCluster = options.cluster ?? cluster;
  const proc: NonNullable<PrimaryOptions['process']> = options.process ?? process;
  const aggregator = options.aggregator ?? new AggregatorRegistry();
  const listen = options.serveMetrics ?? serveMetrics;
  const stores = {
    budgets: new MemoryRateLimitStore(config.protection.rateLimit.memoryMaxKeys),
    requests: new MemoryRateLimitStore(config.protection.rateLimit.memoryMaxKeys),
  };
  // Every worker's series summed, with drift's PSI recomputed from the summed window counts.
  const clusterMetrics = async () => withClusterDrift(await aggregator.clusterMetrics());
  const everReady = new Set<number>();
  let stopping = false;

  const fork = () => nodeCluster.fork();
  nodeCluster.on(
    'message',
    answerWorker(nodeCluster, stores, clusterMetrics, shadowCollector(nodeCluster, everReady), everReady, config, logger),
  );

  const replace = replacer(fork, logger, () => stopping);
  nodeCluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (!everReady.has(worker.id)) {
      // A worker that never got ready (bad model, port taken) would fail again: stop instead of looping.
      logger.fatal({ pid: worker.process.pid, code, signal }, 'a worker failed to start; stopping the cluster');
      // Exit 2 (a configuration error, e.g. an invalid trusted-documents manifest) is passed on as such.
      void stop(code === 2 ? 2 : 1);
      return;
    }
    everReady.delete(worker.id);
    replace(worker, code, signal);
  });

  const stop = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: draining every worker');
    const workers = Object.values(nodeCluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    await Promise.all([stores.budgets.close(), stores.requests.close()]);
    logger.info('stopped');
    logger.flush();
    proc.exit(exitCode);
  };
  proc.once('SIGTERM', () => void stop(0));
  proc.once('SIGINT', () => void stop(0));
  proc.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the model in every worker');
    // Only ready workers: one still starting has no SIGHUP handler yet (the default action would kill
    // it), and it loads the current MODEL_DIR anyway.
    for (const w of Object.values(nodeCluster.workers ?? {})) if (w && everReady.has(w.id)) w.process.kill('SIGHUP');
  });

  if (config.observability.metrics.enabled && config.observability.metrics.port !== undefined) {
    listen(
      config.observability.metrics.port,
      config.server.host,
      async () => ({ contentType: aggregator.contentType, body: await clusterMetrics() }),
      (err) => logger.warn({ err }, 'metrics aggregation failed'),
    ).then(
      ({ port }) => logger.info({ port }, 'metrics listening'),
      (err) => {
        logger.fatal({ err }, 'metrics port cannot be opened');
        void stop(1);
      },
    );
  }
  logger.info({ workers: config.server.workers }, 'starting workers');
  for (let i = 0; i < config.server.workers; i++) fork();
}

/** The primary's side of the workers' IPC: rate-limit reservations, cluster metrics, shadow statistics, readiness. */
function answerWorker(
  nodeCluster: PrimaryCluster,
  stores: { budgets: MemoryRateLimitStore; requests: MemoryRateLimitStore },
  clusterMetrics: () => Promise<string>,
  shadow: ReturnType<typeof shadowCollector>,
  everReady: Set<number>,
  config: Config,
  logger: Logger,
): (worker: Worker, message: IpcRequest) => void {
  return function onWorkerMessage(worker, message) {
    switch (message?.pm) {
      case SHADOW_COLLECT:
        shadow.report(message.id, worker, (message.result ?? null) as ShadowReport);
        return;
      case SHADOW_CHANNEL:
        shadow.collect(message.pair as ShadowPair).then(
          (result) => worker.isConnected() && worker.send({ pm: message.pm, id: message.id, result }),
          (err: Error) => worker.isConnected() && worker.send({ pm: message.pm, id: message.id, error: err.message }),
        );
        return;
      case `${RATE_LIMIT_CHANNEL}:budgets`:
      case `${RATE_LIMIT_CHANNEL}:requests`: {
        const store = message.family === 'requests' ? stores.requests : stores.budgets;
        // Synchronous: one message at a time, so reserve stays atomic across workers.
        const reply = (body: { result?: unknown; error?: string }) =>
          worker.isConnected() && worker.send({ pm: message.pm, id: message.id, ...body });
        try {
          const result =
            message.op === 'reserve'
              ? store.reserve(String(message.clientId), message.cost as never, message.limits as never)
              : store.peek(String(message.clientId));
          reply({ result });
        } catch (err) {
          reply({ error: (err as Error).message });
        }
        return;
      }
      case METRICS_CHANNEL:
        clusterMetrics().then(
          (text) => worker.isConnected() && worker.send({ pm: message.pm, id: message.id, result: text }),
          (err: Error) => worker.isConnected() && worker.send({ pm: message.pm, id: message.id, error: err.message }),
        );
        return;
      case READY_CHANNEL:
        everReady.add(worker.id);
        logger.info(
          {
            pid: worker.process.pid,
            ready: [...everReady].filter((id) => nodeCluster.workers?.[id]).length,
            workers: config.server.workers,
          },
          'worker ready',
        );
        return;
    }
  };
}

/**
 * What every serving process (single, or a cluster worker) adds to the App: SIGHUP reloads the model;
 * /metrics on METRICS_PORT when that is another port (single process only: in a cluster the primary
 * serves it); in a worker, /metrics answers for the whole cluster. Call `ready()` once the model is loaded.
 */
export async function attachProcess(
  app: App,
  models: ModelHost,
  config: Config,
  logger: Logger,
  options: { isWorker?: boolean; serveMetrics?: typeof serveMetrics } = {},
): Promise<{ ready: () => void }> {
  const { isWorker = cluster.isWorker, serveMetrics: listen = serveMetrics } = options;
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the model');
    // reload logs its own outcome (and a refusal leaves the old model serving).
    models.reload(logger).catch(() => undefined);
    reloadTrustedDocuments(app, logger);
  });
  const metrics = app.metrics;
  if (isWorker) {
    if (metrics) {
      // prom-client answers the primary's aggregation requests from these registries.
      AggregatorRegistry.setRegistries([metrics.registry as Registry]);
      new AggregatorRegistry();
      const ipc = new IpcClient(METRICS_CHANNEL, 6_000);
      metrics.useAggregate(() => ipc.request<string>({}));
      // modelInfo.drift answers for the cluster too, from the same aggregated counts.
      models.useClusterDrift(async () => (await metrics.metricsText()).body);
    }
    // Shadow statistics: answer the primary's collection, and ask it for the sum over every worker.
    process.on('message', (message: IpcRequest | undefined) => {
      if (message?.pm === SHADOW_COLLECT) process.send?.({ pm: SHADOW_COLLECT, id: message.id, result: models.shadowTotals() ?? null });
    });
    const shadowIpc = new IpcClient(SHADOW_CHANNEL, 3_000);
    models.useShadowAggregate(async (pair, local) => {
      try {
        return (await shadowIpc.request<ShadowTotals | null>({ pair })) ?? local;
      } catch {
        return local; // the primary did not answer: this worker's own statistics are still exact for it
      }
    });
    return { ready: () => process.send?.({ pm: READY_CHANNEL, id: 0 }) };
  }
  if (metrics && config.observability.metrics.port !== undefined) {
    const { port } = await listen(
      config.observability.metrics.port,
      config.server.host,
      () => metrics.metricsText(),
      (err) => logger.warn({ err }, 'metrics failed'),
    );
    logger.info({ port }, 'metrics listening');
  }
  return { ready: () => undefined };
}

/** Collects every ready worker's shadow totals for one primary/shadow pair, summed. */
function shadowCollector(
  nodeCluster: PrimaryCluster,
  everReady: Set<number>,
): {
  collect(pair: ShadowPair): Promise<ShadowTotals | null>;
  report(id: number, worker: Worker, report: ShadowReport): void;
} {
  const collecting = new Map<number, (worker: Worker, report: ShadowReport) => void>();
  let collectId = 0;
  return {
    /** A worker that does not answer within 2 s is left out. */
    collect(pair) {
      const workers = Object.values(nodeCluster.workers ?? {}).filter((w): w is Worker => !!w && everReady.has(w.id) && w.isConnected());
      const id = ++collectId;
      return new Promise((resolve) => {
        let sum: ShadowTotals | null = null;
        const waiting = new Set(workers.map((w) => w.id));
        const finish = () => {
          clearTimeout(timer);
          collecting.delete(id);
          resolve(sum);
        };
        const timer = setTimeout(finish, 2_000);
        collecting.set(id, (worker, report) => {
          if (!waiting.delete(worker.id)) return;
          if (report && report.pair.primary === pair.primary && report.pair.shadow === pair.shadow) {
            sum = sum ? addTotals(sum, report.totals) : report.totals;
          }
          if (waiting.size === 0) finish();
        });
        if (waiting.size === 0) finish();
        for (const w of workers) w.send({ pm: SHADOW_COLLECT, id });
      });
    },
    report(id, worker, report) {
      collecting.get(id)?.(worker, report);
    },
  };
}

/** SIGHUP: the manifests are read again; one that fails leaves the documents being served unchanged. */
function reloadTrustedDocuments(app: App, logger: Logger): void {
  const trusted = app.trustedDocuments;
  if (!trusted) return;
  try {
    logger.info({ documents: trusted.reload() }, 'trusted documents reloaded');
  } catch (err) {
    logger.error({ err: { message: (err as Error).message } }, 'trusted documents not reloaded; the previous manifests stay in use');
  }
}
