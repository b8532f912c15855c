import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { RequestTrace } from '../src/context';
import { accessLog } from '../src/http/access-log';
import { LARGE_BODY_BYTES } from '../src/http/bulk-lane';
import { ClientGone, largeBodyBytes } from '../src/http/client-request';
import { helmetHeaders, type HelmetMiddleware } from '../src/http/security-headers';
import { traceFromBody, tracePlugin } from '../src/http/trace';

// The small pieces of the HTTP edge an operator reads the output of (the access log, the trace behind it,
// the security headers) and the two that decide what a request costs before its body is read (the bulk
// lane's size, the client-gone signal that drops queued rows).

describe('largeBodyBytes: what the bulk lane reserves before a body is read', () => {
  const LIMIT = 1_000_000;
  const cases: Array<[string, string, Record<string, string>, number]> = [
    ['GET never has one', 'GET', { 'content-length': '500000' }, 0],
    ['OPTIONS never has one', 'OPTIONS', { 'content-length': '500000' }, 0],
    ['HEAD never has one', 'HEAD', { 'content-length': '500000' }, 0],
    ['no length, not chunked: no body', 'POST', {}, 0],
    ['small plain body', 'POST', { 'content-length': String(LARGE_BODY_BYTES - 1) }, 0],
    ['large plain body: its length', 'POST', { 'content-length': String(LARGE_BODY_BYTES) }, LARGE_BODY_BYTES],
    ['identity is plain', 'POST', { 'content-length': '200000', 'content-encoding': 'identity' }, 200_000],
    ['past the limit: the limit', 'POST', { 'content-length': String(LIMIT * 3) }, LIMIT],
    ['compressed, however small: it may inflate to the limit', 'POST', { 'content-length': '10', 'content-encoding': 'gzip' }, LIMIT],
    ['chunked: no announced size', 'PUT', { 'transfer-encoding': 'chunked' }, LIMIT],
    ['a length that is not a number', 'POST', { 'content-length': 'abc' }, LIMIT],
  ];
  for (const [name, method, headers, expected] of cases) {
    it(name, () => assert.equal(largeBodyBytes(method, headers as FastifyRequest['headers'], LIMIT), expected));
  }
});

describe('ClientGone: the client went away before its answer', () => {
  function response(): ServerResponse & EventEmitter & { writableFinished: boolean } {
    return Object.assign(new EventEmitter(), { writableFinished: false }) as unknown as ServerResponse &
      EventEmitter & { writableFinished: boolean };
  }

  it('fires every listener once when the response closes unfinished; removed ones stay silent', () => {
    const res = response();
    const gone = new ClientGone(res);
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    gone.addEventListener('abort', () => calls.push('a'));
    gone.addEventListener('abort', removed);
    gone.addEventListener('abort', () => calls.push('b'));
    gone.removeEventListener('abort', removed);
    assert.equal(gone.aborted, false);
    res.emit('close');
    assert.equal(gone.aborted, true);
    assert.deepEqual(calls, ['a', 'b']);
    res.emit('close');
    assert.deepEqual(calls, ['a', 'b'], 'once');
  });

  it('stays quiet when the response finished before closing (a normal keep-alive answer)', () => {
    const res = response();
    const gone = new ClientGone(res);
    let fired = false;
    gone.addEventListener('abort', () => (fired = true));
    res.writableFinished = true;
    res.emit('close');
    assert.equal(gone.aborted, false);
    assert.equal(fired, false);
  });
});

describe('helmetHeaders: helmet recorded once at start', () => {
  it('records the headers helmet sets, lowercased, without the ones it removes', () => {
    const headers = helmetHeaders({ contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"] } } });
    assert.equal(headers['content-security-policy'], "default-src 'none'");
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.equal(headers['x-powered-by'], undefined);
    for (const name of Object.keys(headers)) assert.equal(name, name.toLowerCase());
    assert.ok(Object.keys(headers).length >= 10, Object.keys(headers).join(', '));
    for (const value of Object.values(headers)) assert.equal(typeof value, 'string');
  });

  it('records a report-only policy under its own header', () => {
    const headers = helmetHeaders({
      contentSecurityPolicy: { useDefaults: false, reportOnly: true, directives: { defaultSrc: ["'self'"] } },
    });
    assert.equal(headers['content-security-policy-report-only'], "default-src 'self'");
    assert.equal(headers['content-security-policy'], undefined);
  });
});

describe('helmetHeaders: what the recorder refuses (a helmet that would make the headers differ per request)', () => {
  type Fake = (
    req: Record<string, unknown>,
    res: Record<string, (name: string, value?: unknown) => void>,
    next: (err?: unknown) => void,
  ) => void;
  const fake = (fn: Fake) => (() => fn) as unknown as HelmetMiddleware;

  it('refuses a helmet that reads the request, naming what it read', () => {
    assert.throws(
      () =>
        helmetHeaders(
          {},
          fake((req, _res, next) => next(req.headers)),
        ),
      { message: 'helmetHeaders: helmet read req.headers, so its headers are not static' },
    );
  });

  it('refuses a helmet that fails or answers later', () => {
    assert.throws(
      () =>
        helmetHeaders(
          {},
          fake((_req, _res, next) => next(new Error('bad option'))),
        ),
      { message: 'bad option' },
    );
    assert.throws(
      () =>
        helmetHeaders(
          {},
          fake((_req, _res, next) => void setImmediate(next)),
        ),
      { message: 'helmetHeaders: helmet did not call next synchronously' },
    );
  });

  it('joins list values, lowercases names, and forgets a header removed after it was set', () => {
    const headers = helmetHeaders(
      {},
      fake((_req, res, next) => {
        res.setHeader('X-List', ['a', 'b']);
        res.setHeader('X-Number', 3);
        res.setHeader('X-Gone', 'soon');
        res.removeHeader('X-GONE');
        next();
      }),
    );
    assert.deepEqual(headers, { 'x-list': 'a, b', 'x-number': '3' });
  });
});

describe('traceFromBody and tracePlugin: the error codes the access log and metrics see', () => {
  const fresh = (): RequestTrace => ({ errorCodes: [], written: false });

  it('reads the codes of an errors-only body, INTERNAL_SERVER_ERROR where one has none', () => {
    const trace = fresh();
    traceFromBody(trace, JSON.stringify({ errors: [{ message: 'a', extensions: { code: 'BAD_REQUEST' } }, { message: 'b' }] }));
    assert.deepEqual(trace, { errorCodes: ['BAD_REQUEST', 'INTERNAL_SERVER_ERROR'], written: true });
  });

  it('never parses a body that starts with data, and shrugs at one that is not JSON', () => {
    const data = fresh();
    traceFromBody(data, '{"data":{"health":{"status":"ok"}},"errors":[{"extensions":{"code":"X"}}]}');
    assert.deepEqual(data, { errorCodes: [], written: true });
    const html = fresh();
    traceFromBody(html, '{"errors": not json');
    assert.deepEqual(html, { errorCodes: [], written: true });
    const empty = fresh();
    traceFromBody(empty, '{"errors":null}');
    assert.deepEqual(empty, { errorCodes: [], written: true });
  });

  it('writes the operation and the formatted errors from the response Apollo sends', async () => {
    const plugin = tracePlugin();
    const listener = await plugin.requestDidStart!({} as never);
    const trace = fresh();
    // Copies: assert.deepEqual narrows the type of what it is given, and the trace is written again below.
    const seen = () => ({ ...trace });
    const send = (body: unknown, operationName: string | null, operation?: { operation: string }) =>
      listener!.willSendResponse!({ response: { body }, operationName, operation, contextValue: { trace } } as never);
    await send(
      { kind: 'single', singleResult: { errors: [{ message: 'x', extensions: { code: 'RATE_LIMITED' } }, { message: 'y' }] } },
      'Predict',
      {
        operation: 'mutation',
      },
    );
    assert.deepEqual(seen(), {
      operationName: 'Predict',
      operationType: 'mutation',
      errorCodes: ['RATE_LIMITED', 'INTERNAL_SERVER_ERROR'],
      written: true,
    });
    await send({ kind: 'incremental', initialResult: { errors: [{ message: 'z', extensions: { code: 'BAD_USER_INPUT' } }] } }, null);
    assert.deepEqual(seen(), { operationName: undefined, operationType: undefined, errorCodes: ['BAD_USER_INPUT'], written: true });
    await send({ kind: 'single', singleResult: { data: {} } }, 'Health', { operation: 'query' });
    assert.deepEqual(seen().errorCodes, []);
  });
});

describe('accessLog: one line per request', () => {
  function capture(enabled = true) {
    const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
    const log = {
      isLevelEnabled: (level: string) => enabled && level === 'info',
      info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }),
    } as unknown as Logger;
    return { log, lines };
  }
  function line(log: Logger, request: Partial<FastifyRequest>, reply: Partial<FastifyReply>): void {
    let done = false;
    accessLog(log).call({} as never, request as FastifyRequest, reply as FastifyReply, () => (done = true));
    assert.equal(done, true, 'the hook calls done');
  }
  const request = (trace?: RequestTrace, url = '/graphql?documentId=sha256:x') =>
    ({ id: 'req-1', method: 'POST', url, edge: trace === undefined ? undefined : { trace } }) as unknown as FastifyRequest;

  it('says what was asked, how it ended and how long it took, without the query string', () => {
    const { log, lines } = capture();
    line(log, request({ operationName: 'Predict', operationType: 'mutation', errorCodes: [], written: true }), {
      statusCode: 200,
      elapsedTime: 1.23456,
    });
    assert.deepEqual(lines, [
      {
        fields: {
          requestId: 'req-1',
          method: 'POST',
          path: '/graphql',
          status: 200,
          durationMs: 1.235,
          operation: 'Predict',
          outcome: 'ok',
        },
        msg: 'request',
      },
    ]);
  });

  it('names the operation type when the operation has no name, and lists each error code once', () => {
    const { log, lines } = capture();
    line(log, request({ operationType: 'query', errorCodes: ['RATE_LIMITED', 'BAD_USER_INPUT', 'RATE_LIMITED'], written: true }), {
      statusCode: 200,
      elapsedTime: 2,
    });
    assert.equal(lines[0].fields.operation, 'query');
    assert.equal(lines[0].fields.outcome, 'error');
    assert.deepEqual(lines[0].fields.errorCodes, ['RATE_LIMITED', 'BAD_USER_INPUT']);
  });

  it('calls a status of 400 or more an error even without codes; a request outside /graphql has no trace', () => {
    const { log, lines } = capture();
    line(log, request(undefined, '/nope'), { statusCode: 404, elapsedTime: 0.1 });
    line(log, request(undefined, '/healthz'), { statusCode: 399, elapsedTime: 0.1 });
    line(log, request({ errorCodes: [], written: true }), { statusCode: 400, elapsedTime: 0.1 });
    assert.equal(lines[0].fields.outcome, 'error');
    assert.equal(lines[0].fields.operation, undefined);
    assert.equal('errorCodes' in lines[0].fields, false);
    assert.equal(lines[1].fields.outcome, 'ok');
    assert.equal(lines[1].fields.path, '/healthz');
    assert.equal(lines[2].fields.outcome, 'error', 'a 400 without codes (a refused body) is an error');
  });

  it('writes nothing when info is off (LOG_LEVEL=warn), and still lets the request go on', () => {
    const { log, lines } = capture(false);
    line(log, request({ errorCodes: [], written: true }), { statusCode: 200, elapsedTime: 1 });
    assert.deepEqual(lines, []);
  });
});
