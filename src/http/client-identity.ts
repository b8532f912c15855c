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

/**
 * Who a request counts against: the API key's hash when one is sent (never the key itself), else the
 * client IP. Forwarded headers are believed only behind a proxy the operator declared (TRUST_PROXY).
 */
export function clientIdOf(req: IncomingMessage, trustProxy: boolean): string {
  const key = apiKeyOf(req);
  if (key) return `key:${sha256Hex(key).slice(0, 16)}`;
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) return `ip:${first}`;
  }
  return `ip:${req.socket.remoteAddress ?? 'unknown'}`;
}
