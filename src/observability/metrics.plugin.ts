import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { AppContext } from '../context';
import { ErrorCode } from '../errors';
import { OTHER_ROOT_FIELD, outcomeLabel, RATE_LIMIT_BUDGETS, type Metrics, type RateLimitBudget } from './metrics';

/** Every root field of the schema: the only values the root_field label may take besides `other`. */
export function rootFieldNames(schema: GraphQLSchema): Set<string> {
  const names = new Set<string>();
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (type) for (const name of Object.keys(type.getFields())) names.add(name);
  }
  return names;
}

/** The operation's first root field, when it is one of the schema's (never a client-chosen alias or name). */
export function rootFieldOf(operation: OperationDefinitionNode | undefined, known: ReadonlySet<string>): string {
  const first = operation?.selectionSet.selections[0];
  return first?.kind === Kind.FIELD && known.has(first.name.value) ? first.name.value : OTHER_ROOT_FIELD;
}

/**
 * Counts every GraphQL operation once, when its response is sent: root field, outcome (`ok` or the
 * first error's code, as the client sees it after formatting) and duration; and counts RATE_LIMITED
 * refusals by the budget they name.
 */
export function metricsPlugin(metrics: Metrics, schema: GraphQLSchema): ApolloServerPlugin<AppContext> {
  const known = rootFieldNames(schema);
  const budgets = new Set<string>(RATE_LIMIT_BUDGETS);
  return {
    async requestDidStart() {
      const started = performance.now();
      let rootField = OTHER_ROOT_FIELD;
      return {
        async didResolveOperation({ operation }) {
          rootField = rootFieldOf(operation, known);
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const code = errors && errors.length > 0 ? (errors[0].extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR) : undefined;
          metrics.recordOperation(rootField, outcomeLabel(code), (performance.now() - started) / 1000);
          for (const e of errors ?? []) {
            const budget = e.extensions?.budget;
            if (e.extensions?.code === ErrorCode.RATE_LIMITED && typeof budget === 'string' && budgets.has(budget)) {
              metrics.rateLimitRefused(budget as RateLimitBudget);
            }
          }
        },
      };
    },
  };
}
