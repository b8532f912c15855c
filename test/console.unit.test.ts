import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ApolloServerPlugin, BaseContext, GraphQLServerContext, GraphQLServerListener } from '@apollo/server';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildSchema, parse, validate } from 'graphql';
import type { RequestTrace } from '../src/context';
import { consolePlugin, defaultConsoleDir } from '../src/http/console';
import { traceError, type EdgeState } from '../src/http/edge-state';
import { errorReply, toHttpError } from '../src/http/errors';
import { landingPagePlugin } from '../src/http/landing-page';
import { unencapsulated } from '../src/http/unencapsulated';
import { PACKAGE_ROOT } from '../src/version';

// The operator console under /console/ (a built Vite tree served by @fastify/static) and the landing page's
// way out when Apollo's Sandbox cannot load, each on a bare Fastify instance or plugin driven directly.

const ROOT = path.resolve(__dirname, '..', '..');
const HASH = 'Ab_-9zQ1'; // Vite's hash alphabet: letters of both cases, digits, '_' and '-'
const open: FastifyInstance[] = [];
after(async () => {
  for (const app of open) await app.close();
});

/** A built console tree beside a secret the console must never serve. */
function consoleTree(): string {
  const top = mkdtempSync(path.join(tmpdir(), 'console-'));
  writeFileSync(path.join(top, 'secret.txt'), 'outside the console');
  const dist = path.join(top, 'dist');
  mkdirSync(path.join(dist, 'assets', 'nested'), { recursive: true });
  mkdirSync(path.join(dist, 'empty'));
  mkdirSync(path.join(dist, 'other', 'assets'), { recursive: true });
  const files: Record<string, string> = {
    'index.html': '<!doctype html><title>console</title>',
    [`assets/index-${HASH}.js`]: 'console.log(1)',
    [`assets/chunk-${HASH}.mjs`]: 'export {}',
    [`assets/index-${HASH}.css`]: 'body{}',
    [`assets/font-${HASH}.woff2`]: 'woff',
    [`assets/index-${HASH}.js.map`]: '{}',
    [`assets/index-${HASH}.JS`]: 'upper-case extension',
    'assets/index-short.js': 'hash too short',
    [`assets/nested/index-${HASH}.js`]: 'one folder down',
    [`other/assets/index-${HASH}.js`]: 'not the top assets folder',
    [`index-${HASH}.js`]: 'not under assets',
    'data.json': '{"a":1}',
    'notes.jsx': 'jsx',
    '.env': 'SECRET=1',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dist, name), text);
  return dist;
}

async function serve(root: string): Promise<FastifyInstance> {
  const app = Fastify();
  open.push(app);
  // As app.ts answers errors and unknown routes.
  app.setErrorHandler((err, _request, reply) => errorReply(reply, toHttpError(err, 1_000)));
  await app.register(consolePlugin, { root });
  await app.ready();
  return app;
}

describe('consolePlugin: a built console', () => {
  const dist = consoleTree();
  let app: FastifyInstance;
  const get = async (url: string, headers: Record<string, string> = {}) => {
    app ??= await serve(dist);
    return app.inject({ method: 'GET', url, headers });
  };

  it('serves index.html at /console/, revalidated, with validators for a 304', async () => {
    const r = await get('/console/');
    assert.equal(r.statusCode, 200);
    assert.equal(r.body, '<!doctype html><title>console</title>');
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.ok(r.headers.etag, 'an ETag');
    assert.ok(r.headers['last-modified'], 'a Last-Modified');
    const again = await get('/console/', { 'if-none-match': String(r.headers.etag) });
    assert.equal(again.statusCode, 304);
    const direct = await get('/console/index.html');
    assert.equal(direct.body, r.body);
  });

  it('redirects /console to /console/ for good', async () => {
    const r = await get('/console');
    assert.equal(r.statusCode, 301);
    assert.equal(r.headers.location, '/console/');
  });

  it("caches Vite's hashed assets for a year, immutable", async () => {
    for (const file of [`index-${HASH}.js`, `chunk-${HASH}.mjs`, `index-${HASH}.css`, `font-${HASH}.woff2`]) {
      const r = await get(`/console/assets/${file}`);
      assert.equal(r.statusCode, 200, file);
      assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable', file);
    }
  });

  it('revalidates every file whose name is not a top-level hashed asset', async () => {
    for (const file of [
      'assets/index-short.js',
      `assets/index-${HASH}.js.map`,
      `assets/index-${HASH}.JS`,
      `assets/nested/index-${HASH}.js`,
      `other/assets/index-${HASH}.js`,
      `index-${HASH}.js`,
      'data.json',
    ]) {
      const r = await get(`/console/${file}`);
      assert.equal(r.statusCode, 200, file);
      assert.equal(r.headers['cache-control'], 'no-cache', file);
    }
  });

  it('types .js and .mjs as text/javascript (RFC 9239), and nothing else', async () => {
    for (const file of [`assets/index-${HASH}.js`, `assets/chunk-${HASH}.mjs`, 'assets/index-short.js']) {
      assert.equal((await get(`/console/${file}`)).headers['content-type'], 'text/javascript; charset=utf-8', file);
    }
    for (const file of ['data.json', `assets/index-${HASH}.js.map`, 'notes.jsx', `assets/index-${HASH}.css`]) {
      assert.notEqual((await get(`/console/${file}`)).headers['content-type'], 'text/javascript; charset=utf-8', file);
    }
    assert.match(String((await get('/console/data.json')).headers['content-type']), /^application\/json/);
  });

  it('answers HEAD like GET without a body, and no other method', async () => {
    app ??= await serve(dist);
    const head = await app.inject({ method: 'HEAD', url: '/console/' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
    for (const method of ['POST', 'PUT', 'DELETE'] as const) {
      assert.equal((await app.inject({ method, url: '/console/index.html' })).statusCode, 404, method);
    }
  });

  it('serves nothing outside its folder, no dotfiles and no listings', async () => {
    for (const url of [
      '/console/../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/..%2fsecret.txt',
      '/console/assets/%2e%2e/%2e%2e/secret.txt',
      '/console/.env',
      '/console/empty/',
      '/console/assets/',
      '/console/missing.js',
    ]) {
      const r = await get(url);
      assert.equal(r.statusCode, 404, url);
      assert.doesNotMatch(r.body, /outside the console|SECRET/, url);
    }
  });
});

describe('consolePlugin: no console built', () => {
  it('says how to build it under /console/, and still redirects /console', async () => {
    const app = await serve(path.join(mkdtempSync(path.join(tmpdir(), 'console-')), 'dist'));
    const r = await app.inject({ method: 'GET', url: '/console/index.html' });
    assert.equal(r.statusCode, 404);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(r.body), {
      errors: [
        {
          message: 'The operator console is not built: run `npm run console:build`',
          extensions: { code: 'NOT_FOUND' },
        },
      ],
    });
    assert.equal((await app.inject({ method: 'GET', url: '/console/' })).statusCode, 404);
    const redirect = await app.inject({ method: 'GET', url: '/console' });
    assert.deepEqual([redirect.statusCode, redirect.headers.location], [301, '/console/']);
  });

  it('looks for the build in examples/console/dist of the package', () => {
    assert.equal(defaultConsoleDir(), path.join(ROOT, 'examples', 'console', 'dist'));
    assert.equal(PACKAGE_ROOT, ROOT);
  });
});

describe('unencapsulated', () => {
  it("adds a plugin's decorations and hooks to the instance that registers it, as the same function", async () => {
    const plain = async (f: FastifyInstance) => {
      f.decorate('probe', 1);
      f.addHook('onRequest', async (_request, reply) => {
        reply.header('x-plugin-hook', 'yes');
      });
    };
    const shared = unencapsulated(plain);
    assert.equal(shared, plain);
    const app = Fastify();
    open.push(app);
    app.get('/root', async () => 'root');
    await app.register(shared);
    await app.ready();
    assert.equal(app.hasDecorator('probe'), true);
    assert.equal((await app.inject({ url: '/root' })).headers['x-plugin-hook'], 'yes');

    const sealed = Fastify();
    open.push(sealed);
    await sealed.register(async (f: FastifyInstance) => {
      f.decorate('probe', 1);
    });
    await sealed.ready();
    assert.equal(sealed.hasDecorator('probe'), false, 'a plain plugin stays encapsulated');
  });
});

describe('traceError', () => {
  it("records the error code on the request's trace and marks it written", () => {
    const trace: RequestTrace = { operationName: 'P', errorCodes: ['EARLIER', 'CODES'], written: false };
    const edge: EdgeState = { clientId: 'ip:127.0.0.1', apiKeyHash: undefined, budgets: [], trace };
    traceError(edge, 'RATE_LIMITED');
    assert.deepEqual(edge.trace, { operationName: 'P', errorCodes: ['RATE_LIMITED'], written: true });
  });
});

describe('landingPagePlugin', () => {
  const OFFLINE = '<p>Apollo Sandbox cannot be loaded; it appears that you might be offline.</p>';

  async function page(plugin: ApolloServerPlugin<BaseContext>): Promise<string> {
    const listener = (await plugin.serverWillStart!({} as GraphQLServerContext)) as GraphQLServerListener;
    const landing = await listener.renderLandingPage!();
    return typeof landing.html === 'string' ? landing.html : landing.html();
  }

  /** The block added after Apollo's offline sentence. */
  async function fallback(opts: { consoleUrl?: string }): Promise<string> {
    const html = await page(landingPagePlugin(opts));
    const at = html.indexOf(OFFLINE);
    assert.ok(at > 0, "Apollo's offline sentence is on the page");
    const rest = html.slice(at + OFFLINE.length);
    assert.ok(rest.startsWith('\n<p>Without the Sandbox'), rest.slice(0, 80));
    return rest.slice(0, rest.indexOf('</script>') + '</script>'.length);
  }

  const unescape = (html: string) =>
    html
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');

  it("keeps Apollo's embedded Sandbox page", async () => {
    const html = await page(landingPagePlugin({}));
    assert.match(html, /^\s*<!DOCTYPE html>/i);
    assert.match(html, /embeddable-sandbox|EmbeddedSandbox/);
    assert.equal(html.split(OFFLINE).length, 2, 'one offline block');
  });

  it('links the console and the schema when the Sandbox cannot load', async () => {
    const block = await fallback({ consoleUrl: '/console/' });
    assert.match(
      block,
      /use the <a href="\/console\/">operator console<\/a>, read the schema at <a href="\/schema\.graphql">\/schema\.graphql<\/a>/,
    );
    const without = await fallback({});
    assert.doesNotMatch(without, /console/);
    assert.match(without, /^\n<p>Without the Sandbox you can still read the schema at <a href="\/schema\.graphql">/);
  });

  it('escapes the console URL', async () => {
    const block = await fallback({ consoleUrl: '/c?a=1&b=2&c="x"<y><z>"' });
    assert.match(block, /<a href="\/c\?a=1&amp;b=2&amp;c=&quot;x&quot;&lt;y&gt;&lt;z&gt;&quot;">/);
  });

  it('gives a curl line that calls predict with a valid document, on the origin the page was served from', async () => {
    const block = await fallback({});
    const pre = /<pre style="white-space: pre-wrap">([\s\S]*?)<\/pre>/.exec(block);
    assert.ok(pre, block);
    const origin = /<span class="pm-origin">([^<]*)<\/span>/.exec(pre[1]);
    assert.equal(origin?.[1], 'http://localhost:4000');
    const escaped = pre[1].replace(/<span class="pm-origin">[^<]*<\/span>/, 'ORIGIN');
    assert.doesNotMatch(escaped, /\$ORIGIN|[<>"]/, 'placeholder replaced, the rest escaped');
    const command = unescape(escaped);
    const parts = /^curl -s -X POST "ORIGIN\/graphql" -H 'content-type: application\/json' -d '(.*)'$/.exec(command);
    assert.ok(parts, command);
    const { query } = JSON.parse(parts[1]) as { query: string };
    const schema = buildSchema(readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'));
    assert.deepEqual(validate(schema, parse(query)), []);
    assert.match(query, /^mutation \{ predict\(/);

    // The script rewrites the placeholder origin to the page's own.
    const script = /<script>([\s\S]*)<\/script>$/.exec(block);
    assert.ok(script);
    const spans = [{ textContent: 'http://localhost:4000' }, { textContent: 'http://localhost:4000' }];
    const document = { querySelectorAll: (selector: string) => (selector === '.pm-origin' ? spans : []) };
    new Function('document', 'location', script[1])(document, { origin: 'https://pm.example' });
    assert.deepEqual(
      spans.map((s) => s.textContent),
      ['https://pm.example', 'https://pm.example'],
    );
  });

  it("passes through a page Apollo rendered as a string, and Apollo's listener when there is no page", async () => {
    const listener = (over: Partial<GraphQLServerListener>): ApolloServerPlugin<BaseContext> => ({
      serverWillStart: async () => ({ serverWillStop: async () => undefined, ...over }),
    });
    const html = await page(landingPagePlugin({}, listener({ renderLandingPage: async () => ({ html: `<main>${OFFLINE}</main>` }) })));
    assert.match(html, /^<main><p>Apollo Sandbox cannot be loaded; it appears that you might be offline\.<\/p>\n<p>Without the Sandbox/);
    assert.ok(html.endsWith('</script></main>'));
    const stop = async () => undefined;
    const kept = (await landingPagePlugin({}, listener({ serverWillStop: stop, renderLandingPage: async () => ({ html: OFFLINE }) }))
      .serverWillStart!({} as GraphQLServerContext)) as GraphQLServerListener;
    assert.equal(kept.serverWillStop, stop, "Apollo's other listener hooks are kept");

    const bare = { serverWillStop: async () => undefined };
    const noPage: ApolloServerPlugin<BaseContext> = { serverWillStart: async () => bare };
    assert.equal(await landingPagePlugin({}, noPage).serverWillStart!({} as GraphQLServerContext), bare);
    const nothing: ApolloServerPlugin<BaseContext> = { serverWillStart: async () => undefined };
    assert.equal(await landingPagePlugin({}, nothing).serverWillStart!({} as GraphQLServerContext), undefined);
    assert.equal(await landingPagePlugin({}, {}).serverWillStart!({} as GraphQLServerContext), undefined);
  });
});
