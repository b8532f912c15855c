import Redis from 'ioredis';
import type { Logger } from 'pino';
import type { Cost, Decision, Limits, RateLimitStore, Usage } from './store';

/**
 * Reserve-if-under-limit as one Lua script: Redis runs a script alone (no other command interleaves),
 * so read, compare and write are atomic across every process and replica that shares this Redis.
 * One hash per client (`ops`, `rows`) expiring with its window; a cost of 0/0 only reads (peek).
 * Returns {allowed 0|1, exceeded 0|1(ops)|2(rows), opsUsed, rowsUsed, pttl (-2 when no window)}.
 */
const RESERVE_LUA = `
local key = KEYS[1]
local ops = tonumber(ARGV[1])
local rows = tonumber(ARGV[2])
local maxOps = tonumber(ARGV[3])
local maxRows = tonumber(ARGV[4])
local windowMs = tonumber(ARGV[5])
local ttl = redis.call('PTTL', key)
local usedOps = 0
local usedRows = 0
if ttl > 0 then
  local v = redis.call('HMGET', key, 'ops', 'rows')
  usedOps = tonumber(v[1]) or 0
  usedRows = tonumber(v[2]) or 0
elseif ttl == -1 then
  redis.call('DEL', key)
  ttl = -2
end
if ops == 0 and rows == 0 then
  return {1, 0, usedOps, usedRows, ttl}
end
if usedOps + ops > maxOps then return {0, 1, usedOps, usedRows, ttl} end
if usedRows + rows > maxRows then return {0, 2, usedOps, usedRows, ttl} end
redis.call('HINCRBY', key, 'ops', ops)
redis.call('HINCRBY', key, 'rows', rows)
if ttl < 0 then
  redis.call('PEXPIRE', key, windowMs)
  ttl = windowMs
end
return {1, 0, usedOps + ops, usedRows + rows, ttl}
`;

type ReserveReply = [number, number, number, number, number];

/**
 * Connection state, for logging transitions once: `connecting` (never connected yet), `unreachable`
 * (never connected, first failure logged), `up`, `down` (was up, loss logged), `closed` (our own quit).
 */
type ConnectionState = 'connecting' | 'unreachable' | 'up' | 'down' | 'closed';

/**
 * Shared store on Redis. Commands fail fast while Redis is away (no offline queue, short command
 * timeout) so the limiter can apply RATE_LIMIT_FAIL_MODE at once instead of hanging requests; ioredis
 * keeps reconnecting in the background (back-off up to 2 s) and the script is re-sent by ioredis after
 * a restarted Redis forgets it (EVALSHA falls back to EVAL on NOSCRIPT).
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private state: ConnectionState = 'connecting';

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1_000,
      connectTimeout: 2_000,
      // Stryker disable next-line MethodExpression,ArithmeticOperator: equivalent except in reconnect timing
      retryStrategy: (times) => Math.min(100 * times, 2_000),
      // Stryker disable next-line BooleanLiteral: equivalent for a store that keeps no data to load at start
      enableReadyCheck: true,
    });
    this.redis.defineCommand('pmRateLimitReserve', { numberOfKeys: 1, lua: RESERVE_LUA });
    this.redis.on('ready', () => {
      // Stryker disable next-line all: equivalent with ioredis, which emits ready once per connection and none after quit
      if (this.state === 'up' || this.state === 'closed') return;
      const reconnected = this.state === 'down';
      this.state = 'up';
      this.logger.info({ store: 'redis', reconnected }, reconnected ? 'rate limit store reconnected' : 'rate limit store connected');
    });
    // Without an 'error' listener ioredis would print every failed reconnect; we log transitions only.
    this.redis.on('error', (err: Error) => this.markDown(err.message));
    // Stryker disable next-line all: equivalent here, ioredis ends only after quit (the retry strategy never gives up)
    this.redis.on('end', () => this.markDown('connection ended'));
    this.redis.on('close', () => this.markDown('connection closed'));
  }

  private markDown(reason: string): void {
    if (this.state !== 'up' && this.state !== 'connecting') return;
    this.state = this.state === 'up' ? 'down' : 'unreachable';
    // The URL may carry a password: log the reason only.
    this.logger.error({ store: 'redis', reason }, 'rate limit store unavailable');
  }

  private key(clientId: string): string {
    return `${this.prefix}${clientId}`;
  }

  private async run(clientId: string, cost: Cost, limits: Limits): Promise<ReserveReply> {
    const cmd = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<ReserveReply>>).pmRateLimitReserve;
    return cmd.call(this.redis, this.key(clientId), cost.ops, cost.rows, limits.maxOps, limits.maxRows, limits.windowMs);
  }

  async reserve(clientId: string, cost: Cost, limits: Limits): Promise<Decision> {
    const [allowed, exceeded, opsUsed, rowsUsed, ttl] = await this.run(clientId, cost, limits);
    const now = Date.now();
    return {
      allowed: allowed === 1,
      ...(allowed === 1 ? {} : { exceeded: exceeded === 2 ? 'rows' : 'operations' }),
      opsUsed,
      rowsUsed,
      // Stryker disable next-line EqualityOperator: equivalent but in the one millisecond where PTTL reads 0 as a window ends
      resetAt: ttl > 0 ? now + ttl : now + limits.windowMs,
    };
  }

  async peek(clientId: string, limits: Limits): Promise<Usage> {
    const [, , opsUsed, rowsUsed, ttl] = await this.run(clientId, { ops: 0, rows: 0 }, limits);
    // Stryker disable next-line EqualityOperator: equivalent, as in reserve
    return { opsUsed, rowsUsed, resetAt: ttl > 0 ? Date.now() + ttl : undefined };
  }

  async close(): Promise<void> {
    // Stryker disable next-line StringLiteral: equivalent, any state but up/connecting silences markDown
    this.state = 'closed'; // no "unavailable" log for our own quit
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
