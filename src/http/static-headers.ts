import type { IncomingMessage, ServerResponse } from 'node:http';

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What a header middleware did to a response: headers set, headers removed. */
export interface HeaderSet {
  readonly set: ReadonlyArray<readonly [name: string, value: string | number | readonly string[]]>;
  readonly removed: readonly string[];
}

/**
 * Runs a header-only middleware (helmet) once against a recorder, so its headers can be replayed on
 * every response without running its chain of middlewares per request (1.5 % of a `predict` request's
 * CPU in the 64-connection profile). Only valid for middleware whose headers depend on its options
 * alone: with static CSP directives helmet reads nothing from the request. Anything else (a middleware
 * that reads the request, answers itself, calls next asynchronously or with an error) fails at start.
 */
export function recordHeaders(middleware: Middleware): HeaderSet {
  const set: Array<[string, string | number | readonly string[]]> = [];
  const removed: string[] = [];
  const req = new Proxy({} as IncomingMessage, {
    get(_target, prop) {
      throw new Error(`recordHeaders: the middleware reads req.${String(prop)}, so its headers are not static`);
    },
  });
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set.push([name, value]);
      return res;
    },
    removeHeader(name: string) {
      removed.push(name);
    },
  };
  let outcome: { err: unknown } | undefined;
  middleware(req, res as unknown as ServerResponse, (err) => (outcome = { err }));
  if (!outcome) throw new Error('recordHeaders: the middleware did not call next synchronously');
  if (outcome.err) throw outcome.err;
  return { set, removed };
}

export function applyHeaders(res: ServerResponse, headers: HeaderSet): void {
  for (const name of headers.removed) res.removeHeader(name);
  for (const [name, value] of headers.set) res.setHeader(name, value);
}
