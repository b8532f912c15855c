/**
 * Ports and HTTP readiness for everything that starts servers: the bench (bench/run.ts, bench/fleet.ts,
 * bench/gpu-check.ts) and the tests (test/helpers/*). It lives in bench/ because the bench is a tool that
 * runs on its own (`npm run bench`, `npm run fleet`) and must not depend on test code; tests already import
 * bench modules (bench/fleet.ts, bench/common.ts), and tsconfig.json's `include` compiles both trees.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

/** A port nobody listens on right now (for a child process that cannot report port 0 back). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** GET 127.0.0.1:port/path and resolve with the status code; 0 when nothing answers (refused, reset, or silent for `timeoutMs`). */
export function httpStatus(port: number, pathname: string, timeoutMs = 2_000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export interface WaitForStatusOptions {
  /** Expected status (default 200). */
  status?: number;
  timeoutMs?: number;
  everyMs?: number;
  /** A child process that must stay alive: if it exits first, fail at once with `describe()`'s text. */
  child?: ChildProcess;
  /** What to add to an error (the child's output so far). */
  describe?: () => string;
}

/** Polls GET port/path until it answers `status`; fails naming `what` when the child exits or time runs out. */
export async function waitForStatus(what: string, port: number, pathname: string, options: WaitForStatusOptions = {}): Promise<void> {
  const { status = 200, timeoutMs = 60_000, everyMs = 100, child, describe = () => '' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${describe()}`);
    }
    if ((await httpStatus(port, pathname)) === status) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${describe()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** GET 127.0.0.1:port/path and resolve with the status and the body as text (for /metrics). */
export function httpText(port: number, pathname: string, timeoutMs = 5_000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${pathname}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
