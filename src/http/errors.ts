import type { FastifyReply } from 'fastify';
import { ErrorCode, HttpError } from '../errors';

/**
 * What a client sees for an error outside GraphQL execution: our HttpErrors keep their status and code;
 * Fastify's own errors (body limit, content type, malformed JSON, bad URL) are mapped to catalogue codes;
 * anything else is a 500 INTERNAL_SERVER_ERROR whose details stay in the log.
 */
export function toHttpError(err: unknown, bodyLimit: number): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, ErrorCode.PAYLOAD_TOO_LARGE, `Request body exceeds ${bodyLimit} bytes`, { limit: bodyLimit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new HttpError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'POST /graphql needs Content-Type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, ErrorCode.BAD_REQUEST, 'Request body is empty; send a JSON object with a "query"');
    case 'FST_STATIC_FORBIDDEN_PATH':
      // A traversal attempt under /console/: answered like any missing file, saying nothing of the tree.
      return new HttpError(404, ErrorCode.NOT_FOUND, 'Not found');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, ErrorCode.BAD_REQUEST, 'Request body length does not match Content-Length');
  }
  if (e.statusCode === 403) {
    // @fastify/send refusing a path (dot segments, traversal): answered like any missing file.
    return new HttpError(404, ErrorCode.NOT_FOUND, 'Not found');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new HttpError(e.statusCode, ErrorCode.BAD_REQUEST, e.message ?? 'Bad request');
  }
  return new HttpError(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
}

/**
 * Sets an error's status and headers on `reply` and returns its body, in the shape GraphQL errors have:
 * `{ errors: [{ message, extensions: { code, ... } }] }`.
 */
export function errorPayload(reply: FastifyReply, err: HttpError): string {
  for (const [name, value] of Object.entries(err.headers)) reply.header(name, value);
  reply.code(err.status).type('application/json; charset=utf-8');
  return JSON.stringify({ errors: [{ message: err.message, extensions: { code: err.code, ...err.extensions } }] });
}

/** Answers with an error (see errorPayload). */
export function errorReply(reply: FastifyReply, err: HttpError): FastifyReply {
  return reply.send(errorPayload(reply, err));
}
