import type { Logger } from 'pino';
import type { AppOptions } from '../app';
import type { Config } from '../config';
import { createRateLimitResolver } from '../resolvers/rate-limit.resolver';
import { apiKeyGuard } from './api-keys';
import { protectionPlugin, queryLimitRules } from './query-limits';
import { RateLimiter } from './rate-limiter';

export { RateLimiter } from './rate-limiter';

export type ProtectionOptions = Required<Pick<AppOptions, 'extraResolvers' | 'globalMiddlewares' | 'plugins' | 'validationRules'>> &
  Pick<AppOptions, 'beforeGraphQL'>;

/**
 * Everything src/server.ts wires into the App for protection: rate limits (middleware + `rateLimit`
 * query), optional API keys (beforeGraphQL), static query limits (validation rules). One limiter per
 * App: its store is closed when the App stops.
 */
export function createProtection(config: Config, logger: Logger): ProtectionOptions {
  const limiter = config.rateLimit.enabled ? new RateLimiter(config, logger) : undefined;
  // When keys are required, admin keys (ADMIN_API_KEYS) are keys too.
  const hashes = new Set(config.apiKeys.hashes.length > 0 ? [...config.apiKeys.hashes, ...config.adminApiKeys.hashes] : []);
  if (!config.rateLimit.enabled) logger.warn('rate limiting is off (RATE_LIMIT_ENABLED=false)');
  return {
    extraResolvers: [createRateLimitResolver(limiter, config)],
    globalMiddlewares: limiter ? [limiter.middleware()] : [],
    plugins: [protectionPlugin(limiter ? () => limiter.close() : undefined)],
    validationRules: queryLimitRules(config),
    beforeGraphQL: hashes.size > 0 ? apiKeyGuard(hashes) : undefined,
  };
}
