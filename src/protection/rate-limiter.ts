import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { ErrorCode, HttpError, rateLimitUnavailable, rateLimited } from '../errors';
import { ClusterRateLimitStore } from './cluster-store';
import { RedisRateLimitStore } from './redis-store';
import { MemoryRateLimitStore, type BudgetState, type Cost, type Decision, type Limits, type RateLimitStore, type Usage } from './store';

export type { BudgetState } from './store';

export interface RateLimitStatus extends Usage {
  store: RateLimitStore['kind'];
  /** False while the Redis store is unreachable (the figures then come from the in-memory fallback, or are unknown). */
  available: boolean;
  limits: Limits;
  requests: Usage & { limit: number; windowSeconds: number };
}

/** The request budget has no row dimension: a limit no request can reach. */
const NO_ROW_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * Per-client budgets over atomic stores (see store.ts for why not graphql-rate-limit's): requests to
 * /graphql (checked at the edge before the body is read), and operations and rows (checked by the
 * GraphQL middleware, rate-limit.middleware.ts). Both use the same identity and the same kind of store.
 *
 * When the shared Redis store fails, RATE_LIMIT_FAIL_MODE decides: `memory` (default) limits with
 * per-process in-memory stores until Redis answers again (every call tries Redis first, and its
 * commands fail fast while it is away), `open` serves unlimited, `closed` refuses counted calls (the
 * request budget then limits per process in memory, so health and rateLimit still answer).
 */
export class RateLimiter {
  readonly limits: Limits;
  readonly requestLimits: Limits;
  readonly store: RateLimitStore;
  /** In-memory stores: the request budget's own (windows of another length) and the fallbacks for Redis. */
  private readonly memory: { budgets: MemoryRateLimitStore; requests: MemoryRateLimitStore };
  /** In a cluster worker (WORKERS > 1) without Redis: the primary's stores, one per budget family. */
  private readonly cluster: { budgets: ClusterRateLimitStore; requests: ClusterRateLimitStore } | undefined;
  private lastFailLog = 0;

  constructor(
    private readonly config: Pick<Config, 'protection' | 'limits'>,
    private readonly logger: Logger,
    store?: RateLimitStore,
  ) {
    const { rateLimit: rl, requestLimit } = config.protection;
    this.limits = { maxOps: rl.max, maxRows: rl.rowsMax, windowMs: rl.windowMs };
    this.requestLimits = { maxOps: requestLimit.max, maxRows: NO_ROW_LIMIT, windowMs: requestLimit.windowMs };
    // The memory store relies on every window in one Map having the same length: one Map per budget family.
    this.memory = {
      budgets: new MemoryRateLimitStore(rl.memoryMaxKeys),
      requests: new MemoryRateLimitStore(rl.memoryMaxKeys),
    };
    // A cluster worker without Redis asks the primary, which holds the host's in-memory stores.
    this.cluster =
      store === undefined && !rl.redisUrl && cluster.isWorker
        ? { budgets: new ClusterRateLimitStore('budgets'), requests: new ClusterRateLimitStore('requests') }
        : undefined;
    this.store =
      store ??
      (rl.redisUrl ? new RedisRateLimitStore(rl.redisUrl, rl.redisPrefix, logger) : (this.cluster?.budgets ?? this.memory.budgets));
  }

  /** Spends one request of `clientId`'s request budget or throws a 429 HttpError (before the body is read). */
  async consumeRequest(clientId: string): Promise<BudgetState> {
    const limits = this.requestLimits;
    const decision = await this.reserve('requests', `req:${clientId}`, { ops: 1, rows: 0 }, limits);
    const windowSeconds = Math.round(limits.windowMs / 1000);
    const now = Date.now();
    if (decision === undefined)
      return { budget: 'requests', limit: limits.maxOps, remaining: limits.maxOps, resetAt: now + limits.windowMs, windowSeconds };
    const resetAt = decision.resetAt ?? now + limits.windowMs;
    const state: BudgetState = {
      budget: 'requests',
      limit: limits.maxOps,
      remaining: Math.max(0, limits.maxOps - decision.opsUsed),
      resetAt,
      windowSeconds,
    };
    if (decision.allowed) return state;
    const retryAfter = Math.max(1, Math.ceil((resetAt - now) / 1000));
    throw new HttpError(
      429,
      ErrorCode.RATE_LIMITED,
      `Rate limit exceeded: ${limits.maxOps} requests per ${this.config.protection.requestLimit.window}; retry after ${retryAfter} s`,
      {
        budget: 'requests',
        limit: limits.maxOps,
        window: this.config.protection.requestLimit.window,
        windowSeconds,
        retryAfter,
        resetAt: new Date(resetAt).toISOString(),
      },
      { 'retry-after': String(retryAfter) },
    );
  }

  /**
   * Spends `cost` for `clientId` or throws RATE_LIMITED; returns the standing of both budgets.
   * Store failures follow RATE_LIMIT_FAIL_MODE.
   */
  async consume(clientId: string, cost: Cost): Promise<BudgetState[]> {
    const decision = await this.reserve('budgets', clientId, cost, this.limits);
    if (decision === undefined) return [];
    const now = Date.now();
    const resetAt = decision.resetAt ?? now + this.limits.windowMs;
    const windowSeconds = this.windowSeconds;
    const states: BudgetState[] = [
      {
        budget: 'operations',
        limit: this.limits.maxOps,
        remaining: Math.max(0, this.limits.maxOps - decision.opsUsed),
        resetAt,
        windowSeconds,
      },
      {
        budget: 'rows',
        limit: this.limits.maxRows,
        remaining: Math.max(0, this.limits.maxRows - decision.rowsUsed),
        resetAt,
        windowSeconds,
      },
    ];
    if (decision.allowed) return states;
    const rows = decision.exceeded === 'rows';
    throw rateLimited({
      budget: rows ? 'rows' : 'operations',
      limit: rows ? this.limits.maxRows : this.limits.maxOps,
      window: this.config.protection.rateLimit.window,
      windowSeconds,
      retryAfter: Math.max(1, Math.ceil((resetAt - now) / 1000)),
      resetAt: new Date(resetAt).toISOString(),
    });
  }

  /** MAX_BATCH_ROWS: a batch over it is charged its operation only (see costOf). */
  get maxBatchRows(): number {
    return this.config.limits.maxBatchRows;
  }

  get windowSeconds(): number {
    return Math.round(this.limits.windowMs / 1000);
  }

  /**
   * Where the request budget lives: beside the in-memory (or cluster) budget store, a store of its own
   * (one window length per MemoryRateLimitStore); on Redis, the same store under `req:` keys.
   */
  private get requestStore(): RateLimitStore {
    if (this.store === this.memory.budgets) return this.memory.requests;
    if (this.cluster !== undefined && this.store === this.cluster.budgets) return this.cluster.requests;
    return this.store;
  }

  /** Reserve on the shared store; on its failure, the fail mode's answer (undefined = serve unlimited). */
  private async reserve(family: 'budgets' | 'requests', id: string, cost: Cost, limits: Limits): Promise<Decision | undefined> {
    const primary = family === 'requests' ? this.requestStore : this.store;
    try {
      return await primary.reserve(id, cost, limits);
    } catch (err) {
      this.logStoreFailure(err);
      switch (this.config.protection.rateLimit.failMode) {
        case 'memory':
          return this.memory[family].reserve(id, cost, limits);
        case 'open':
          return undefined;
        case 'closed':
          // `closed` refuses counted calls; the request budget (an abuse guard on every request, free
          // queries included) keeps limiting per process instead of taking the whole API down with Redis.
          if (family === 'requests') return this.memory.requests.reserve(id, cost, limits);
          throw rateLimitUnavailable(1);
      }
    }
  }

  /** The caller's spending, without spending. */
  async status(clientId: string): Promise<RateLimitStatus> {
    const requestsBase = { limit: this.requestLimits.maxOps, windowSeconds: Math.round(this.requestLimits.windowMs / 1000) };
    const requestStore = this.requestStore;
    try {
      const [budgets, requests] = await Promise.all([
        this.store.peek(clientId, this.limits),
        requestStore.peek(`req:${clientId}`, this.requestLimits),
      ]);
      return { store: this.store.kind, limits: this.limits, available: true, ...budgets, requests: { ...requestsBase, ...requests } };
    } catch (err) {
      this.logStoreFailure(err);
      const fallback = this.config.protection.rateLimit.failMode === 'memory';
      const zero = { opsUsed: 0, rowsUsed: 0, resetAt: undefined };
      return {
        store: this.store.kind,
        limits: this.limits,
        available: false,
        ...(fallback ? this.memory.budgets.peek(clientId) : zero),
        requests: { ...requestsBase, ...(fallback ? this.memory.requests.peek(`req:${clientId}`) : zero) },
      };
    }
  }

  /** One log line per 10 s at most: a Redis outage under load must not flood the log. */
  private logStoreFailure(err: unknown): void {
    const now = Date.now();
    if (now - this.lastFailLog < 10_000) return;
    this.lastFailLog = now;
    const mode = this.config.protection.rateLimit.failMode;
    this.logger.warn(
      { store: this.store.kind, failMode: mode, reason: (err as Error)?.message },
      mode === 'memory'
        ? 'rate limit store failed; limiting per process in memory until it is back'
        : `rate limit store failed; failing ${mode}`,
    );
  }

  async close(): Promise<void> {
    await this.store.close();
    await this.memory.budgets.close();
    await this.memory.requests.close();
  }
}
