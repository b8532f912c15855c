import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/** helmet's shape; tests hand in a misbehaving one to check the recorder's refusals. */
export type HelmetMiddleware = (
  options: HelmetOptions,
) => (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Helmet's headers for static options, computed once: helmet is run against a recording response at start
 * and its headers are set on every reply. @fastify/helmet builds helmet's middleware for every request
 * (3.9 % of a `predict`'s CPU in the 64-connection profile, docs/benchmarks.md); with static options (no CSP
 * nonces) the headers cannot differ between requests. A helmet that read the request or answered would
 * make this unsafe, so the recorder refuses both, at start.
 */
export function helmetHeaders(options: Readonly<HelmetOptions>, middleware: HelmetMiddleware = helmet): Record<string, string> {
  const headers: Record<string, string> = {};
  const req = new Proxy({} as IncomingMessage, {
    get(_target, prop) {
      throw new Error(`helmetHeaders: helmet read req.${String(prop)}, so its headers are not static`);
    },
  });
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
      return res;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let called = false;
  middleware(options as HelmetOptions)(req, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    called = true;
  });
  if (!called) throw new Error('helmetHeaders: helmet did not call next synchronously');
  return headers;
}
