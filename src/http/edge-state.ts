import type { RequestTrace } from '../context';
import type { BudgetState } from '../protection/store';

/** Per-request state the edge keeps beside Fastify's request (identity, budgets, trace). */
export interface EdgeState {
  clientId: string;
  apiKeyHash: string | undefined;
  budgets: BudgetState[];
  trace: RequestTrace;
}

declare module 'fastify' {
  interface FastifyRequest {
    edge: EdgeState | null;
  }
}

/** Marks an error on the request's trace (the access log and metrics read it) when no response carried one. */
export function traceError(edge: EdgeState, code: string): void {
  edge.trace.errorCodes = [code];
  edge.trace.written = true;
}
