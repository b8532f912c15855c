import { modelNotReady } from '../errors';
import type { InferenceService } from './inference.service';

export type ModelState =
  | { status: 'loading' }
  | { status: 'ready'; service: InferenceService }
  | { status: 'failed'; error: Error }
  | { status: 'closing' };

/**
 * Holds the process's inference service through its lifecycle. The HTTP server starts before the
 * model is loaded (so orchestrators see it alive), and every prediction asks the host for the service.
 */
export class ModelHost {
  private current: ModelState = { status: 'loading' };
  /** Set when shutdown begins: in-flight work still completes, but readiness reports false. */
  draining = false;

  get state(): ModelState {
    return this.current;
  }

  /** The ready service, or MODEL_NOT_READY. */
  service(): InferenceService {
    if (this.current.status !== 'ready') throw modelNotReady(this.current.status);
    return this.current.service;
  }

  /** The service if one is loaded, without throwing (for health and info). */
  peek(): InferenceService | undefined {
    return this.current.status === 'ready' ? this.current.service : undefined;
  }

  async load(create: () => Promise<InferenceService>): Promise<InferenceService> {
    if (this.current.status !== 'loading') throw new Error(`cannot load a model in state ${this.current.status}`);
    try {
      const service = await create();
      if (this.current.status !== 'loading') {
        await service.close(); // closed while loading: the new session must not leak
        throw new Error('model host was closed while loading');
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
    if (previous.status === 'ready') await previous.service.close();
  }
}
