import { GraphQLError } from 'graphql';
import type { Violation } from './violation';

export type { Violation } from './violation';

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

/** How long a client is told to wait when the drain is over, the event loop is overloaded or large bodies are full. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * 503 SERVER_BUSY answered by the HTTP edge (overload, shutdown, large-body admission), with Retry-After.
 * `extras` go into `extensions` after `retryAfter`.
 */
export function httpServerBusy(message: string, extras: Record<string, unknown> = {}): HttpError {
  return new HttpError(
    503,
    ErrorCode.SERVER_BUSY,
    message,
    { retryAfter: RETRY_AFTER_SECONDS, ...extras },
    { 'retry-after': String(RETRY_AFTER_SECONDS) },
  );
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

/** A reload where the shadow model failed its checks: it was dropped, and `servingVersion` answers as the primary. */
export function shadowDropped(reason: string, servingVersion: string): GraphQLError {
  return new GraphQLError(`${reason}; the primary model ${servingVersion} keeps serving`, {
    extensions: { code: ErrorCode.MODEL_RELOAD_FAILED, reason, model: 'shadow', servingVersion },
  });
}

export function inferenceFailed(): GraphQLError {
  return new GraphQLError('Inference failed for this request', {
    extensions: { code: ErrorCode.INFERENCE_FAILED },
  });
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
