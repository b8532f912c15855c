import {
  GraphQLError,
  Kind,
  Lexer,
  parse,
  Source,
  TokenKind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { LimitsConfig } from '../config';
import { HttpError, queryTooComplex, type ErrorCode } from '../errors';

/**
 * Static limits on each operation of a document, checked before validation and before anything runs:
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

export type QueryLimits = Pick<LimitsConfig, 'maxQueryDepth' | 'maxQueryCost' | 'maxAliases' | 'maxRootFields'>;

/** The first limit a document breaks, as QUERY_TOO_COMPLEX (400), or undefined when it is within all of them. */
export function checkQueryLimits(document: DocumentNode, config: QueryLimits): GraphQLError | undefined {
  for (const op of measureDocument(document)) {
    const where = op.name === '(anonymous)' ? 'The operation' : `Operation ${op.name}`;
    if (op.depth > config.maxQueryDepth) {
      return queryTooComplex(
        'depth',
        config.maxQueryDepth,
        op.depth,
        `${where} is nested ${op.depth} levels deep; the limit is ${config.maxQueryDepth} (MAX_QUERY_DEPTH)`,
      );
    }
    if (op.cost > config.maxQueryCost) {
      return queryTooComplex(
        'cost',
        config.maxQueryCost,
        op.cost,
        `${where} selects ${op.cost} fields once fragments are expanded; the limit is ${config.maxQueryCost} (MAX_QUERY_COST)`,
      );
    }
    if (op.aliases > config.maxAliases) {
      return queryTooComplex(
        'aliases',
        config.maxAliases,
        op.aliases,
        `${where} uses ${op.aliases} aliases; the limit is ${config.maxAliases} (MAX_ALIASES)`,
      );
    }
    if (op.rootFields > config.maxRootFields) {
      return queryTooComplex(
        'rootFields',
        config.maxRootFields,
        op.rootFields,
        `${where} selects ${op.rootFields} root fields; the limit is ${config.maxRootFields} (MAX_ROOT_FIELDS)`,
      );
    }
  }
  return undefined;
}

/**
 * The static limits, checked at the edge in one linear pass after parsing and BEFORE Apollo runs
 * graphql-js's validation: some of its rules (OverlappingFieldsCanBeMerged) are quadratic in repeated
 * fields, so a document that breaks a limit must never reach them. Parsing is bounded by
 * MAX_QUERY_TOKENS (the lexer stops there). Documents that pass are remembered (a bounded set, oldest
 * forgotten first), so a client sending the same document again costs one Set lookup; documents that
 * do not parse are left to Apollo, which answers GRAPHQL_PARSE_FAILED.
 */
/** Whether `query` has more than `limit` tokens, counted as graphql-js's parser counts them (comments excluded). */
export function overTokenLimit(query: string, limit: number): boolean {
  const lexer = new Lexer(new Source(query));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) if (++count > limit) return true;
  } catch {
    return false; // a lexing error: the parser reports it
  }
  return false;
}

export class QueryLimitGate {
  private readonly passed = new Set<string>();
  private passedChars = 0;

  /**
   * @param remember most documents remembered as passed
   * @param rememberChars most characters they hold together: the set keeps whole documents, and a client
   *   sending distinct megabyte documents that pass (a long comment is free of tokens) must not grow the
   *   heap by a megabyte each. A document over a quarter of this is checked every time instead.
   */
  constructor(
    private readonly config: QueryLimits & Pick<LimitsConfig, 'maxQueryTokens'>,
    private readonly remember = 1_000,
    private readonly rememberChars = 4 * 1024 * 1024,
  ) {}

  /** What the set of passed documents holds now. */
  get remembered(): { documents: number; chars: number } {
    return { documents: this.passed.size, chars: this.passedChars };
  }

  /** QUERY_TOO_COMPLEX (400) for a document over a limit; undefined otherwise. */
  check(query: string): HttpError | undefined {
    if (this.passed.has(query)) return undefined;
    const limit = this.config.maxQueryTokens;
    // Count tokens with the lexer alone first: a document over the limit is refused without building (and
    // then collecting) an AST for the part that fits, which is most of what refusing it would cost.
    if (overTokenLimit(query, limit)) {
      return new HttpError(
        400,
        'QUERY_TOO_COMPLEX',
        `The document has more than ${limit} tokens (MAX_QUERY_TOKENS); reading stopped there`,
        {
          rule: 'tokens',
          limit,
        },
      );
    }
    let document: DocumentNode;
    try {
      document = parse(query, { noLocation: true, maxTokens: limit });
    } catch {
      return undefined; // not a document: Apollo answers GRAPHQL_PARSE_FAILED
    }
    const error = checkQueryLimits(document, this.config);
    if (error) {
      const { code, ...extensions } = error.extensions as Record<string, unknown>;
      delete extensions.http;
      return new HttpError(400, code as ErrorCode, error.message, extensions);
    }
    this.rememberPassed(query);
    return undefined;
  }

  private rememberPassed(query: string): void {
    if (query.length > this.rememberChars / 4) return;
    while (this.passed.size > 0 && (this.passed.size >= this.remember || this.passedChars + query.length > this.rememberChars)) {
      const oldest = this.passed.values().next().value as string;
      this.passed.delete(oldest);
      this.passedChars -= oldest.length;
    }
    this.passed.add(query);
    this.passedChars += query.length;
  }
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
