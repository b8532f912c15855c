import { Ctx, Query, Resolver } from 'type-graphql';
import type { AppContext } from '../context';
import { RateLimit } from '../schema/rate-limit.type';

/**
 * The `rateLimit` query: reads the limiter and the caller's identity from the context, like every
 * other resolver (the limiter is undefined when RATE_LIMIT_ENABLED=false).
 */
@Resolver()
export class RateLimitResolver {
  @Query(() => RateLimit, { description: "The caller's rate-limit budgets and when they reset; costs no budget." })
  async rateLimit(@Ctx() ctx: AppContext): Promise<RateLimit> {
    const { limiter, clientId } = ctx;
    const { rateLimit: rl, requestLimit } = ctx.config.protection;
    const identifiedBy = clientId.startsWith('key:') ? 'apiKey' : 'ip';
    const windowSeconds = Math.round(rl.windowMs / 1000);
    const requestsWindowSeconds = Math.round(requestLimit.windowMs / 1000);
    if (limiter === undefined) {
      return {
        enabled: false,
        store: 'none',
        available: true,
        identifiedBy,
        limit: rl.max,
        used: 0,
        remaining: rl.max,
        rowsLimit: rl.rowsMax,
        rowsUsed: 0,
        rowsRemaining: rl.rowsMax,
        windowSeconds,
        resetAt: null,
        requestsLimit: requestLimit.max,
        requestsUsed: 0,
        requestsRemaining: requestLimit.max,
        requestsWindowSeconds,
        requestsResetAt: null,
      };
    }
    const s = await limiter.status(clientId);
    return {
      enabled: true,
      store: s.store,
      available: s.available,
      identifiedBy,
      limit: s.limits.maxOps,
      used: s.opsUsed,
      remaining: Math.max(0, s.limits.maxOps - s.opsUsed),
      rowsLimit: s.limits.maxRows,
      rowsUsed: s.rowsUsed,
      rowsRemaining: Math.max(0, s.limits.maxRows - s.rowsUsed),
      windowSeconds,
      resetAt: s.resetAt === undefined ? null : new Date(s.resetAt).toISOString(),
      requestsLimit: s.requests.limit,
      requestsUsed: s.requests.opsUsed,
      requestsRemaining: Math.max(0, s.requests.limit - s.requests.opsUsed),
      requestsWindowSeconds: s.requests.windowSeconds,
      requestsResetAt: s.requests.resetAt === undefined ? null : new Date(s.requests.resetAt).toISOString(),
    };
  }
}
