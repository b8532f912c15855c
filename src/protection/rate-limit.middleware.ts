import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';
import type { MiddlewareFn } from 'type-graphql';
import type { AppContext } from '../context';
import { ErrorCode, type RateLimitBudget } from '../errors';
import type { RateLimiter } from './rate-limiter';
import type { Cost } from './store';

// The GraphQL side of rate limiting: what a field costs and the middleware that spends it. The limiter
// (rate-limiter.ts) knows budgets and stores only, so the request context can name it without a circle.

/**
 * Rows one reading costs when its `explanation` is selected: the reading plus the five
 * one-field-changed variants the model scores to explain it.
 */
export const EXPLAINED_ROW_COST = 6;

/**
 * What each root field costs. Only the fields that run inference are counted; everything else is free:
 * `health` and `rateLimit` (so clients can always look before they spend), `modelInfo` (a few
 * object reads, no inference) and introspection. Free fields are still bounded by the query limits
 * (root fields, aliases, cost) and by the per-request budget. A `predict` is 1 operation and 1 row; a
 * `predictBatch` is 1 operation and one row per reading, so a batch is no way around the limit. Selecting
 * `explanation` makes each reading cost EXPLAINED_ROW_COST rows, because that is what it costs the model.
 * A batch whose size breaks MAX_BATCH_ROWS is charged its operation only: validation refuses it without scoring anything.
 */
export function costOf(info: GraphQLResolveInfo, args: Record<string, unknown>, maxBatchRows: number): Cost | undefined {
  if (info.parentType.name !== 'Mutation') return undefined;
  if (info.fieldName !== 'predict' && info.fieldName !== 'predictBatch') return undefined;
  const perRow = selectsExplanation(info) ? EXPLAINED_ROW_COST : 1;
  if (info.fieldName === 'predict') return { ops: 1, rows: perRow };
  const inputs = args.inputs;
  const n = Array.isArray(inputs) ? inputs.length : 0;
  return { ops: 1, rows: n >= 1 && n <= maxBatchRows ? n * perRow : 0 };
}

/**
 * Whether the field being resolved selects `explanation` on its result, looking through fragments and
 * honouring @skip/@include as execution will (so a skipped explanation is not charged).
 */
function selectsExplanation(info: GraphQLResolveInfo): boolean {
  const seen = new Set<string>();
  const included = (node: Parameters<typeof getDirectiveValues>[1]) =>
    getDirectiveValues(GraphQLSkipDirective, node, info.variableValues)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues)?.if !== false;
  const search = (set: SelectionSetNode | undefined): boolean => {
    if (!set) return false;
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value === 'explanation') return true;
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (search(sel.selectionSet)) return true;
      } else if (!seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        if (search(info.fragments[sel.name.value]?.selectionSet)) return true;
      }
    }
    return false;
  };
  return info.fieldNodes.some((node) => search(node.selectionSet));
}

/**
 * A type-graphql global middleware. Object types use `simpleResolvers`, so it runs on root fields only;
 * for anything but predict/predictBatch it costs one property compare. The budgets' standing goes on
 * the context for the RateLimit response headers.
 */
export function rateLimitMiddleware(limiter: RateLimiter): MiddlewareFn<AppContext> {
  const maxBatchRows = limiter.maxBatchRows;
  return async ({ args, context, info }, next) => {
    const cost = costOf(info, args, maxBatchRows);
    if (cost !== undefined) {
      try {
        for (const s of await limiter.consume(context.clientId, cost)) context.budgets.push(s);
      } catch (err) {
        const ext = (err as { extensions?: Record<string, unknown> }).extensions;
        if (ext?.code === ErrorCode.RATE_LIMITED && typeof ext.limit === 'number') {
          context.budgets.push({
            budget: ext.budget as RateLimitBudget,
            limit: ext.limit,
            remaining: 0,
            resetAt: Date.parse(String(ext.resetAt)),
            windowSeconds: Number(ext.windowSeconds),
          });
        }
        throw err;
      }
    }
    return next();
  };
}
