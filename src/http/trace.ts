import type { ApolloServerPlugin } from '@apollo/server';
import type { AppContext, RequestTrace } from '../context';

/**
 * Writes the request's trace once, from the response Apollo is about to send: its errors are the
 * formatted ones (the codes clients see), so nothing downstream has to correct what was recorded.
 */
export function tracePlugin(): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, operationName, operation, contextValue }) {
          const trace = contextValue.trace;
          trace.operationName = operationName ?? undefined;
          trace.operationType = operation?.operation;
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
          trace.errorCodes = (errors ?? []).map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
          trace.written = true;
        },
      };
    },
  };
}

/**
 * The trace of a response Apollo formatted outside its request pipeline (a malformed request, a document
 * over a limit): read from the body, which is then a small `{"errors":[...]}`. Bodies that start with
 * data are never parsed (a 1,000-row answer is large and, reaching here, has no pipeline errors).
 */
export function traceFromBody(trace: RequestTrace, body: string): void {
  trace.written = true;
  if (!body.startsWith('{"errors":')) return;
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ extensions?: { code?: unknown } }> };
    trace.errorCodes = (parsed.errors ?? []).map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
  } catch {
    // not JSON (a landing page): no error codes to record
  }
}
