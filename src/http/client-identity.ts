import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The API key a request carries, from `x-api-key` or `Authorization: Bearer`, if any. */
export function apiKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = headers.authorization;
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
 * Who a request is, hashed once per request: the API key's hash when one is sent, else the client
 * address. `ip` is Fastify's `request.ip`, which follows X-Forwarded-For only as far back as TRUST_PROXY
 * allows (proxy-addr semantics: with a hop count of 1 it is the address the one proxy appended, never an
 * entry the client wrote itself).
 */
export function identify(headers: IncomingHttpHeaders, ip: string | undefined): ClientIdentity {
  const key = apiKeyOf(headers);
  if (key) {
    const apiKeyHash = sha256Hex(key);
    return { clientId: `key:${apiKeyHash.slice(0, 16)}`, apiKeyHash };
  }
  return { clientId: `ip:${ip ?? 'unknown'}`, apiKeyHash: undefined };
}
