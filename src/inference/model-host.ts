import type { Logger } from 'pino';
import { modelNotReady } from '../errors';
import type { PredictionLog } from '../prediction-log/prediction-log';
import type { BatcherHooks } from './batcher';
import type { DriftMonitor } from './drift';
import type { InferenceService } from './inference.service';
import { ShadowScorer, summarize, type ShadowHooks, type ShadowListener, type ShadowSummary, type ShadowTotals } from './shadow-scorer';

/** Which primary/shadow pair some totals belong to (only the same pair's totals are summed). */
export interface ShadowPair {
  primary: string;
  shadow: string;
}

/** Sums this pair's totals over every worker of a cluster (src/cluster.ts); the local process's alone otherwise. */
export type ShadowAggregate = (pair: ShadowPair, local: ShadowTotals) => Promise<ShadowTotals>;

export type ModelState =
  | { status: 'loading' }
  | { status: 'ready'; service: InferenceService }
  /** Shutdown has begun: readiness is false, but requests already sent are still served. */
  | { status: 'draining'; service: InferenceService | undefined }
  | { status: 'failed'; error: Error }
  | { status: 'closing' };

/** Builds a loaded service, reporting its queue and runs to `hooks`. Kept by the host for reloads. */
export type ServiceFactory = (hooks: BatcherHooks | undefined) => Promise<InferenceService>;

/** Who hears about models being served and reloaded (metrics). */
export interface ModelObserver {
  /** Given to every service's batcher. */
  inference?: BatcherHooks;
  /** `service` is now the one serving (first load or a reload). */
  serving?: (service: InferenceService) => void;
  reloaded?: (outcome: 'ok' | 'refused') => void;
  /** The shadow now compared (undefined: none), after a load, reload, promotion or drop. */
  shadow?: (scorer: ShadowScorer | undefined) => void;
  /** Given to every shadow scorer. */
  shadowHooks?: ShadowHooks;
  /**
   * A reload begins (tracing): `trace` is the requesting call's opaque trace handle, if any; the function
   * returned is called once with how it ended.
   */
  reloadStarted?: (trace: unknown) => (outcome: 'ok' | 'refused', reason?: string) => void;
}

/** How the host loads and samples its shadow model (SHADOW_MODEL_DIR, SHADOW_SAMPLE_RATE). */
export interface ShadowOptions {
  sampleRate: number;
  maxQueueRows: number;
}

/**
 * A shadow's batcher reports to the primary's hooks only once it is promoted: until then its runs and
 * queue are not the primary's (pm_inference_* would count them twice).
 */
class HookRelay {
  target: BatcherHooks | undefined;
  readonly hooks: BatcherHooks = {
    onRun: (rows, seconds, ok) => this.target?.onRun?.(rows, seconds, ok),
    onQueueWait: (seconds, rows) => this.target?.onQueueWait?.(seconds, rows),
    onQueueChange: (delta) => this.target?.onQueueChange?.(delta),
    onDrop: (reason, rows) => this.target?.onDrop?.(reason, rows),
    onTracedWait: (trace, queuedAt, rows, dropped) => this.target?.onTracedWait?.(trace, queuedAt, rows, dropped),
    onTracedRun: (traces, rows, startedAt, ok, info) => this.target?.onTracedRun?.(traces, rows, startedAt, ok, info),
  };
}

/** A reload that did not happen; the serving model is unchanged. `reason` names the failed check. */
export class ModelReloadError extends Error {
  constructor(readonly reason: string) {
    super(`model reload refused: ${reason}`);
    this.name = 'ModelReloadError';
  }
}

/** The primary kept serving (its reload, if any, succeeded) but the shadow failed its checks and was dropped. */
export class ShadowDroppedError extends ModelReloadError {
  constructor(
    reason: string,
    readonly servingVersion: string,
  ) {
    super(`the shadow model (SHADOW_MODEL_DIR) failed its checks and was dropped: ${reason}`);
    this.name = 'ShadowDroppedError';
  }
}

/**
 * Holds the process's inference service through its lifecycle. The HTTP server starts before the
 * model is loaded (so orchestrators see it alive), and every prediction asks the host for the service.
 */
export class ModelHost {
  private current: ModelState = { status: 'loading' };
  private factory: ServiceFactory | undefined;
  private observer: ModelObserver = {};
  private reloads: Promise<unknown> = Promise.resolve();
  private drift: DriftMonitor | undefined;
  private clusterMetricsText: (() => Promise<string>) | undefined;
  /**
   * The prediction log every service this host loads writes to (PREDICTION_LOG; set before `load`).
   * The host owns it because it is the last thing the App's stop closes: the log's final flush comes
   * after the last request has been answered.
   */
  predictionLog: PredictionLog | undefined;
  private shadowFactory: ServiceFactory | undefined;
  private shadowOptions: ShadowOptions | undefined;
  private scorer: ShadowScorer | undefined;
  /** The relay of the shadow's batcher hooks, switched to the primary's at a promotion. */
  private shadowRelay: HookRelay | undefined;
  private shadowListener: ShadowListener | undefined;
  private shadowAggregate: ShadowAggregate | undefined;

  get state(): ModelState {
    return this.current;
  }

  /** Reports services and reloads to `observer` (set before `load`). */
  observe(observer: ModelObserver): void {
    this.observer = observer;
  }

  /** Counts the rows every serving model answers into `monitor` (set before `load`). */
  watchDrift(monitor: DriftMonitor): void {
    this.drift = monitor;
  }

  /** In a cluster worker: where the cluster's aggregated /metrics text comes from (modelInfo.drift sums every worker). */
  useClusterDrift(clusterMetricsText: () => Promise<string>): void {
    this.clusterMetricsText = clusterMetricsText;
  }

  /** The cluster's metrics text, when this process is one worker of several (else undefined: use driftMonitor). */
  get clusterDrift(): (() => Promise<string>) | undefined {
    return this.clusterMetricsText;
  }

  /** The drift monitor, when DRIFT_ENABLED (GraphQL's modelInfo.drift reads it). */
  get driftMonitor(): DriftMonitor | undefined {
    return this.drift;
  }

  /** `service` starts serving: its calls are logged, drift compares with its reference and counts its answers. */
  private startServing(service: InferenceService): void {
    if (this.predictionLog) service.logPredictions(this.predictionLog);
    if (this.drift) {
      this.drift.useReference(service.manifest.drift);
      service.reportServed(this.drift);
    }
    this.observer.serving?.(service);
  }

  /** The one answer `/readyz` and `health.status` give: only `ready` takes new traffic. */
  get ready(): boolean {
    return this.current.status === 'ready';
  }

  /** The shadow compared with the primary, if one is loaded. */
  shadow(): ShadowScorer | undefined {
    return this.scorer;
  }

  /** This process's shadow pair and totals, for a cluster's aggregation (undefined: no shadow). */
  shadowTotals(): { pair: ShadowPair; totals: ShadowTotals } | undefined {
    const scorer = this.scorer;
    const primary = this.peek();
    if (!scorer || !primary) return undefined;
    return { pair: { primary: primary.manifest.version, shadow: scorer.version }, totals: scorer.totalsSnapshot() };
  }

  /** Sums shadow statistics through `aggregate` (a cluster worker asks the primary for every worker's). */
  useShadowAggregate(aggregate: ShadowAggregate): void {
    this.shadowAggregate = aggregate;
  }

  /** The shadow's agreement statistics (over every worker in a cluster), or undefined when there is no shadow. */
  async shadowSummary(): Promise<ShadowSummary | undefined> {
    const local = this.shadowTotals();
    if (!local) return undefined;
    const totals = this.shadowAggregate ? await this.shadowAggregate(local.pair, local.totals) : local.totals;
    return summarize(local.pair.shadow, totals);
  }

  /**
   * Hears every shadow run: its rows, the shadow's answers and version (the prediction log records them
   * beside the primary's). Applies to the shadows loaded later too.
   */
  onShadowScored(listener: ShadowListener | undefined): void {
    this.shadowListener = listener;
  }

  /** Every shadow run: its answers go to the prediction log under the primary's ids, then to the listener. */
  private readonly shadowScored: ShadowListener = (rows, outputs, version, primary) => {
    this.predictionLog?.appendShadow(primary, outputs, version);
    // Stryker disable next-line OptionalChaining: equivalent, the scorer calls this inside a try/catch and this call is its last step
    this.shadowListener?.(rows, outputs, version, primary);
  };

  /** The serving service (also while draining), or MODEL_NOT_READY. */
  service(): InferenceService {
    const state = this.current;
    if ((state.status === 'ready' || state.status === 'draining') && state.service) return state.service;
    throw modelNotReady(state.status);
  }

  /** The service if one is loaded, without throwing (for health and info). */
  peek(): InferenceService | undefined {
    const state = this.current;
    return state.status === 'ready' || state.status === 'draining' ? state.service : undefined;
  }

  /**
   * Shutdown begins: readiness goes false (load balancers stop sending), requests still arriving on open
   * connections are served. A model still loading is abandoned (its session is closed when it arrives).
   */
  drain(): void {
    const state = this.current;
    if (state.status === 'ready') this.current = { status: 'draining', service: state.service };
    else if (state.status === 'loading') this.current = { status: 'draining', service: undefined };
  }

  async load(create: ServiceFactory): Promise<InferenceService> {
    if (this.current.status !== 'loading') throw new Error(`cannot load a model in state ${this.current.status}`);
    this.factory = create;
    try {
      const service = await create(this.observer.inference);
      const now = this.current as ModelState; // may have moved on while we awaited
      if (now.status !== 'loading') {
        await service.close(); // drained or closed while loading: the new session must not leak
        throw new Error(`model host was ${now.status} while loading`);
      }
      this.current = { status: 'ready', service };
      this.startServing(service);
      return service;
    } catch (err) {
      if (this.current.status === 'loading') this.current = { status: 'failed', error: err as Error };
      throw err;
    }
  }

  /**
   * Loads a shadow model beside the serving primary (call after `load`), checked like a reload's
   * candidate (manifest, hash, first run, golden outputs). Rejects, and keeps no shadow, when a check fails.
   */
  async loadShadow(create: ServiceFactory, options: ShadowOptions): Promise<ShadowScorer> {
    const state = this.current;
    if (state.status !== 'ready') throw new Error(`cannot load a shadow model in state ${state.status}`);
    this.shadowFactory = create;
    this.shadowOptions = options;
    try {
      const { service, relay } = await this.createShadow();
      const now = this.current as ModelState;
      if (now.status !== 'ready') {
        await service.close();
        throw new Error(`model host was ${now.status} while loading the shadow`);
      }
      return this.pair(now.service, service, relay);
    } catch (err) {
      // No shadow is kept, so a later reload must not load this one again (and report it refused).
      this.shadowFactory = undefined;
      this.shadowOptions = undefined;
      throw err;
    }
  }

  /**
   * Loads the model directory again beside the serving model and switches to it once it passes every
   * check: manifest and file hash, a first run (InferenceService.create), golden outputs within
   * tolerance. Calls already queued on the old service finish there (a predictBatch never mixes
   * versions); the old session is released once its queue is empty. On any failure the old model keeps
   * serving and this rejects with ModelReloadError. Reloads run one at a time.
   */
  reload(logger: Logger, options: { promoteShadow?: boolean; trace?: unknown } = {}): Promise<InferenceService> {
    const next = this.reloads.then(() =>
      options.promoteShadow ? this.promoteNow(logger, options.trace) : this.reloadNow(logger, options.trace),
    );
    this.reloads = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(logger: Logger, trace: unknown): Promise<InferenceService> {
    const ended = this.observer.reloadStarted?.(trace);
    const refuse = (reason: string): never => {
      this.observer.reloaded?.('refused');
      ended?.('refused', reason);
      logger.error({ reason }, 'model reload refused; the serving model is unchanged');
      throw new ModelReloadError(reason);
    };
    if (this.current.status !== 'ready' || this.factory === undefined) return refuse(`no model is serving (state: ${this.current.status})`);
    let candidate: InferenceService | undefined;
    try {
      candidate = await this.factory(this.observer.inference);
      await candidate.checkGolden();
    } catch (err) {
      await candidate?.close().catch(() => undefined);
      return refuse((err as Error).message);
    }
    // The shadow is reloaded too; its failure drops it, but does not hold the primary back.
    let shadow: { service: InferenceService; relay: HookRelay } | undefined;
    let shadowFailure: string | undefined;
    if (this.shadowFactory) {
      try {
        shadow = await this.createShadow();
      } catch (err) {
        shadowFailure = (err as Error).message;
      }
    }
    // Awaits above: the host may have begun draining meanwhile (TypeScript keeps the earlier narrowing).
    const now = this.current as ModelState;
    if (now.status !== 'ready') {
      await candidate.close();
      await shadow?.service.close();
      return refuse(`the server began shutting down during the reload (state: ${now.status})`);
    }
    const old = now.service;
    const oldScorer = this.scorer;
    old.tapPredictions(undefined);
    this.current = { status: 'ready', service: candidate };
    old.reportServed(undefined); // calls still queued on the old model answer with another reference
    this.startServing(candidate);
    if (shadow) this.pair(candidate, shadow.service, shadow.relay);
    else this.unpair();
    this.observer.reloaded?.(shadowFailure === undefined ? 'ok' : 'refused');
    ended?.(shadowFailure === undefined ? 'ok' : 'refused', shadowFailure);
    logger.info(
      {
        from: old.manifest.version,
        to: candidate.manifest.version,
        device: candidate.device,
        queuedOnOld: old.stats().queuedRows,
        ...(shadow ? { shadow: shadow.service.manifest.version } : {}),
      },
      'model reloaded',
    );
    old.retire().catch((err) => logger.error({ err }, 'releasing the replaced model failed'));
    if (oldScorer) this.retireShadow(oldScorer, logger);
    if (shadowFailure !== undefined) {
      this.shadowFactory = undefined;
      logger.error({ reason: shadowFailure, serving: candidate.manifest.version }, 'shadow model refused at reload; no shadow remains');
      throw new ShadowDroppedError(shadowFailure, candidate.manifest.version);
    }
    return candidate;
  }

  /**
   * The shadow becomes the primary in one step: its waiting shadow rows are withdrawn, its batcher then
   * reports to the primary's hooks, and every later call goes to it; calls already queued on the old
   * primary finish there, and its session is released when its queue is empty. No shadow remains, and
   * later reloads load the promoted model's directory.
   */
  private async promoteNow(logger: Logger, trace: unknown): Promise<InferenceService> {
    const ended = this.observer.reloadStarted?.(trace);
    const refuse = (reason: string): never => {
      this.observer.reloaded?.('refused');
      ended?.('refused', reason);
      logger.error({ reason }, 'shadow promotion refused; the serving model is unchanged');
      throw new ModelReloadError(reason);
    };
    const scorer = this.scorer;
    const relay = this.shadowRelay;
    if (this.current.status !== 'ready') return refuse(`no model is serving (state: ${this.current.status})`);
    if (!scorer || !relay) return refuse('there is no shadow model to promote (SHADOW_MODEL_DIR unset, or dropped)');
    await scorer.withdraw();
    const now = this.current as ModelState;
    if (now.status !== 'ready') return refuse(`the server began shutting down during the promotion (state: ${now.status})`);
    const old = now.service;
    const promoted = scorer.service;
    old.tapPredictions(undefined);
    relay.target = this.observer.inference;
    this.current = { status: 'ready', service: promoted };
    this.factory = this.shadowFactory;
    this.shadowFactory = undefined;
    this.scorer = undefined;
    this.shadowRelay = undefined;
    old.reportServed(undefined);
    this.startServing(promoted);
    this.observer.shadow?.(undefined);
    this.observer.reloaded?.('ok');
    ended?.('ok');
    logger.info(
      {
        from: old.manifest.version,
        to: promoted.manifest.version,
        rowsCompared: scorer.summary().rowsCompared,
        queuedOnOld: old.stats().queuedRows,
      },
      'shadow model promoted',
    );
    old.retire().catch((err) => logger.error({ err }, 'releasing the replaced model failed'));
    return promoted;
  }

  private async createShadow(): Promise<{ service: InferenceService; relay: HookRelay }> {
    const relay = new HookRelay();
    let service: InferenceService | undefined;
    try {
      service = await this.shadowFactory!(relay.hooks);
      await service.checkGolden();
    } catch (err) {
      await service?.close().catch(() => undefined);
      throw err;
    }
    return { service, relay };
  }

  /** A new primary/shadow pair: a new scorer (statistics start again), fed by the primary's runs. */
  private pair(primary: InferenceService, shadow: InferenceService, relay: HookRelay): ShadowScorer {
    const scorer = new ShadowScorer(shadow, {
      ...this.shadowOptions!,
      hooks: this.observer.shadowHooks,
      listener: this.shadowScored,
    });
    this.scorer = scorer;
    this.shadowRelay = relay;
    if (this.predictionLog) this.predictionLog.joinShadowAnswers = true;
    primary.tapPredictions((rows, predictions) => scorer.offer(rows, predictions));
    this.observer.shadow?.(scorer);
    return scorer;
  }

  private unpair(): void {
    if (this.scorer === undefined) return;
    this.scorer = undefined;
    this.shadowRelay = undefined;
    this.observer.shadow?.(undefined);
  }

  private retireShadow(scorer: ShadowScorer, logger: Logger): void {
    scorer
      .withdraw()
      .then(() => scorer.service.close())
      .catch((err) => logger.error({ err }, 'releasing the replaced shadow model failed'));
  }

  /** Stops serving new predictions, releases the sessions, then writes out the prediction log's buffer. */
  async close(): Promise<void> {
    const previous = this.current;
    this.current = { status: 'closing' };
    const scorer = this.scorer;
    this.unpair();
    if (scorer) {
      // A shadow run still in progress gets a second to finish; shutdown does not wait on the shadow longer.
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)));
      await Promise.race([scorer.withdraw(), grace]);
      clearTimeout(timer);
      await scorer.service.close();
    }
    if ((previous.status === 'ready' || previous.status === 'draining') && previous.service) await previous.service.close();
    await this.predictionLog?.close();
  }
}
