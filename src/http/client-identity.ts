import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The API key a request carries, from `x-api-key` or `Authorization: Bearer`, if any. */
export function apiKeyOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = req.headers.authorization;
  if (auth && /^bearer /i.test(auth)) return auth.slice(7).trim() || undefined;
  return undefined;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export interface ClientIdentity {
  /** Who the request counts against: `key:<hash prefix>` or `ip:<address>`. */
  clientId: string;
  /** SHA-256 of the API key sent, if any (the key itself is never kept). */
  apiKeyHash: string | undefined;
}

/**
 * Who a request is, hashed once per request: the API key's hash when one is sent, else the client IP.
 * Forwarded headers are believed only behind a proxy the operator declared (TRUST_PROXY).
 */
export function identify(req: IncomingMessage, trustProxy: boolean): ClientIdentity {
  const key = apiKeyOf(req);
  if (key) {
    const apiKeyHash = sha256Hex(key);
    return { clientId: `key:${apiKeyHash.slice(0, 16)}`, apiKeyHash };
  }
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) return { clientId: `ip:${first}`, apiKeyHash: undefined };
  }
  return { clientId: `ip:${req.socket.remoteAddress ?? 'unknown'}`, apiKeyHash: undefined };
}
