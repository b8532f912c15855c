import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { LARGE_BODY_BYTES } from './bulk-lane';

/**
 * A Cancellation (src/inference/batcher.ts) that fires when the response closes before it finished: the
 * client went away. One listener on the response, none of AbortController's EventTarget machinery.
 */
export class ClientGone {
  aborted = false;
  private listeners: Array<() => void> = [];

  constructor(res: ServerResponse) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.aborted = true;
      const listeners = this.listeners;
      this.listeners = [];
      for (const listener of listeners) listener();
    });
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
}

/**
 * 0 for a request the bulk lane lets go first: no body, or a plain body under LARGE_BODY_BYTES by its
 * Content-Length. Otherwise the bytes its body may take: the Content-Length, or the body limit for a
 * compressed body (it may inflate to the limit) or one without an announced size (chunked).
 */
export function largeBodyBytes(method: string, headers: FastifyRequest['headers'], bodyLimit: number): number {
  if (method === 'GET' || method === 'OPTIONS' || method === 'HEAD') return 0;
  const encoding = headers['content-encoding'];
  const plain = encoding === undefined || encoding === 'identity';
  if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) return 0; // no body
  const length = Number(headers['content-length']);
  if (!plain || !Number.isFinite(length)) return bodyLimit;
  return length < LARGE_BODY_BYTES ? 0 : Math.min(length, bodyLimit);
}
