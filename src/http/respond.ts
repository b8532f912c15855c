import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../errors';

/** Answers with a JSON body (probes, and errors raised before GraphQL runs). */
export function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  if (res.writableEnded) return;
  const text = JSON.stringify(payload);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/** An error outside GraphQL, in the shape GraphQL errors have: `{ errors: [{ message, extensions: { code } }] }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: ErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
): void {
  sendJson(res, status, { errors: [{ message, extensions: { code, ...extensions } }] });
}
