/**
 * Rate-limit stores: where each client's spending in its current window lives.
 *
 * Why not graphql-rate-limit's own stores: its `getGraphQLRateLimiter` reads a client's timestamps,
 * decides, then writes them back, with `await`s in between. Two concurrent calls from one client both
 * read N-1 and both pass (200 simultaneous calls against a limit of 10 let far more than 10 through),
 * and it keeps one timestamp per call or per row (a 100,000-row budget is a 100,000-element array per
 * client, JSON-encoded into Redis on every call). Its Store interface (get, then set) cannot be made
 * atomic from below without a lock held across the caller's awaits. So we keep its semantics (a budget
 * per client identity per window, an array-length cost for batches, rejected calls not counted:
 * `uncountRejected`) and replace the check-then-write by one atomic operation, `reserve`:
 * "if spending `cost` keeps this client within its limits, spend it; answer either way".
 *
 * Windows are fixed and per client: a window opens at the client's first counted call and lasts
 * RATE_LIMIT_WINDOW; both budgets (operations and rows) share it. That is O(1) memory per client and
 * gives an exact `resetAt` for the `rateLimit` query.
 */

import type { RateLimitBudget } from '../errors';

/** One budget's standing after a decision, for the RateLimit response headers. */
export interface BudgetState {
  budget: RateLimitBudget;
  limit: number;
  remaining: number;
  /** Epoch ms when the window ends. */
  resetAt: number;
  windowSeconds: number;
}

export interface Cost {
  /** Counted operations (root-field calls). */
  ops: number;
  /** Readings to score. */
  rows: number;
}

export interface Limits {
  maxOps: number;
  maxRows: number;
  windowMs: number;
}

export interface Usage {
  opsUsed: number;
  rowsUsed: number;
  /** Epoch ms when the client's window ends; undefined when no window is open. */
  resetAt: number | undefined;
}

export interface Decision extends Usage {
  allowed: boolean;
  /** Which budget refused the call (only when !allowed). */
  exceeded?: 'operations' | 'rows';
}

export interface RateLimitStore {
  readonly kind: 'memory' | 'redis' | 'cluster';
  /** Atomically spends `cost` if it fits both limits; never spends on refusal. */
  reserve(clientId: string, cost: Cost, limits: Limits): Decision | Promise<Decision>;
  /** Reads a client's spending without spending anything. */
  peek(clientId: string, limits: Limits): Usage | Promise<Usage>;
  close(): Promise<void>;
}

interface Entry {
  ops: number;
  rows: number;
  resetAt: number;
}

/**
 * In-process store. Atomic because `reserve` is synchronous: read, compare and write happen in one
 * turn of the event loop with no `await`, so no other request can interleave (Node runs JS on one
 * thread). It is per process: use Redis when there are several processes or replicas.
 *
 * Memory is bounded: the Map is kept in window order (an entry is re-inserted when its window is
 * renewed, and every window has the same length), so expired entries are always at the front and are
 * dropped from there on every call, O(1) amortised. Past `maxKeys` live identities the oldest window is
 * evicted (that client starts a fresh window: under an identity flood the limiter forgets the oldest
 * clients rather than growing without bound).
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  evicted = 0;

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  reserve(clientId: string, cost: Cost, limits: Limits): Decision {
    const now = this.now();
    this.sweep(now);
    let entry = this.entries.get(clientId);
    if (entry !== undefined && entry.resetAt <= now) {
      this.entries.delete(clientId);
      entry = undefined;
    }
    const opsUsed = entry?.ops ?? 0;
    const rowsUsed = entry?.rows ?? 0;
    const exceeded = opsUsed + cost.ops > limits.maxOps ? 'operations' : rowsUsed + cost.rows > limits.maxRows ? 'rows' : undefined;
    if (exceeded !== undefined) {
      return { allowed: false, exceeded, opsUsed, rowsUsed, resetAt: entry?.resetAt ?? now + limits.windowMs };
    }
    if (entry === undefined) {
      entry = { ops: 0, rows: 0, resetAt: now + limits.windowMs };
      this.entries.set(clientId, entry);
      while (this.entries.size > this.maxKeys) {
        const oldest = this.entries.keys().next().value as string;
        this.entries.delete(oldest);
        this.evicted++;
      }
    }
    entry.ops += cost.ops;
    entry.rows += cost.rows;
    return { allowed: true, opsUsed: entry.ops, rowsUsed: entry.rows, resetAt: entry.resetAt };
  }

  peek(clientId: string): Usage {
    const entry = this.entries.get(clientId);
    if (entry === undefined || entry.resetAt <= this.now()) return { opsUsed: 0, rowsUsed: 0, resetAt: undefined };
    return { opsUsed: entry.ops, rowsUsed: entry.rows, resetAt: entry.resetAt };
  }

  /** Drops expired windows from the front of the (window-ordered) Map. */
  private sweep(now: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.resetAt > now) return;
      this.entries.delete(id);
    }
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
