import { Ctx, Query, Resolver } from 'type-graphql';
import type { AppContext } from '../context';
import type { RateLimiter } from '../protection/rate-limiter';
import { RateLimit } from '../schema/rate-limit.type';

/**
 * The `rateLimit` query, bound to one app's limiter (undefined when RATE_LIMIT_ENABLED=false). A factory,
 * because the limiter belongs to the App instance (tests run several in one process), not to the module.
 */
export function createRateLimitResolver(limiter: RateLimiter | undefined, config: AppContext['config']): Function {
  @Resolver()
  class RateLimitResolver {
    @Query(() => RateLimit, { description: "The caller's rate-limit budgets and when they reset; costs no budget." })
    async rateLimit(@Ctx() ctx: AppContext): Promise<RateLimit> {
      const identifiedBy = ctx.clientId.startsWith('key:') ? 'apiKey' : 'ip';
      const rl = config.rateLimit;
      const windowSeconds = Math.round(rl.windowMs / 1000);
      if (limiter === undefined) {
        return {
          enabled: false, store: 'none', available: true, identifiedBy,
          limit: rl.max, used: 0, remaining: rl.max,
          rowsLimit: rl.rowsMax, rowsUsed: 0, rowsRemaining: rl.rowsMax,
          windowSeconds, resetAt: null,
        };
      }
      const s = await limiter.status(ctx.clientId);
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
      };
    }
  }
  return RateLimitResolver;
}
