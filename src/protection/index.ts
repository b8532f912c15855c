import type { ApolloServerPlugin } from '@apollo/server';
import type { ValidationRule } from 'graphql';
import type { Logger } from 'pino';
import type { MiddlewareFn } from 'type-graphql';
import type { Config } from '../config';
import type { AppContext } from '../context';
import type { HttpError } from '../errors';
import type { ClientIdentity } from '../http/client-identity';
import { apiKeyGuard } from './api-keys';
import { knownOperationTypes, QueryLimitGate } from './query-limits';
import { rateLimitMiddleware } from './rate-limit.middleware';
import { RateLimiter } from './rate-limiter';

export { RateLimiter } from './rate-limiter';

/** What the composition root hands to the edge (guards) and to Apollo and the schema (plugins, middleware). */
export interface Protection {
  /** Undefined when RATE_LIMIT_ENABLED=false. */
  limiter: RateLimiter | undefined;
  /** Runs in onRequest for /graphql, before the body is read; throws an HttpError to refuse. */
  guard: ((identity: ClientIdentity) => void) | undefined;
  /** Runs in preHandler for /graphql on the document text, before Apollo parses and validates it. */
  checkDocument: (query: string) => HttpError | undefined;
  globalMiddlewares: MiddlewareFn<AppContext>[];
  plugins: ApolloServerPlugin<AppContext>[];
  validationRules: ValidationRule[];
}

/**
 * Protection: rate limits (request budget at the edge, operation and row budgets in a middleware),
 * optional API keys (edge guard), static query limits (checked before validation). One limiter per
 * App: its store is closed when Apollo stops.
 */
export function createProtection(config: Pick<Config, 'protection' | 'limits'>, logger: Logger): Protection {
  const { rateLimit, apiKeys, adminApiKeys } = config.protection;
  const limiter = rateLimit.enabled ? new RateLimiter(config, logger) : undefined;
  // When keys are required, admin keys (ADMIN_API_KEYS) are keys too.
  const hashes = new Set(apiKeys.hashes.length > 0 ? [...apiKeys.hashes, ...adminApiKeys.hashes] : []);
  const gate = new QueryLimitGate(config.limits);
  if (!rateLimit.enabled) logger.warn('rate limiting is off (RATE_LIMIT_ENABLED=false)');
  return {
    limiter,
    guard: hashes.size > 0 ? apiKeyGuard(hashes) : undefined,
    checkDocument: (query) => gate.check(query),
    globalMiddlewares: limiter ? [rateLimitMiddleware(limiter)] : [],
    // The limiter's store closes when Apollo stops.
    plugins: limiter ? [{ serverWillStart: async () => ({ serverWillStop: () => limiter.close() }) }] : [],
    validationRules: [knownOperationTypes],
  };
}
