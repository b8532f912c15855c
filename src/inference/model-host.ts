import { modelNotReady } from '../errors';
import type { InferenceService } from './inference.service';

export type ModelState =
  | { status: 'loading' }
  | { status: 'ready'; service: InferenceService }
  /** Shutdown has begun: readiness is false, but requests already sent are still served. */
  | { status: 'draining'; service: InferenceService | undefined }
  | { status: 'failed'; error: Error }
  | { status: 'closing' };

/**
 * Holds the process's inference service through its lifecycle. The HTTP server starts before the
 * model is loaded (so orchestrators see it alive), and every prediction asks the host for the service.
 */
export class ModelHost {
  private current: ModelState = { status: 'loading' };

  get state(): ModelState {
    return this.current;
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

  async load(create: () => Promise<InferenceService>): Promise<InferenceService> {
    if (this.current.status !== 'loading') throw new Error(`cannot load a model in state ${this.current.status}`);
    try {
      const service = await create();
      const now = this.current as ModelState; // may have moved on while we awaited
      if (now.status !== 'loading') {
        await service.close(); // drained or closed while loading: the new session must not leak
        throw new Error(`model host was ${now.status} while loading`);
      }
      this.current = { status: 'ready', service };
      return service;
    } catch (err) {
      if (this.current.status === 'loading') this.current = { status: 'failed', error: err as Error };
      throw err;
    }
  }

  /** Stops serving new predictions and releases the session. */
  async close(): Promise<void> {
    const previous = this.current;
    this.current = { status: 'closing' };
    if ((previous.status === 'ready' || previous.status === 'draining') && previous.service) await previous.service.close();
  }
}
