// The HTTP edge's pieces without the app: client identity, the RateLimit headers, the body parser and
// Content-Encoding decoding, the content types /graphql accepts, and the errors the edge answers with.
// Functions are called directly, or mounted on a bare Fastify instance wired as src/app.ts wires /graphql
// (JSON parsers only, the decoding preParsing hook, the error handler) and driven with fastify.inject.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import fastifyCors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import { parse as parseGraphql } from 'graphql';
import type { TrustedDocumentsConfig, TrustedDocumentsMode } from '../src/config';
import { ErrorCode, HttpError } from '../src/errors';
import { decodeRequestBody, jsonBodyParser, JSON_CONTENT_TYPES } from '../src/http/body';
import { BulkLane, LARGE_BODY_BYTES } from '../src/http/bulk-lane';
import { apiKeyOf, identify, sha256Hex } from '../src/http/client-identity';
import { corsOriginRule } from '../src/http/cors';
import { errorPayload, errorReply, toHttpError } from '../src/http/errors';
import { rateLimitHeaders } from '../src/http/rate-limit-headers';
import { TrustedDocumentGate } from '../src/http/trusted-documents';
import type { BudgetState } from '../src/protection/rate-limiter';
import type { TrustedDocument, TrustedDocuments } from '../src/protection/trusted-documents';

describe('client identity', () => {
  const SHA_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

  it('sha256Hex is SHA-256 in lowercase hex', () => {
    assert.equal(sha256Hex('abc'), SHA_ABC);
  });

  it('the API key from x-api-key, else from Authorization: Bearer (any case, trimmed)', () => {
    assert.equal(apiKeyOf({ 'x-api-key': 'k1', authorization: 'Bearer k2' }), 'k1', 'x-api-key first');
    assert.equal(apiKeyOf({ 'x-api-key': '', authorization: 'Bearer k2' }), 'k2', 'an empty x-api-key is none');
    assert.equal(apiKeyOf({ 'x-api-key': ['k1', 'k3'] as never, authorization: 'Bearer k2' }), 'k2', 'a repeated header is none');
    assert.equal(apiKeyOf({ authorization: 'bearer   k2  ' }), 'k2');
    assert.equal(apiKeyOf({ authorization: 'BEARER k2' }), 'k2');
    assert.equal(apiKeyOf({ authorization: 'Bearer    ' }), undefined, 'no key after the scheme');
    assert.equal(apiKeyOf({ authorization: 'Basic a2V5' }), undefined);
    assert.equal(apiKeyOf({ authorization: 'Bearerk2' }), undefined, 'the scheme needs its space');
    assert.equal(apiKeyOf({ authorization: 'x Bearer k2' }), undefined, 'the scheme comes first');
    assert.equal(apiKeyOf({ authorization: '' }), undefined);
    assert.equal(apiKeyOf({}), undefined);
  });

  it('a request with a key counts against the key (hash prefix); without, against its address', () => {
    assert.deepEqual(identify({ 'x-api-key': 'abc' }, '10.0.0.1'), { clientId: `key:${SHA_ABC.slice(0, 16)}`, apiKeyHash: SHA_ABC });
    assert.deepEqual(identify({ authorization: 'Bearer abc' }, undefined), { clientId: 'key:ba7816bf8f01cfea', apiKeyHash: SHA_ABC });
    assert.deepEqual(identify({}, '10.0.0.1'), { clientId: 'ip:10.0.0.1', apiKeyHash: undefined });
    assert.deepEqual(identify({ authorization: 'Basic x' }, '::1'), { clientId: 'ip:::1', apiKeyHash: undefined });
    assert.deepEqual(identify({}, undefined), { clientId: 'ip:unknown', apiKeyHash: undefined });
  });
});

describe('RateLimit headers', () => {
  const NOW = 1_000_000;
  const b = (budget: BudgetState['budget'], limit: number, remaining: number, resetAt = NOW + 60_000, windowSeconds = 60): BudgetState => ({
    budget,
    limit,
    remaining,
    resetAt,
    windowSeconds,
  });

  it('none without a budget', () => {
    assert.equal(rateLimitHeaders([], NOW), undefined);
  });

  it('the policy lists every budget; RateLimit names the one with the smallest share left', () => {
    assert.deepEqual(
      rateLimitHeaders(
        [
          b('requests', 600, 599, NOW + 60_000),
          b('operations', 100, 2, NOW + 300_000, 900),
          b('rows', 100_000, 50_000, NOW + 300_000, 900),
        ],
        NOW,
      ),
      [
        ['ratelimit-policy', '"requests";q=600;w=60, "operations";q=100;w=900, "rows";q=100000;w=900'],
        ['ratelimit', '"operations";r=2;t=300'],
      ],
    );
    assert.deepEqual(rateLimitHeaders([b('requests', 600, 10), b('operations', 100, 50), b('rows', 10, 9)], NOW)![1], [
      'ratelimit',
      '"requests";r=10;t=60',
    ]);
    assert.deepEqual(rateLimitHeaders([b('requests', 600, 599), b('operations', 100, 90), b('rows', 10, 1)], NOW)![1], [
      'ratelimit',
      '"rows";r=1;t=60',
    ]);
  });

  it('a tie goes to the budget listed first; a share, not a count, decides', () => {
    assert.deepEqual(rateLimitHeaders([b('requests', 100, 50), b('operations', 10, 5)], NOW)![1], ['ratelimit', '"requests";r=50;t=60']);
    assert.deepEqual(rateLimitHeaders([b('requests', 1000, 20), b('operations', 10, 5)], NOW)![1], ['ratelimit', '"requests";r=20;t=60']);
  });

  it('a later standing of the same budget replaces the earlier one, listed once', () => {
    const headers = rateLimitHeaders(
      [b('requests', 600, 599), b('operations', 10, 9), b('rows', 100, 99), b('operations', 10, 8), b('rows', 100, 97)],
      NOW,
    );
    assert.deepEqual(headers, [
      ['ratelimit-policy', '"requests";q=600;w=60, "operations";q=10;w=60, "rows";q=100;w=60'],
      ['ratelimit', '"operations";r=8;t=60'],
    ]);
  });

  it('t: whole seconds to the reset, rounded up, never negative; from the clock by default', () => {
    const t = (resetAt: number) => rateLimitHeaders([b('requests', 10, 5, resetAt)], NOW)![1][1];
    assert.equal(t(NOW + 1_000), '"requests";r=5;t=1');
    assert.equal(t(NOW + 1_001), '"requests";r=5;t=2');
    assert.equal(t(NOW + 1), '"requests";r=5;t=1');
    assert.equal(t(NOW), '"requests";r=5;t=0');
    assert.equal(t(NOW - 5_000), '"requests";r=5;t=0', 'a window that already ended');
    assert.equal(rateLimitHeaders([b('requests', 10, 5, Date.now() + 30_000)])![1][1], '"requests";r=5;t=30');
  });
});

describe('jsonBodyParser', () => {
  /** Parses `body`; the answer if it came in the caller's turn, else undefined. */
  const parseNow = (body: Buffer, lane = new BulkLane()) => {
    let out: { err: Error | null; body?: unknown } | undefined;
    jsonBodyParser(lane)({} as never, body, (err, parsed) => (out = { err, body: parsed }));
    return out;
  };
  const parse = (body: Buffer) => parseNow(body)!;
  const refusal = (body: Buffer) => {
    const { err } = parse(body);
    assert.ok(err instanceof HttpError, 'an HttpError');
    return [err.status, err.code, err.message];
  };
  /** Parses a large body in the lane: nothing in the caller's turn, the answer after two more turns. */
  const parseLarge = async (body: Buffer) => {
    let out: { err: Error | null; body?: unknown } | undefined;
    jsonBodyParser(new BulkLane())({} as never, body, (err, parsed) => (out = { err, body: parsed }));
    assert.equal(out, undefined, 'not in the caller’s turn');
    for (let turns = 0; out === undefined && turns < 5; turns++) await nextTurn();
    return out!;
  };
  const jsonOfLength = (length: number) => Buffer.from(JSON.stringify({ query: 'x'.repeat(length - 12) }));

  it('parses JSON from the body', () => {
    assert.deepEqual(parse(Buffer.from('{"query":"{ a }","n":1.5}')), { err: null, body: { query: '{ a }', n: 1.5 } });
    assert.deepEqual(parse(Buffer.from('{"query":"é ✓"}')), { err: null, body: { query: 'é ✓' } });
  });

  it('refuses invalid UTF-8, an empty body and malformed JSON with 400 BAD_REQUEST', () => {
    assert.deepEqual(refusal(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])), [400, 'BAD_REQUEST', 'Request body is not valid UTF-8']);
    assert.deepEqual(
      refusal(Buffer.from([0x22, 0xc3, 0x22])),
      [400, 'BAD_REQUEST', 'Request body is not valid UTF-8'],
      'a truncated sequence',
    );
    assert.deepEqual(refusal(Buffer.alloc(0)), [400, 'BAD_REQUEST', 'Request body is empty; send a JSON object with a "query"']);
    let jsonError = '';
    try {
      JSON.parse('{"query":');
    } catch (err) {
      jsonError = (err as Error).message;
    }
    assert.deepEqual(refusal(Buffer.from('{"query":')), [400, 'BAD_REQUEST', `Request body is not valid JSON: ${jsonError}`]);
  });

  it('a body under LARGE_BODY_BYTES is parsed at once; one of LARGE_BODY_BYTES or more in the bulk lane', async () => {
    const small = jsonOfLength(LARGE_BODY_BYTES - 1);
    assert.equal(small.length, LARGE_BODY_BYTES - 1);
    assert.equal((parseNow(small)?.body as { query: string }).query.length, LARGE_BODY_BYTES - 13);
    const large = jsonOfLength(LARGE_BODY_BYTES);
    const parsed = await parseLarge(large);
    assert.deepEqual([parsed.err, (parsed.body as { query: string }).query.length], [null, LARGE_BODY_BYTES - 12]);
  });

  it('a large body is refused in the lane for the same reasons, answered once', async () => {
    const badUtf8 = Buffer.concat([jsonOfLength(LARGE_BODY_BYTES), Buffer.from([0xff])]);
    const answers: Array<Error | null> = [];
    jsonBodyParser(new BulkLane())({} as never, badUtf8, (err) => void answers.push(err));
    for (let turns = 0; turns < 5; turns++) await nextTurn();
    assert.deepEqual(
      answers.map((e) => e?.message),
      ['Request body is not valid UTF-8'],
      'no JSON step after a refusal',
    );
    const malformed = jsonOfLength(LARGE_BODY_BYTES).subarray(0, LARGE_BODY_BYTES);
    malformed[malformed.length - 1] = 0x20;
    const { err } = await parseLarge(malformed);
    assert.ok(err instanceof HttpError);
    assert.match(err.message, /^Request body is not valid JSON: /);
  });

  it('a step that throws in the lane still answers the request, with what was thrown', async () => {
    const calls: Array<Error | null> = [];
    const boom = new Error('the reply is gone');
    jsonBodyParser(new BulkLane())({} as never, jsonOfLength(LARGE_BODY_BYTES), (err) => {
      calls.push(err);
      if (calls.length === 1) throw boom;
    });
    for (let turns = 0; calls.length < 2 && turns < 5; turns++) await nextTurn();
    assert.deepEqual(calls, [null, boom]);
  });
});

describe('jsonBodyParser with trusted documents', () => {
  const TEXT = 'query Health { health { status } }';
  const HEX = createHash('sha256').update(TEXT).digest('hex');
  const DOC: TrustedDocument = { id: `sha256:${HEX}`, hash: HEX, text: TEXT, document: parseGraphql(TEXT), file: '/manifests/web.json' };
  const documents = { byHex: (hex: string) => (hex === HEX ? DOC : undefined) } as unknown as TrustedDocuments;
  const gate = (mode: TrustedDocumentsMode) => {
    const config: TrustedDocumentsConfig = { mode, files: ['/manifests/web.json'], introspectionInRequire: false };
    return new TrustedDocumentGate(documents, config, 1000);
  };
  /** Every answer the parser gives for `body` under `trusted`, after the turns a large body takes. */
  const answers = async (trusted: TrustedDocumentGate, body: string | Buffer) => {
    const out: Array<{ err: Error | null; body?: unknown }> = [];
    jsonBodyParser(new BulkLane(), trusted)({} as never, Buffer.from(body), (err, parsed) => void out.push({ err, body: parsed }));
    for (let turns = 0; turns < 5; turns++) await nextTurn();
    return out;
  };
  const refusedWith = async (trusted: TrustedDocumentGate, body: string | Buffer) => {
    const out = await answers(trusted, body);
    assert.equal(out.length, 1, 'answered once');
    const [{ err, body: parsed }] = out;
    assert.ok(err instanceof HttpError, `an HttpError, got ${String(err)}`);
    assert.equal(parsed, undefined);
    return [err.status, err.code];
  };
  const TEXT_REFUSED = [403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED];

  it('require mode: a documentId is resolved to its document, once, as the gate made it', async () => {
    const g = gate('require');
    const out = await answers(g, JSON.stringify({ documentId: DOC.id, variables: { a: 1 } }));
    assert.deepEqual(out, [{ err: null, body: { variables: { a: 1 }, query: TEXT } }]);
    assert.ok(g.isTrusted(out[0]!.body), 'the very object resolveBody returned');
  });

  it('allow mode: free text passes as parsed', async () => {
    const body = { query: '{ health { status } }', variables: { a: 1 } };
    assert.deepEqual(await answers(gate('allow'), JSON.stringify(body)), [{ err: null, body }]);
  });

  it('require mode: text refused before the JSON parse when the body opens with {"query":", after it otherwise', async () => {
    assert.deepEqual(await refusedWith(gate('require'), '{"query":"{ health'), TEXT_REFUSED, 'not even valid JSON');
    assert.deepEqual(await refusedWith(gate('require'), ' {"query":"{ health { status } }"}'), TEXT_REFUSED);
    assert.deepEqual(await refusedWith(gate('require'), '{"operationName":null,"query":"{ health { status } }"}'), TEXT_REFUSED);
  });

  it('invalid JSON, invalid UTF-8 and an unknown id under a gate: 400, answered once', async () => {
    for (const mode of ['allow', 'require'] as const) {
      assert.deepEqual(await refusedWith(gate(mode), '{"documentId":'), [400, ErrorCode.BAD_REQUEST], mode);
      assert.deepEqual(await refusedWith(gate(mode), Buffer.from([0x7b, 0xff, 0x7d])), [400, ErrorCode.BAD_REQUEST], mode);
      assert.deepEqual(
        await refusedWith(gate(mode), JSON.stringify({ documentId: `sha256:${'a'.repeat(64)}` })),
        [400, ErrorCode.TRUSTED_DOCUMENT_NOT_FOUND],
        mode,
      );
    }
  });

  it('a large body goes through the gate in the bulk lane as well', async () => {
    const query = `{ health { status } }${' '.repeat(LARGE_BODY_BYTES)}`;
    assert.deepEqual(await answers(gate('allow'), JSON.stringify({ query })), [{ err: null, body: { query } }]);
    const named = JSON.stringify({ documentId: DOC.id, operationName: 'Health', pad: ' '.repeat(LARGE_BODY_BYTES) });
    assert.deepEqual(await answers(gate('require'), named), [
      { err: null, body: { operationName: 'Health', pad: ' '.repeat(LARGE_BODY_BYTES), query: TEXT } },
    ]);
  });

  it("the body delivered is resolveBody's result; what resolveBody throws is the answer", async () => {
    const seen: unknown[] = [];
    const raw: Array<[string, boolean]> = [];
    const resolved = { query: '{ resolved }' };
    const fake = {
      refuseRaw: (body: Buffer, large: boolean) => void raw.push([body.toString(), large]),
      resolveBody: (body: unknown) => {
        seen.push(body);
        return resolved;
      },
    } as unknown as TrustedDocumentGate;
    const out = await answers(fake, '{"documentId":"x"}');
    assert.equal(out.length, 1);
    assert.equal(out[0]!.err, null);
    assert.equal(out[0]!.body, resolved);
    assert.deepEqual(seen, [{ documentId: 'x' }]);
    assert.deepEqual(raw, [['{"documentId":"x"}', false]]);

    const refusal = new HttpError(403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED, 'no');
    const throwing = {
      refuseRaw: () => undefined,
      resolveBody: () => {
        throw refusal;
      },
    } as unknown as TrustedDocumentGate;
    assert.deepEqual(await answers(throwing, '{"query":"{ a }"}'), [{ err: refusal, body: undefined }]);

    const rawRefusal = new HttpError(403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED, 'raw');
    const refusing = {
      refuseRaw: () => rawRefusal,
      resolveBody: () => assert.fail('not parsed after a raw refusal'),
    } as unknown as TrustedDocumentGate;
    assert.deepEqual(await answers(refusing, '{"query":"{ a }"}'), [{ err: rawRefusal, body: undefined }]);
  });
});

describe('the bulk lane, as the edge builds it', () => {
  it('by default a large step waits behind a small request in flight, for a while, not for ever', async () => {
    const lane = new BulkLane();
    const small = new EventEmitter() as unknown as ServerResponse;
    lane.trackSmall(small);
    let ran = false;
    lane.run(
      () => (ran = true),
      (err) => assert.fail(String(err)),
    );
    await nextTurn();
    await nextTurn();
    assert.equal(ran, false, 'deferred behind the small request');
    for (let waited = 0; !ran && waited < 2_000; waited += 10) await sleep(10);
    assert.equal(ran, true, 'the default deadline (50 ms) lets it go ahead');
  });
});

describe('the JSON media types /graphql accepts', () => {
  const accepted = (type: string) => JSON_CONTENT_TYPES.some((t) => (typeof t === 'string' ? t === type : t.test(type)));

  it('application/json and structured +json types, nothing else', () => {
    assert.equal(accepted('application/json'), true);
    assert.equal(accepted('application/graphql-response+json'), true);
    assert.equal(accepted('application/vnd.example.v2+json'), true);
    for (const type of [
      'text/json',
      'application/jsonp',
      'application/x-json',
      'application/+json',
      'application/a+json+xml',
      'xapplication/a+json',
      'application/a b+json',
      'text/plain',
    ]) {
      assert.equal(accepted(type), false, type);
    }
  });
});

/** A bare Fastify instance wired as src/app.ts wires /graphql; POST /graphql echoes the parsed body. */
async function edge(limit = 1_000): Promise<FastifyInstance> {
  const fastify = Fastify({ bodyLimit: limit });
  fastify.setErrorHandler((err, _request, reply) => errorReply(reply, toHttpError(err, limit)));
  fastify.removeAllContentTypeParsers();
  for (const type of JSON_CONTENT_TYPES) fastify.addContentTypeParser(type, { parseAs: 'buffer' }, jsonBodyParser(new BulkLane()));
  fastify.addHook('preParsing', decodeRequestBody(limit));
  fastify.post('/graphql', async (request) => ({ got: request.body }));
  await fastify.ready();
  return fastify;
}

describe('POST /graphql on a bare Fastify: content types and Content-Encoding', () => {
  let app: FastifyInstance;
  after(() => app?.close());
  const body = JSON.stringify({ query: '{ health { status } }', pad: 'x'.repeat(300) });
  const post = async (payload: string | Buffer, headers: Record<string, string> = {}) => {
    app ??= await edge();
    const res = await app.inject({ method: 'POST', url: '/graphql', payload, headers: { 'content-type': 'application/json', ...headers } });
    return { status: res.statusCode, json: res.json(), type: res.headers['content-type'] };
  };
  const errorOf = (r: { json: any }) => r.json.errors[0];

  it('accepts application/json (any charset parameter) and +json types; refuses others with 415', async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/graphql-response+json']) {
      const r = await post('{"query":"{ a }"}', { 'content-type': type });
      assert.deepEqual([r.status, r.json], [200, { got: { query: '{ a }' } }], type);
    }
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'text/json']) {
      const r = await post('{"query":"{ a }"}', { 'content-type': type });
      assert.equal(r.status, 415, type);
      assert.deepEqual(r.json, {
        errors: [{ message: 'POST /graphql needs Content-Type: application/json', extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } }],
      });
      assert.equal(r.type, 'application/json; charset=utf-8');
    }
  });

  it('decodes gzip, x-gzip, deflate and br; identity, an empty value and any case or spacing as well', async () => {
    const encoded: Record<string, Buffer> = {
      gzip: zlib.gzipSync(body),
      'x-gzip': zlib.gzipSync(body),
      deflate: zlib.deflateSync(body),
      br: zlib.brotliCompressSync(body),
      ' GZip ': zlib.gzipSync(body),
    };
    for (const [encoding, payload] of Object.entries(encoded)) {
      const r = await post(payload, { 'content-encoding': encoding });
      assert.deepEqual([r.status, r.json], [200, { got: JSON.parse(body) }], encoding);
    }
    for (const encoding of ['identity', '', ' Identity ']) {
      const r = await post(body, { 'content-encoding': encoding });
      assert.deepEqual([r.status, r.json], [200, { got: JSON.parse(body) }], `"${encoding}"`);
    }
  });

  it('refuses another encoding with 415, naming it and the supported ones', async () => {
    const r = await post(body, { 'content-encoding': 'Compress' });
    assert.equal(r.status, 415);
    assert.deepEqual(errorOf(r), {
      message: 'Content-Encoding "Compress" is not supported; send gzip, deflate, br or none',
      extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', supported: ['gzip', 'deflate', 'br', 'identity'] },
    });
  });

  it('applies the body limit to the decoded size: exactly the limit passes, one byte more is 413', async () => {
    const exact = JSON.stringify({ query: 'x'.repeat(1_000 - 12) });
    assert.equal(exact.length, 1_000);
    const ok = await post(zlib.gzipSync(exact), { 'content-encoding': 'gzip' });
    assert.deepEqual([ok.status, ok.json], [200, { got: JSON.parse(exact) }]);
    const over = JSON.stringify({ query: 'x'.repeat(1_000 - 11) });
    const r = await post(zlib.gzipSync(over), { 'content-encoding': 'gzip' });
    assert.equal(r.status, 413);
    assert.deepEqual(errorOf(r), {
      message: 'Request body exceeds 1000 bytes once decoded',
      extensions: { code: 'PAYLOAD_TOO_LARGE', limit: 1_000 },
    });
  });

  it('stops a compression bomb at the limit (413), however far it would inflate', async () => {
    const big = await edge(20_000);
    after(() => big.close());
    const bomb = zlib.gzipSync(Buffer.alloc(5_000_000, 0x20));
    assert.ok(bomb.length < 20_000, 'the encoded body is within the limit');
    const r = await big.inject({
      method: 'POST',
      url: '/graphql',
      payload: bomb,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    assert.equal(r.statusCode, 413);
    assert.deepEqual(r.json().errors[0], {
      message: 'Request body exceeds 20000 bytes once decoded',
      extensions: { code: 'PAYLOAD_TOO_LARGE', limit: 20_000 },
    });
  });

  it('refuses data that is not what Content-Encoding says with 400', async () => {
    const r = await post(body, { 'content-encoding': 'gzip' });
    assert.equal(r.status, 400);
    assert.deepEqual(errorOf(r), {
      message: 'Request body is not valid gzip data (Content-Encoding: gzip)',
      extensions: { code: 'BAD_REQUEST' },
    });
    const br = await post(Buffer.from('not brotli at all, no'), { 'content-encoding': 'br' });
    assert.deepEqual([br.status, errorOf(br).message], [400, 'Request body is not valid br data (Content-Encoding: br)']);
  });

  it('a truncated gzip body is refused, not answered with what was decoded', async () => {
    const whole = zlib.gzipSync(body);
    const r = await post(whole.subarray(0, whole.length - 10), { 'content-encoding': 'gzip' });
    assert.equal(r.status, 400);
  });

  it('the encoded body over the limit is refused by size before decoding (413)', async () => {
    const r = await post(JSON.stringify({ query: 'x'.repeat(2_000) }));
    assert.equal(r.status, 413);
    assert.deepEqual(errorOf(r), { message: 'Request body exceeds 1000 bytes', extensions: { code: 'PAYLOAD_TOO_LARGE', limit: 1_000 } });
  });

  it('invalid UTF-8 and malformed JSON through the route: 400 BAD_REQUEST', async () => {
    const bad = await post(Buffer.from([0x7b, 0xff, 0x7d]));
    assert.deepEqual(
      [bad.status, errorOf(bad)],
      [400, { message: 'Request body is not valid UTF-8', extensions: { code: 'BAD_REQUEST' } }],
    );
    const gzBad = await post(zlib.gzipSync(Buffer.from([0x7b, 0xff, 0x7d])), { 'content-encoding': 'gzip' });
    assert.deepEqual([gzBad.status, errorOf(gzBad).message], [400, 'Request body is not valid UTF-8'], 'checked after decoding');
  });
});

describe('toHttpError: what the edge answers for each error', () => {
  const shape = (e: HttpError) => [e.status, e.code, e.message, e.extensions];

  it('our HttpErrors pass as they are', () => {
    const own = new HttpError(429, ErrorCode.RATE_LIMITED, 'slow', { budget: 'requests' }, { 'retry-after': '3' });
    assert.equal(toHttpError(own, 10), own);
  });

  it("Fastify's body, content-type and static-file errors map to catalogue codes", () => {
    assert.deepEqual(shape(toHttpError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }, 1_048_576)), [
      413,
      'PAYLOAD_TOO_LARGE',
      'Request body exceeds 1048576 bytes',
      { limit: 1_048_576 },
    ]);
    for (const code of ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'FST_ERR_CTP_INVALID_TYPE']) {
      assert.deepEqual(
        shape(toHttpError({ code, statusCode: 415 }, 10)),
        [415, 'UNSUPPORTED_MEDIA_TYPE', 'POST /graphql needs Content-Type: application/json', {}],
        code,
      );
    }
    assert.deepEqual(shape(toHttpError({ code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }, 10)), [
      400,
      'BAD_REQUEST',
      'Request body is empty; send a JSON object with a "query"',
      {},
    ]);
    assert.deepEqual(shape(toHttpError({ code: 'FST_STATIC_FORBIDDEN_PATH', statusCode: 403 }, 10)), [404, 'NOT_FOUND', 'Not found', {}]);
    assert.deepEqual(shape(toHttpError({ code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 }, 10)), [
      400,
      'BAD_REQUEST',
      'Request body length does not match Content-Length',
      {},
    ]);
  });

  it('other 4xx keep their status as BAD_REQUEST, 403 reads as not found, the rest is a bare 500', () => {
    assert.deepEqual(shape(toHttpError({ statusCode: 403, message: 'Forbidden path' }, 10)), [404, 'NOT_FOUND', 'Not found', {}]);
    assert.deepEqual(shape(toHttpError({ statusCode: 400, message: 'Bad URL' }, 10)), [400, 'BAD_REQUEST', 'Bad URL', {}]);
    assert.deepEqual(shape(toHttpError({ statusCode: 499 }, 10)), [499, 'BAD_REQUEST', 'Bad request', {}]);
    assert.deepEqual(shape(toHttpError({ statusCode: 431, message: 'Headers too large' }, 10)), [
      431,
      'BAD_REQUEST',
      'Headers too large',
      {},
    ]);
    const internal = [500, 'INTERNAL_SERVER_ERROR', 'Internal server error', {}];
    assert.deepEqual(shape(toHttpError({ statusCode: 500, message: 'db password wrong' }, 10)), internal);
    assert.deepEqual(shape(toHttpError({ statusCode: 399, message: 'odd' }, 10)), internal);
    assert.deepEqual(shape(toHttpError({ statusCode: '400', message: 'a string status' }, 10)), internal);
    assert.deepEqual(shape(toHttpError(new Error('boom'), 10)), internal);
  });
});

describe('errorPayload and errorReply', () => {
  it("set the error's status and headers and answer in the GraphQL errors shape", async () => {
    const fastify = Fastify();
    after(() => fastify.close());
    const err = new HttpError(
      429,
      ErrorCode.RATE_LIMITED,
      'Rate limit exceeded',
      { budget: 'requests' },
      { 'retry-after': '7', 'x-extra': 'y' },
    );
    fastify.get('/reply', (_request, reply) => errorReply(reply, err));
    fastify.get('/payload', (_request, reply) => reply.send(errorPayload(reply, new HttpError(404, ErrorCode.NOT_FOUND, 'gone'))));
    const r = await fastify.inject('/reply');
    assert.equal(r.statusCode, 429);
    assert.equal(r.headers['retry-after'], '7');
    assert.equal(r.headers['x-extra'], 'y');
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(r.body, '{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATE_LIMITED","budget":"requests"}}]}');
    const p = await fastify.inject('/payload');
    assert.deepEqual(
      [p.statusCode, p.headers['content-type'], p.json()],
      [404, 'application/json; charset=utf-8', { errors: [{ message: 'gone', extensions: { code: 'NOT_FOUND' } }] }],
    );
  });
});

describe('CORS origins', () => {
  it('an origin is allowed when it is listed exactly; no prefix, suffix, case or port variant', () => {
    const allowed = corsOriginRule(['https://app.example.com', 'http://localhost:5173']);
    assert.equal(allowed('https://app.example.com'), true);
    assert.equal(allowed('http://localhost:5173'), true);
    for (const origin of [
      'https://app.example.com.evil.net',
      'https://evil.app.example.com',
      'https://app.example.co',
      'http://app.example.com',
      'https://app.example.com:443',
      'HTTPS://APP.EXAMPLE.COM',
      'http://localhost:5174',
      'null',
      '',
      '*',
    ]) {
      assert.equal(allowed(origin), false, origin);
    }
    assert.equal(allowed(undefined), false, 'no Origin header');
    assert.equal(corsOriginRule([])('https://app.example.com'), false, 'none listed: none allowed');
  });

  it('* allows every origin, and requests without one', () => {
    const any = corsOriginRule(['https://app.example.com', '*']);
    assert.equal(any('https://elsewhere.example'), true);
    assert.equal(any(undefined), true);
  });

  it('through @fastify/cors: the listed origin is echoed, another gets no CORS headers', async () => {
    const fastify = Fastify();
    after(() => fastify.close());
    const allowOrigin = corsOriginRule(['https://app.example.com']);
    await fastify.register(fastifyCors, { origin: (origin, cb) => cb(null, allowOrigin(origin)), methods: ['GET', 'POST', 'OPTIONS'] });
    fastify.post('/graphql', async () => ({ ok: true }));
    const preflight = (origin: string) =>
      fastify.inject({ method: 'OPTIONS', url: '/graphql', headers: { origin, 'access-control-request-method': 'POST' } });
    const ok = await preflight('https://app.example.com');
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
    const evil = await preflight('https://app.example.com.evil.net');
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
  });
});
