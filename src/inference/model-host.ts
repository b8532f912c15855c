import type { Logger } from 'pino';
import { modelNotReady } from '../errors';
import type { BatcherHooks } from './batcher';
import type { InferenceService } from './inference.service';

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
  /**
   * A reload begins (tracing): `trace` is the requesting call's opaque trace handle, if any; the function
   * returned is called once with how it ended.
   */
  reloadStarted?: (trace: unknown) => (outcome: 'ok' | 'refused', reason?: string) => void;
}

/** A reload that did not happen; the serving model is unchanged. `reason` names the failed check. */
export class ModelReloadError extends Error {
  constructor(readonly reason: string) {
    super(`model reload refused: ${reason}`);
    this.name = 'ModelReloadError';
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

  get state(): ModelState {
    return this.current;
  }

  /** Reports services and reloads to `observer` (set before `load`). */
  observe(observer: ModelObserver): void {
    this.observer = observer;
  }

  /** The one answer `/readyz` and `health.status` give: only `ready` takes new traffic. */
  get ready(): boolean {
    return this.current.status === 'ready';
  }

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
      this.observer.serving?.(service);
      return service;
    } catch (err) {
      if (this.current.status === 'loading') this.current = { status: 'failed', error: err as Error };
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
  reload(logger: Logger, trace?: unknown): Promise<InferenceService> {
    const next = this.reloads.then(() => this.reloadNow(logger, trace));
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
    // Awaits above: the host may have begun draining meanwhile (TypeScript keeps the earlier narrowing).
    const now = this.current as ModelState;
    if (now.status !== 'ready') {
      await candidate.close();
      return refuse(`the server began shutting down during the reload (state: ${now.status})`);
    }
    const old = now.service;
    this.current = { status: 'ready', service: candidate };
    this.observer.serving?.(candidate);
    this.observer.reloaded?.('ok');
    ended?.('ok');
    logger.info(
      { from: old.manifest.version, to: candidate.manifest.version, device: candidate.device, queuedOnOld: old.stats().queuedRows },
      'model reloaded',
    );
    old.retire().catch((err) => logger.error({ err }, 'releasing the replaced model failed'));
    return candidate;
  }

  /** Stops serving new predictions and releases the session. */
  async close(): Promise<void> {
    const previous = this.current;
    this.current = { status: 'closing' };
    if ((previous.status === 'ready' || previous.status === 'draining') && previous.service) await previous.service.close();
  }
}
