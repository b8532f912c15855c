import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, HttpError } from '../errors';
import { PACKAGE_ROOT } from '../version';
import { errorReply } from './errors';
import { unencapsulated } from './unencapsulated';

/** Where `npm run console:build` writes the operator console (examples/console/dist). */
export function defaultConsoleDir(): string {
  return path.join(PACKAGE_ROOT, 'examples', 'console', 'dist');
}

/** Vite names built assets `assets/<name>-<hash>.<ext>`: their content never changes under that name. */
const HASHED_ASSET = /^assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

/**
 * Serves the built operator console under /console/ with @fastify/static: GET and HEAD only, files from
 * `root` only (no traversal, no dotfiles, no listings), ETag and Last-Modified on every file (a repeat
 * visit to index.html is a 304), `immutable` for Vite's content-hashed assets and revalidation for the rest.
 */
export const consolePlugin = unencapsulated(async function consolePlugin(fastify: FastifyInstance, opts: { root: string }) {
  const base = path.resolve(opts.root);
  if (!existsSync(base)) {
    fastify.get('/console/*', (_request, reply) =>
      errorReply(reply, new HttpError(404, ErrorCode.NOT_FOUND, 'The operator console is not built: run `npm run console:build`')),
    );
  } else {
    await fastify.register(fastifyStatic, {
      root: base,
      prefix: '/console/',
      index: 'index.html',
      dotfiles: 'deny',
      etag: true,
      lastModified: true,
      // Stryker disable next-line BooleanLiteral: send's own max-age=0 would be replaced by setHeaders' value anyway; off says it is ours
      cacheControl: false, // set per file below
      setHeaders: (res, file) => {
        const relative = path.relative(base, file).split(path.sep).join('/');
        res.header('cache-control', HASHED_ASSET.test(relative) ? 'public, max-age=31536000, immutable' : 'no-cache');
        // RFC 9239's type for JavaScript (send's mime table still says application/javascript).
        if (/\.m?js$/.test(relative)) res.header('content-type', 'text/javascript; charset=utf-8');
      },
    });
  }
  fastify.get('/console', (_request, reply) => reply.redirect('/console/', 301));
});
