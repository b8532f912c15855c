import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { coercionViolation, withoutSuggestions } from './coercion-errors';

/**
 * The one catalogue of error codes a client can see in `extensions.code`.
 * Apollo Server's own request-level codes are listed too so a client can switch on every code it may meet.
 */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  MODEL_NOT_READY: 'MODEL_NOT_READY',
  SERVER_BUSY: 'SERVER_BUSY',
  INFERENCE_FAILED: 'INFERENCE_FAILED',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** An operation the caller's key may not run (reloadModel without an admin key). */
  FORBIDDEN: 'FORBIDDEN',
  /** A new model failed a check on reload; the serving model is unchanged. */
  MODEL_RELOAD_FAILED: 'MODEL_RELOAD_FAILED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /**
   * The client disconnected before its rows ran, so they were dropped. That client never reads it; the
   * access log and metrics do.
   */
  CLIENT_CLOSED_REQUEST: 'CLIENT_CLOSED_REQUEST',
  // Raised by Apollo Server / graphql-js before any resolver runs.
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  BAD_REQUEST: 'BAD_REQUEST',
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_NOT_SUPPORTED: 'PERSISTED_QUERY_NOT_SUPPORTED',
  /**
   * A documentId (or persistedQuery sha256Hash) that no loaded manifest holds: rebuild the client against
   * this server's manifest, or have the operator add the frontend's manifest (TRUSTED_DOCUMENTS_FILE). 400.
   */
  TRUSTED_DOCUMENT_NOT_FOUND: 'TRUSTED_DOCUMENT_NOT_FOUND',
  /** TRUSTED_DOCUMENTS=require and the request sent a document as text: send its documentId instead. 403. */
  TRUSTED_DOCUMENT_REQUIRED: 'TRUSTED_DOCUMENT_REQUIRED',
  // Answered by the HTTP layer (src/http) before GraphQL, in the same { errors: [...] } shape.
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  NOT_FOUND: 'NOT_FOUND',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * An error answered by the HTTP edge before GraphQL runs (body limits, content types, API keys, the
 * request budget), in the same `{ errors: [{ message, extensions: { code } }] }` shape GraphQL errors have.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
    /** Response headers the error needs (Retry-After...). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** One broken rule of one field (of one row, for predictBatch). */
export interface Violation {
  /** Index in `predictBatch(inputs:)`; absent for `predict`. */
  row?: number;
  field: string;
  value: unknown;
  /** class-validator constraint name, e.g. `min`, `max`, `isPositive`. */
  constraint: string;
  /** The limit the value broke, when the rule has one. */
  bound?: number | string;
  message: string;
}

export function badUserInput(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, ...extensions } });
}

/** BAD_USER_INPUT for a predictBatch list with too few or too many readings. */
export function batchSizeOutOfRange(rows: number, maxRows: number): GraphQLError {
  const message = `inputs must hold 1 to ${maxRows} readings, got ${rows}`;
  const tooFew = rows < 1;
  const violation: Violation = {
    field: 'inputs',
    value: rows,
    constraint: tooFew ? 'arrayMinSize' : 'arrayMaxSize',
    bound: tooFew ? 1 : maxRows,
    message,
  };
  return badUserInput(message, { violations: [violation] });
}

export function invalidReadings(violations: Violation[]): GraphQLError {
  const rows = [...new Set(violations.map((v) => v.row).filter((r): r is number => r !== undefined))];
  const first = violations[0];
  const where = first.row === undefined ? first.field : `inputs[${first.row}].${first.field}`;
  const more = violations.length > 1 ? ` (and ${violations.length - 1} more)` : '';
  return badUserInput(`Invalid sensor reading: ${where}: ${first.message}${more}`, {
    violations,
    ...(rows.length > 0 ? { invalidRows: rows } : {}),
  });
}

export function modelNotReady(state: string): GraphQLError {
  return new GraphQLError(`The model is not ready (state: ${state}); retry shortly`, {
    extensions: { code: ErrorCode.MODEL_NOT_READY, state },
  });
}

export function serverBusy(queuedRows: number, maxQueueRows: number): GraphQLError {
  return new GraphQLError('The inference queue is full; retry shortly', {
    extensions: { code: ErrorCode.SERVER_BUSY, queuedRows, maxQueueRows },
  });
}

/**
 * SERVER_BUSY for rows that waited MAX_QUEUE_WAIT_MS without a run: the server is behind, and answering
 * late is worse than telling the client when to retry. 503 with Retry-After, like other overload answers.
 */
export function queueWaitExceeded(maxQueueWaitMs: number, retryAfter: number): GraphQLError {
  return new GraphQLError(
    `The request waited more than ${maxQueueWaitMs} ms (MAX_QUEUE_WAIT_MS) for inference; retry after ${retryAfter} s`,
    {
      extensions: {
        code: ErrorCode.SERVER_BUSY,
        reason: 'QUEUE_WAIT',
        maxQueueWaitMs,
        retryAfter,
        http: { status: 503, headers: new Map([['retry-after', String(retryAfter)]]) },
      },
    },
  );
}

export function clientDisconnected(): GraphQLError {
  return new GraphQLError('The client disconnected before its readings were scored', {
    extensions: { code: ErrorCode.CLIENT_CLOSED_REQUEST },
  });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.FORBIDDEN } });
}

export function modelReloadFailed(reason: string): GraphQLError {
  return new GraphQLError(`The new model was refused and the serving model is unchanged: ${reason}`, {
    extensions: { code: ErrorCode.MODEL_RELOAD_FAILED, reason },
  });
}

export function inferenceFailed(): GraphQLError {
  return new GraphQLError('Inference failed for this request', {
    extensions: { code: ErrorCode.INFERENCE_FAILED },
  });
}

const requestVariables = new WeakMap<object, Record<string, unknown>>();

/**
 * Lets the error formatter see the variables of the request an error came from, so a coercion
 * violation carries the exact value sent (Apollo hands formatError only the error). Apollo calls
 * didEncounterErrors with the very error objects it then formats.
 */
export function inputErrorsPlugin<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, request }) {
          if (!request.variables) return;
          for (const error of errors) requestVariables.set(error, request.variables);
        },
      };
    },
  };
}

/**
 * Every BAD_USER_INPUT leaves with `extensions.violations`: resolver-side ones already carry them;
 * variable coercion errors (raised by graphql-js before any resolver) get them read from their message.
 * In production graphql-js's "did you mean" suggestions go, as Apollo's hideSchemaDetailsFromClientErrors
 * does for validation errors.
 */
function withViolations(formatted: GraphQLFormattedError, error: unknown, production: boolean): GraphQLFormattedError {
  const message = production ? withoutSuggestions(formatted.message) : formatted.message;
  if (Array.isArray(formatted.extensions?.violations)) return { ...formatted, message };
  const variables = typeof error === 'object' && error !== null ? requestVariables.get(error) : undefined;
  const violation = coercionViolation(formatted.message, variables, !production);
  if (!violation) return { ...formatted, message };
  return {
    ...formatted,
    message,
    extensions: {
      ...formatted.extensions,
      violations: [violation],
      ...(violation.row === undefined ? {} : { invalidRows: [violation.row] }),
    },
  };
}

/**
 * The single boundary where errors become what clients see. Errors from the catalogue pass through
 * (minus stack traces in production); anything else is an internal error whose details go to the log only.
 */
export function createErrorFormatter(opts: { production: boolean; onInternal?: (err: unknown) => void }) {
  return (original: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    let formatted = original;
    const code = formatted.extensions?.code;
    if (code === ErrorCode.BAD_USER_INPUT) formatted = withViolations(formatted, error, opts.production);
    if (typeof code === 'string' && KNOWN_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      if (!opts.production) return formatted;
      const { stacktrace: _dropped, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    opts.onInternal?.(unwrapResolverError(error));
    if (!opts.production) {
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    return {
      message: 'Internal server error',
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/**
 * Which rate-limit budget a call ran out of: HTTP requests to /graphql (`requests`, every request,
 * checked before the body is read), counted calls (`operations`) or scored readings (`rows`).
 */
export type RateLimitBudget = 'requests' | 'operations' | 'rows';

/**
 * RATE_LIMITED: the caller spent its budget for the current window. `extensions.http` makes Apollo answer
 * 429 with a Retry-After header (Apollo strips `http` from the body).
 */
export function rateLimited(info: {
  budget: RateLimitBudget;
  limit: number;
  window: string;
  windowSeconds: number;
  retryAfter: number;
  resetAt: string;
}): GraphQLError {
  const what = info.budget === 'rows' ? 'readings' : info.budget === 'requests' ? 'requests' : 'operations';
  return new GraphQLError(`Rate limit exceeded: ${info.limit} ${what} per ${info.window}; retry after ${info.retryAfter} s`, {
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      ...info,
      http: { status: 429, headers: new Map([['retry-after', String(info.retryAfter)]]) },
    },
  });
}

/** RATE_LIMITED when the shared rate-limit store is unreachable and RATE_LIMIT_FAIL_MODE=closed. */
export function rateLimitUnavailable(retryAfter: number): GraphQLError {
  return new GraphQLError(`Rate limiting is unavailable; retry after ${retryAfter} s`, {
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      reason: 'STORE_UNAVAILABLE',
      retryAfter,
      http: { status: 503, headers: new Map([['retry-after', String(retryAfter)]]) },
    },
  });
}

/** QUERY_TOO_COMPLEX: a document broke one of the static limits (depth, cost, aliases, root fields). */
export function queryTooComplex(
  rule: 'depth' | 'cost' | 'aliases' | 'rootFields',
  limit: number,
  value: number,
  message: string,
): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, rule, limit, value } });
}
