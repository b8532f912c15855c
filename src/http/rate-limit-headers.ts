import type { BudgetState } from '../protection/store';

/**
 * IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers, structured-field form), one spelling:
 *
 *   RateLimit-Policy: "requests";q=600;w=60, "operations";q=100;w=900, "rows";q=100000;w=900
 *   RateLimit: "operations";r=12;t=300
 *
 * The policy lists every budget the request was counted against (q = quota, w = window in seconds);
 * RateLimit names the one closest to running out (smallest share left) with its remaining units (r)
 * and the seconds until its window resets (t), so a client can pace itself without asking `rateLimit`.
 */
export function rateLimitHeaders(budgets: readonly BudgetState[], now = Date.now()): Array<[string, string]> | undefined {
  if (budgets.length === 0) return undefined;
  const seen = new Map<string, BudgetState>();
  // A later state of the same budget (a second root field) is the more recent standing.
  for (const b of budgets) seen.set(b.budget, b);
  let closest: BudgetState | undefined;
  for (const b of seen.values()) {
    if (closest === undefined || b.remaining / b.limit < closest.remaining / closest.limit) closest = b;
  }
  const policy = [...seen.values()].map((b) => `"${b.budget}";q=${b.limit};w=${b.windowSeconds}`).join(', ');
  const reset = Math.max(0, Math.ceil((closest!.resetAt - now) / 1000));
  return [
    ['ratelimit-policy', policy],
    ['ratelimit', `"${closest!.budget}";r=${closest!.remaining};t=${reset}`],
  ];
}
