/**
 * A tiny GraphQL-over-HTTP executor for the generated documents: no client library, just fetch.
 * Variables and results are typed by the TypedDocumentNode, so a call site cannot send a wrong reading
 * or read a field the operation did not select. Runs in Node 20+ and in browsers.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql/language/printer';

/** One GraphQL error as the server sends it (extensions.code from the server's error catalogue). */
export interface GraphQLErrorPayload {
  message: string;
  path?: ReadonlyArray<string | number>;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  extensions?: {
    code?: string;
    /** BAD_USER_INPUT on readings: every broken rule (with its row for predictBatch). */
    violations?: Array<{ row?: number; field: string; value: unknown; constraint: string; bound?: number | string; message: string }>;
    invalidRows?: number[];
    [key: string]: unknown;
  };
}

/** The request failed: HTTP or GraphQL errors, or no data. `errors` holds what the server said. */
export class GraphQLRequestError extends Error {
  constructor(
    readonly status: number,
    readonly errors: GraphQLErrorPayload[],
    readonly operationName: string | undefined,
  ) {
    super(errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; ') || `HTTP ${status}`);
    this.name = 'GraphQLRequestError';
  }

  /** The first error's code (e.g. BAD_USER_INPUT, RATE_LIMITED), if any. */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

export interface ExecuteOptions {
  /** Extra request headers (x-api-key, authorization...). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
}

const printed = new WeakMap<object, string>();

function operationNameOf(document: TypedDocumentNode<unknown, unknown>): string | undefined {
  for (const def of document.definitions) {
    if (def.kind === 'OperationDefinition') return def.name?.value;
  }
  return undefined;
}

/**
 * POSTs `document` with `variables` to `url` and resolves with its data, typed by the document.
 * Rejects with GraphQLRequestError when the server answers with errors (partial data included) or a
 * non-JSON response.
 */
export async function execute<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  ...[variables, options]: TVariables extends Record<string, never>
    ? [variables?: TVariables, options?: ExecuteOptions]
    : [variables: TVariables, options?: ExecuteOptions]
): Promise<TResult> {
  let query = printed.get(document);
  if (query === undefined) {
    query = print(document);
    printed.set(document, query);
  }
  const operationName = operationNameOf(document as TypedDocumentNode<unknown, unknown>);
  const doFetch = options?.fetch ?? fetch;
  const res = await doFetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...options?.headers,
    },
    body: JSON.stringify({ query, variables: variables ?? {}, operationName }),
    signal: options?.signal,
  });
  const text = await res.text();
  let body: { data?: TResult | null; errors?: GraphQLErrorPayload[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new GraphQLRequestError(res.status, [{ message: `HTTP ${res.status}: ${text.slice(0, 200)}` }], operationName);
  }
  if (body.errors && body.errors.length > 0) throw new GraphQLRequestError(res.status, body.errors, operationName);
  if (body.data === undefined || body.data === null) {
    throw new GraphQLRequestError(res.status, [{ message: `HTTP ${res.status}: response without data` }], operationName);
  }
  return body.data;
}
