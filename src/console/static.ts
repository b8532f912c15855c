import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { ErrorCode } from '../errors';
import { sendError } from '../http/respond';
import { PACKAGE_ROOT } from '../version';

/** Where `npm run console:build` writes the operator console (examples/console/dist). */
export function defaultConsoleDir(): string {
  return path.join(PACKAGE_ROOT, 'examples', 'console', 'dist');
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.csv': 'text/csv; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Vite names built assets `assets/<name>-<hash>.<ext>`: their content never changes under that name. */
const HASHED_ASSET = /^assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

function notFound(res: ServerResponse, message: string): true {
  sendError(res, 404, ErrorCode.NOT_FOUND, message);
  return true;
}

/**
 * Serves the built operator console under `mount` (default /console/): GET and HEAD only, files from
 * `root` only (no traversal, no dotfiles, no directory listings), 404 for anything missing, long-lived
 * caching for Vite's content-hashed assets and revalidation for index.html. Returns an
 * `AppOptions.routes` hook: true when the request was for the console.
 */
export function consoleRoutes(root = defaultConsoleDir(), mount = '/console') {
  const base = path.resolve(root);
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> => {
    if (pathname !== mount && !pathname.startsWith(`${mount}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      res.end();
      return true;
    }
    if (pathname === mount) {
      res.statusCode = 301;
      res.setHeader('location', `${mount}/`);
      res.end();
      return true;
    }
    let relative: string;
    try {
      relative = decodeURIComponent(pathname.slice(mount.length + 1));
    } catch {
      return notFound(res, `Not found: ${pathname}`);
    }
    if (relative === '') relative = 'index.html';
    const segments = relative.split(/[\\/]/);
    if (relative.includes('\0') || segments.some((s) => s === '' || s === '..' || s.startsWith('.'))) {
      return notFound(res, `Not found: ${pathname}`);
    }
    const file = path.resolve(base, ...segments);
    if (!file.startsWith(base + path.sep)) return notFound(res, `Not found: ${pathname}`);
    let size: number;
    try {
      const info = await stat(file);
      if (!info.isFile()) return notFound(res, `Not found: ${pathname}`);
      size = info.size;
    } catch {
      if (relative === 'index.html' && !existsSync(base)) {
        return notFound(res, 'The operator console is not built: run `npm run console:build`');
      }
      return notFound(res, `Not found: ${pathname}`);
    }
    res.statusCode = 200;
    res.setHeader('content-type', CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
    res.setHeader('content-length', size);
    res.setHeader('cache-control', HASHED_ASSET.test(segments.join('/')) ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(file);
      stream.once('error', reject);
      res.once('close', resolve);
      stream.pipe(res);
    }).catch(() => res.destroy());
    return true;
  };
}
