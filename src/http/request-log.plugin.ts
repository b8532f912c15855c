import type { ApolloServerPlugin } from '@apollo/server';
import type { AppContext } from '../context';

/** Copies what the access log needs (operation, error codes) from Apollo's pipeline onto the request's trace. */
export function requestTracePlugin(): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operationName, operation, contextValue }) {
          contextValue.trace.operationName = operationName ?? undefined;
          contextValue.trace.operationType = operation?.operation;
        },
        async didEncounterErrors({ errors, contextValue }) {
          for (const e of errors) contextValue.trace.errorCodes.push(String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
        },
      };
    },
  };
}
