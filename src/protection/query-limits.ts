import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Config } from '../config';
import type { AppContext } from '../context';
import { ErrorCode, queryTooComplex } from '../errors';

/**
 * Static limits on each operation of a document, checked during validation, before anything runs:
 *
 * - depth: nesting of selection sets (`{ health { status } }` is 2). Introspection subtrees
 *   (`__schema`, `__type`) count as depth 1: the standard introspection query is deeper than any real
 *   query and introspection is off in production unless INTROSPECTION=true.
 * - cost: the number of fields the operation selects once every fragment spread is expanded (so a
 *   "fragment bomb" that doubles at every level costs what it would really cost). Fields cost 1 each;
 *   rows in predictBatch are paid from the rate limiter's row budget, not here.
 * - aliases: aliased fields, fragments expanded (an alias flood is many copies of one costly field).
 * - root fields: fields in the operation's top-level selection (fragments expanded).
 *
 * Fragment figures are memoised, so computing them is linear in the document even when the expanded
 * count is astronomically large; a fragment cycle counts as 0 here (graphql-js's NoFragmentCycles
 * rule rejects it).
 */
interface Measure {
  depth: number;
  cost: number;
  aliases: number;
  /** Fields directly in this selection set, fragments expanded (for an operation: its root fields). */
  fields: number;
}

const EMPTY: Measure = { depth: 0, cost: 0, aliases: 0, fields: 0 };

const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);

export function measureDocument(document: DocumentNode): Array<Omit<Measure, 'fields'> & { name: string; rootFields: number }> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const memo = new Map<string, Measure>();
  const visiting = new Set<string>();

  const fragment = (name: string): Measure => {
    const known = memo.get(name);
    if (known) return known;
    const def = fragments.get(name);
    if (!def || visiting.has(name)) return EMPTY;
    visiting.add(name);
    const m = selectionSet(def.selectionSet);
    visiting.delete(name);
    memo.set(name, m);
    return m;
  };

  const selectionSet = (set: SelectionSetNode): Measure => {
    let depth = 0;
    let cost = 0;
    let aliases = 0;
    let fields = 0;
    for (const sel of set.selections) {
      let m: Measure;
      if (sel.kind === Kind.FIELD) {
        const inner = sel.selectionSet ? selectionSet(sel.selectionSet) : EMPTY;
        const introspection = INTROSPECTION_ROOTS.has(sel.name.value);
        m = {
          depth: introspection ? 1 : 1 + inner.depth,
          cost: 1 + inner.cost,
          aliases: (sel.alias ? 1 : 0) + inner.aliases,
          fields: 1,
        };
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        m = selectionSet(sel.selectionSet);
      } else {
        m = fragment(sel.name.value);
      }
      if (m.depth > depth) depth = m.depth;
      cost += m.cost;
      aliases += m.aliases;
      fields += m.fields;
    }
    return { depth, cost, aliases, fields };
  };

  const out: Array<Omit<Measure, 'fields'> & { name: string; rootFields: number }> = [];
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    const { depth, cost, aliases, fields } = selectionSet(def.selectionSet);
    out.push({ name: def.name?.value ?? '(anonymous)', depth, cost, aliases, rootFields: fields });
  }
  return out;
}

export function queryLimitRules(config: Pick<Config, 'maxQueryDepth' | 'maxQueryCost' | 'maxAliases' | 'maxRootFields'>): ValidationRule[] {
  const rule: ValidationRule = (context: ValidationContext) => ({
    Document(node) {
      for (const op of measureDocument(node)) {
        const where = op.name === '(anonymous)' ? 'The operation' : `Operation ${op.name}`;
        if (op.depth > config.maxQueryDepth) {
          context.reportError(queryTooComplex('depth', config.maxQueryDepth, op.depth,
            `${where} is nested ${op.depth} levels deep; the limit is ${config.maxQueryDepth} (MAX_QUERY_DEPTH)`));
        }
        if (op.cost > config.maxQueryCost) {
          context.reportError(queryTooComplex('cost', config.maxQueryCost, op.cost,
            `${where} selects ${op.cost} fields once fragments are expanded; the limit is ${config.maxQueryCost} (MAX_QUERY_COST)`));
        }
        if (op.aliases > config.maxAliases) {
          context.reportError(queryTooComplex('aliases', config.maxAliases, op.aliases,
            `${where} uses ${op.aliases} aliases; the limit is ${config.maxAliases} (MAX_ALIASES)`));
        }
        if (op.rootFields > config.maxRootFields) {
          context.reportError(queryTooComplex('rootFields', config.maxRootFields, op.rootFields,
            `${where} selects ${op.rootFields} root fields; the limit is ${config.maxRootFields} (MAX_ROOT_FIELDS)`));
        }
      }
      return false; // everything was measured from the Document node; no need to walk it again
    },
  });
  return [rule, knownOperationTypes];
}

/**
 * graphql-js only notices at execution that the schema has no root type for an operation (a
 * `subscription` here) and Apollo then answers 200 INTERNAL_SERVER_ERROR; refuse it as the client's
 * mistake during validation instead (400 GRAPHQL_VALIDATION_FAILED).
 */
export const knownOperationTypes: ValidationRule = (context: ValidationContext) => ({
  OperationDefinition(node) {
    if (!context.getSchema().getRootType(node.operation)) {
      context.reportError(new GraphQLError(`This server has no ${node.operation} operations`, { nodes: node }));
    }
    return false;
  },
});

/**
 * Apollo wraps every validation error as GRAPHQL_VALIDATION_FAILED; this puts QUERY_TOO_COMPLEX back
 * on the errors our rules raised (their `rule`, `limit` and `value` extensions survive the wrapping).
 * It also closes the rate limiter's store when Apollo stops.
 */
export function protectionPlugin(onStop?: () => Promise<void>): ApolloServerPlugin<AppContext> {
  return {
    async serverWillStart() {
      return { serverWillStop: async () => void (await onStop?.()) };
    },
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const e of errors) {
            const original = e.originalError;
            if (original instanceof GraphQLError && original.extensions?.code === ErrorCode.QUERY_TOO_COMPLEX) {
              (e.extensions as Record<string, unknown>).code = ErrorCode.QUERY_TOO_COMPLEX;
              // The access-log trace plugin ran first and saw Apollo's code: correct it there too.
              const codes = contextValue.trace.errorCodes;
              const i = codes.lastIndexOf(ErrorCode.GRAPHQL_VALIDATION_FAILED);
              if (i !== -1) codes[i] = ErrorCode.QUERY_TOO_COMPLEX;
            }
          }
        },
      };
    },
  };
}
