import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import helmet from 'helmet';
import { applyHeaders, recordHeaders, type Middleware } from '../src/http/static-headers';

function response(): ServerResponse {
  const req = new IncomingMessage(new Socket());
  req.method = 'POST';
  req.url = '/graphql';
  return new ServerResponse(req);
}

/** The headers helmet itself leaves on a real response. */
function helmetHeaders(mw: Middleware) {
  const res = response();
  res.setHeader('X-Powered-By', 'something');
  mw(res.req, res, (err) => assert.equal(err, undefined));
  return res.getHeaders();
}

describe('recordHeaders', () => {
  const configs = {
    'helmet defaults': helmet(),
    'the API config (upgrade-insecure-requests off)': helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }),
    'the landing-page config': helmet({
      contentSecurityPolicy: { directives: { scriptSrc: ["'self'", 'https://embeddable-sandbox.cdn.apollographql.com'] } },
      crossOriginEmbedderPolicy: false,
    }),
  };
  for (const [name, mw] of Object.entries(configs)) {
    it(`replays exactly what helmet sets and removes: ${name}`, () => {
      const recorded = recordHeaders(mw as unknown as Middleware);
      const res = response();
      res.setHeader('X-Powered-By', 'something');
      applyHeaders(res, recorded);
      const want = helmetHeaders(mw as unknown as Middleware);
      assert.deepEqual(res.getHeaders(), want);
      assert.ok(Object.keys(want).length >= 10, 'helmet sets its dozen headers');
      assert.equal(want['x-powered-by'], undefined);
    });
  }

  it('refuses middleware whose headers are not static', () => {
    const readsRequest: Middleware = (req, res, next) => {
      res.setHeader('x-echo', String(req.headers['x-echo']));
      next();
    };
    assert.throws(() => recordHeaders(readsRequest), /reads req\.headers/);
    const nonce = helmet({ contentSecurityPolicy: { directives: { scriptSrc: [(req) => String((req as IncomingMessage).url)] } } });
    assert.throws(() => recordHeaders(nonce as unknown as Middleware), /reads req\.url/);
    assert.throws(() => recordHeaders((_req, _res, next) => setImmediate(next)), /did not call next synchronously/);
    assert.throws(() => recordHeaders((_req, _res, next) => next(new Error('bad option'))), /bad option/);
  });
});
