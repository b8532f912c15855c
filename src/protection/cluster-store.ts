import { IpcClient } from '../cluster-ipc';
import type { Cost, Decision, Limits, RateLimitStore, Usage } from './store';

/** The IPC tag of rate-limit requests, `:budgets` or `:requests` appended (see src/cluster.ts for the primary's side). */
export const RATE_LIMIT_CHANNEL = 'pm:rate-limit';
export type ClusterBudgetFamily = 'budgets' | 'requests';

/**
 * The store of a cluster worker (WORKERS > 1, no Redis): every reserve and peek is answered by the
 * primary process, which holds the one MemoryRateLimitStore of the host. Its `reserve` is synchronous
 * there, and the primary handles one message at a time, so budgets are exact across workers. An
 * answer that does not come within `timeoutMs` is a store failure (RATE_LIMIT_FAIL_MODE applies).
 */
export class ClusterRateLimitStore implements RateLimitStore {
  readonly kind = 'cluster' as const;
  private readonly ipc: IpcClient;

  /**
   * `family`: which of the primary's stores answers (a MemoryRateLimitStore keeps windows of one length:
   * operation/row budgets and the request budget each have their own).
   */
  constructor(
    private readonly family: ClusterBudgetFamily,
    timeoutMs = 2_000,
  ) {
    this.ipc = new IpcClient(`${RATE_LIMIT_CHANNEL}:${family}`, timeoutMs);
  }

  reserve(clientId: string, cost: Cost, limits: Limits): Promise<Decision> {
    return this.ipc.request<Decision>({ op: 'reserve', family: this.family, clientId, cost, limits });
  }

  peek(clientId: string, limits: Limits): Promise<Usage> {
    return this.ipc.request<Usage>({ op: 'peek', family: this.family, clientId, limits });
  }

  /** The primary owns the budgets; nothing to release here. */
  async close(): Promise<void> {}
}
