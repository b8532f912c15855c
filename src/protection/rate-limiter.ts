import cluster from 'node:cluster';
import type { GraphQLResolveInfo } from 'graphql';
import type { Logger } from 'pino';
import type { MiddlewareFn } from 'type-graphql';
import type { Config } from '../config';
import type { AppContext } from '../context';
import { rateLimitUnavailable, rateLimited } from '../errors';
import { ClusterRateLimitStore } from './cluster-store';
import { RedisRateLimitStore } from './redis-store';
import { MemoryRateLimitStore, type Cost, type Limits, type RateLimitStore, type Usage } from './store';

/**
 * What each root field costs. Only the fields that run inference are counted; everything else is free:
 * `health` and `rateLimit` (so clients can always look before they spend), `modelInfo` (a few
 * object reads, no inference) and introspection. Free fields are still bounded by the query limits
 * (root fields, aliases, cost). A `predict` is 1 operation and 1 row; a `predictBatch` is 1 operation
 * and one row per reading, so a batch is no way around the limit. A batch whose size breaks
 * MAX_BATCH_ROWS is charged its operation only: validation refuses it without scoring anything.
 */
export function costOf(info: GraphQLResolveInfo, args: Record<string, unknown>, maxBatchRows: number): Cost | undefined {
  if (info.parentType.name !== 'Mutation') return undefined;
  if (info.fieldName === 'predict') return { ops: 1, rows: 1 };
  if (info.fieldName === 'predictBatch') {
    const inputs = args.inputs;
    const n = Array.isArray(inputs) ? inputs.length : 0;
    return { ops: 1, rows: n >= 1 && n <= maxBatchRows ? n : 0 };
  }
  return undefined;
}

export interface RateLimitStatus extends Usage {
  store: RateLimitStore['kind'];
  /** False while the Redis store is unreachable (the numbers are then unknown). */
  available: boolean;
  limits: Limits;
}

/** Per-client operation and row budgets over an atomic store (see store.ts for why not graphql-rate-limit's). */
export class RateLimiter {
  readonly limits: Limits;
  readonly store: RateLimitStore;
  private lastFailLog = 0;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    store?: RateLimitStore,
  ) {
    const rl = config.rateLimit;
    this.limits = { maxOps: rl.max, maxRows: rl.rowsMax, windowMs: rl.windowMs };
    // A cluster worker without Redis asks the primary, which holds the host's one in-memory store.
    this.store =
      store ??
      (rl.redisUrl
        ? new RedisRateLimitStore(rl.redisUrl, rl.redisPrefix, logger)
        : cluster.isWorker
          ? new ClusterRateLimitStore()
          : new MemoryRateLimitStore(rl.memoryMaxKeys));
  }

  get windowSeconds(): number {
    return Math.round(this.limits.windowMs / 1000);
  }

  /** Spends `cost` for `clientId` or throws RATE_LIMITED. Store failures follow RATE_LIMIT_FAIL_MODE. */
  async consume(clientId: string, cost: Cost): Promise<void> {
    let decision;
    try {
      decision = await this.store.reserve(clientId, cost, this.limits);
    } catch (err) {
      this.logStoreFailure(err);
      if (this.config.rateLimit.failMode === 'closed') throw rateLimitUnavailable(1);
      return; // fail open: serve unlimited while the store is away
    }
    if (decision.allowed) return;
    const rows = decision.exceeded === 'rows';
    const now = Date.now();
    const resetAt = decision.resetAt ?? now + this.limits.windowMs;
    throw rateLimited({
      budget: rows ? 'rows' : 'operations',
      limit: rows ? this.limits.maxRows : this.limits.maxOps,
      window: this.config.rateLimit.window,
      windowSeconds: this.windowSeconds,
      retryAfter: Math.max(1, Math.ceil((resetAt - now) / 1000)),
      resetAt: new Date(resetAt).toISOString(),
    });
  }

  /** The caller's spending, without spending. */
  async status(clientId: string): Promise<RateLimitStatus> {
    const base = { store: this.store.kind, limits: this.limits };
    try {
      return { ...base, available: true, ...(await this.store.peek(clientId, this.limits)) };
    } catch (err) {
      this.logStoreFailure(err);
      return { ...base, available: false, opsUsed: 0, rowsUsed: 0, resetAt: undefined };
    }
  }

  /** One log line per 10 s at most: a Redis outage under load must not flood the log. */
  private logStoreFailure(err: unknown): void {
    const now = Date.now();
    if (now - this.lastFailLog < 10_000) return;
    this.lastFailLog = now;
    this.logger.warn(
      { store: this.store.kind, failMode: this.config.rateLimit.failMode, reason: (err as Error)?.message },
      `rate limit store failed; failing ${this.config.rateLimit.failMode}`,
    );
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /**
   * A type-graphql global middleware. Object types use `simpleResolvers`, so it runs on root fields only;
   * for anything but predict/predictBatch it costs one property compare.
   */
  middleware(): MiddlewareFn<AppContext> {
    const maxBatchRows = this.config.maxBatchRows;
    return async ({ args, context, info }, next) => {
      const cost = costOf(info, args, maxBatchRows);
      if (cost !== undefined) await this.consume(context.clientId, cost);
      return next();
    };
  }
}
