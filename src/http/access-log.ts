import type { FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { traceLogFields } from '../observability/tracing';
import './edge-state';

/**
 * One access-log line per request (Fastify's own two request lines are off): what was asked, how it
 * ended, how long it took, and the error codes the response carried.
 */
export function accessLog(log: Logger): onResponseHookHandler {
  return function logRequest(request, reply, done) {
    writeAccessLine(log, request, reply);
    done();
  };
}

function writeAccessLine(log: Logger, request: FastifyRequest, reply: FastifyReply): void {
  if (!log.isLevelEnabled('info')) return;
  const trace = request.edge?.trace;
  const codes = trace?.errorCodes ?? [];
  const status = reply.statusCode;
  log.info(
    {
      requestId: request.id,
      method: request.method,
      path: request.url.split('?')[0],
      status,
      durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
      operation: trace?.operationName ?? trace?.operationType,
      outcome: codes.length > 0 ? 'error' : status < 400 ? 'ok' : 'error',
      ...(codes.length > 0 ? { errorCodes: [...new Set(codes)] } : {}),
      ...traceLogFields(request),
    },
    'request',
  );
}
