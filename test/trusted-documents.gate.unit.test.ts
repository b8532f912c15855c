import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parse } from 'graphql';
import type { TrustedDocumentsConfig, TrustedDocumentsMode } from '../src/config';
import { ErrorCode, HttpError } from '../src/errors';
import { LARGE_BODY_BYTES } from '../src/http/bulk-lane';
import { TrustedDocumentGate } from '../src/http/trusted-documents';
import type { TrustedDocument, TrustedDocuments } from '../src/protection/trusted-documents';

// The gate in front of Apollo (src/http/trusted-documents.ts) on its own: a manifest of one document and
// the three modes. What an attacker tries (text in require mode, ids that are almost ids, an id and text
// together, a persistedQuery hash with or without text) and what a frontend sends (an id with variables,
// operationName and extensions of its own) each have a case; the HTTP suite runs the same through a server.

const TEXT = 'query Health { health { status } }';
const HEX = createHash('sha256').update(TEXT).digest('hex');
const ID = `sha256:${HEX}`;
const OTHER_HEX = 'a'.repeat(64);
const DOC: TrustedDocument = { id: ID, hash: HEX, text: TEXT, document: parse(TEXT), file: '/manifests/web.json' };
const documents = { byHex: (hex: string) => (hex === HEX ? DOC : undefined) } as unknown as TrustedDocuments;

function gate(mode: TrustedDocumentsMode, introspectionInRequire = false): TrustedDocumentGate {
  const config: TrustedDocumentsConfig = { mode, files: ['/manifests/web.json'], introspectionInRequire };
  return new TrustedDocumentGate(documents, config, 1000);
}

/** Runs `fn` and returns the HttpError it threw (failing when it throws nothing or something else). */
function refusal(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HttpError, `expected an HttpError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

function assertRefused(err: HttpError | undefined, status: number, code: ErrorCode, message?: RegExp): void {
  assert.ok(err instanceof HttpError, 'expected a refusal');
  assert.equal(err.status, status);
  assert.equal(err.code, code);
  if (message) assert.match(err.message, message);
}

const INTROSPECTION = '{ __schema { queryType { name } } }';

describe('TrustedDocumentGate.resolveBody: a request naming a document', () => {
  it('puts the manifest text in query, drops documentId, keeps variables, operationName and other extensions', () => {
    const g = gate('allow');
    const body = {
      documentId: ID,
      variables: { a: 1 },
      operationName: 'Health',
      extensions: { persistedQuery: { version: 1 }, mine: true },
    };
    const out = g.resolveBody(body) as Record<string, unknown>;
    assert.deepEqual(out, { variables: { a: 1 }, operationName: 'Health', extensions: { mine: true }, query: TEXT });
    assert.equal(g.isTrusted(out), true);
    assert.equal(g.isTrusted(body), false, 'only the rewritten body is marked');
    assert.deepEqual(body.extensions, { persistedQuery: { version: 1 }, mine: true }, 'the parsed body is not changed in place');
  });

  it('drops extensions that held only the persistedQuery hash, and resolves that hash like an id', () => {
    const g = gate('require');
    const out = g.resolveBody({ extensions: { persistedQuery: { version: 1, sha256Hash: HEX } } }) as Record<string, unknown>;
    assert.deepEqual(out, { query: TEXT });
    assert.equal(g.isTrusted(out), true);
  });

  it('refuses an id sent with text, an id that is not sha256:<64 lowercase hex>, and an unknown id', () => {
    const g = gate('allow');
    assertRefused(
      refusal(() => g.resolveBody({ documentId: ID, query: TEXT })),
      400,
      ErrorCode.BAD_REQUEST,
      /either "documentId" or "query", not both/,
    );
    // [ID] reads as the id when turned into a string: only a string is an id.
    for (const documentId of [
      HEX,
      `sha256:${HEX.toUpperCase()}`,
      `sha256:${HEX}0`,
      `sha256:${HEX.slice(1)}`,
      `sha1:${HEX}`,
      ` ${ID}`,
      42,
      {},
      [ID],
    ]) {
      assertRefused(
        refusal(() => g.resolveBody({ documentId })),
        400,
        ErrorCode.BAD_REQUEST,
        /"documentId" must be "sha256:" and the 64 hex digits/,
      );
    }
    const unknown = refusal(() => g.resolveBody({ documentId: `sha256:${OTHER_HEX}` }));
    assertRefused(
      unknown,
      400,
      ErrorCode.TRUSTED_DOCUMENT_NOT_FOUND,
      /No trusted document sha256:a{64}: .*npm run codegen.*TRUSTED_DOCUMENTS_FILE/,
    );
    assert.deepEqual(unknown.extensions, { documentId: `sha256:${OTHER_HEX}` });
  });

  it('treats documentId null as absent', () => {
    assert.deepEqual(gate('allow').resolveBody({ documentId: null, query: TEXT }), { documentId: null, query: TEXT });
  });

  it('resolves an id whatever its extensions hold: none, null, an array (dropped), or an object', () => {
    const g = gate('require');
    for (const extensions of [undefined, null, ['x'], 'text']) {
      const out = g.resolveBody({ documentId: ID, ...(extensions === undefined ? {} : { extensions }) });
      assert.deepEqual(out, { query: TEXT }, JSON.stringify(extensions));
      assert.equal(g.isTrusted(out), true);
    }
    assert.deepEqual(g.resolveBody({ documentId: ID, extensions: { clientLibrary: 'urql' } }), {
      query: TEXT,
      extensions: { clientLibrary: 'urql' },
    });
  });

  it('reads extensions: null as no persistedQuery', () => {
    const body = { query: TEXT, extensions: null };
    assert.equal(gate('allow').resolveBody(body), body);
  });

  it('refuses a persistedQuery hash that is not 64 hex digits', () => {
    const g = gate('allow');
    for (const sha256Hash of [undefined, HEX.toUpperCase(), HEX.slice(2), `${HEX}00`, 7, [HEX]]) {
      assertRefused(
        refusal(() => g.resolveBody({ extensions: { persistedQuery: { version: 1, sha256Hash } } })),
        400,
        ErrorCode.BAD_REQUEST,
        /extensions.persistedQuery.sha256Hash must be 64 hex digits/,
      );
    }
  });

  it('an unknown persistedQuery hash: free text when the text comes with it outside require mode, else not found', () => {
    const pq = { persistedQuery: { version: 1, sha256Hash: OTHER_HEX } };
    const allow = gate('allow');
    const text = allow.resolveBody({ query: 'query Other { health { status } }', extensions: { ...pq, mine: 1 } }) as Record<
      string,
      unknown
    >;
    assert.deepEqual(text, { query: 'query Other { health { status } }', extensions: { mine: 1 } });
    assert.equal(allow.isTrusted(text), false, 'free text is not marked trusted: the edge still checks its limits');
    assert.deepEqual(allow.resolveBody({ query: 'query Other { x }', extensions: pq }), { query: 'query Other { x }' });
    const notFound = refusal(() => allow.resolveBody({ extensions: pq }));
    assertRefused(notFound, 400, ErrorCode.TRUSTED_DOCUMENT_NOT_FOUND, new RegExp(`No trusted document sha256:${OTHER_HEX}:`));
    assert.deepEqual(notFound.extensions, { documentId: `sha256:${OTHER_HEX}` });
    assertRefused(
      refusal(() => gate('require').resolveBody({ query: 'query Other { x }', extensions: pq })),
      400,
      ErrorCode.TRUSTED_DOCUMENT_NOT_FOUND,
    );
  });

  it('passes bodies that are not a JSON object through untouched, for Apollo to answer', () => {
    const g = gate('require');
    for (const body of [null, 'text', 3, [{ documentId: ID }]]) assert.equal(g.resolveBody(body), body);
    assert.equal(g.isTrusted(null), false);
    assert.equal(g.isTrusted('text'), false);
  });
});

describe('TrustedDocumentGate.resolveBody: document text', () => {
  it('passes free text in allow and off modes unchanged (the same object)', () => {
    for (const mode of ['allow', 'off'] as const) {
      const body = { query: 'query Any { health { status } }' };
      assert.equal(gate(mode).resolveBody(body), body);
    }
  });

  it('refuses free text in require mode with 403 TRUSTED_DOCUMENT_REQUIRED naming what to send', () => {
    const err = refusal(() => gate('require').resolveBody({ query: TEXT }));
    assertRefused(
      err,
      403,
      ErrorCode.TRUSTED_DOCUMENT_REQUIRED,
      /TRUSTED_DOCUMENTS=require.*"documentId": "sha256:<hex>".*from a client built with its manifest, not the document text$/,
    );
    assert.deepEqual(err.extensions, {});
  });

  it('passes a body with neither id nor text to Apollo in require mode (it answers the missing query)', () => {
    const body = { operationName: 'X', variables: {} };
    assert.equal(gate('require').resolveBody(body), body);
  });

  it('lets introspection-only text through in require mode only when INTROSPECTION=true allowed it', () => {
    assertRefused(
      refusal(() => gate('require').resolveBody({ query: INTROSPECTION })),
      403,
      ErrorCode.TRUSTED_DOCUMENT_REQUIRED,
    );
    const sandbox = gate('require', true);
    for (const query of [
      INTROSPECTION,
      '{ __type(name: "Query") { name } __typename }',
      'query A { ...F } fragment F on Query { __schema { types { name } } }',
      'query A { ... on Query { __typename } }',
      'query A { ...F ...F } fragment F on Query { __typename }',
      // A fragment cycle is invalid GraphQL (Apollo's validation refuses it); the gate must not loop on it.
      'query A { ...F } fragment F on Query { __typename ...F }',
    ]) {
      assert.deepEqual(sandbox.resolveBody({ query }), { query }, query);
    }
    for (const query of [
      '{ __schema { queryType { name } } health { status } }',
      'query A { ...F } fragment F on Query { health { status } }',
      'query A { ...Missing }',
      'query A { ... on Query { health { status } } }',
      'fragment F on Query { __typename }',
      'query A { __typename } query B { health { status } }',
      '{ __schema ',
    ]) {
      const err = refusal(() => sandbox.resolveBody({ query }));
      assertRefused(err, 403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED);
      assert.deepEqual(err.extensions, { introspection: 'allowed' }, query);
    }
  });

  it('stops at the token limit when reading introspection text (a huge document is refused, not parsed)', () => {
    const small = new TrustedDocumentGate(documents, { mode: 'require', files: [], introspectionInRequire: true }, 5);
    assertRefused(
      refusal(() => small.resolveBody({ query: '{ __schema { queryType { name } } }' })),
      403,
      ErrorCode.TRUSTED_DOCUMENT_REQUIRED,
    );
    const enough = new TrustedDocumentGate(documents, { mode: 'require', files: [], introspectionInRequire: true }, 100);
    assert.deepEqual(enough.resolveBody({ query: '{ __schema { queryType { name } } }' }), {
      query: '{ __schema { queryType { name } } }',
    });
  });
});

describe('TrustedDocumentGate.refuseRaw: before the JSON parse', () => {
  const opening = (prefix: string) => Buffer.from(`${prefix}{"query":"query X { health { status } }"}`);

  it('require mode: a body opening with {"query":" (after any JSON whitespace) is refused, any other opening is not judged', () => {
    const g = gate('require');
    for (const prefix of ['', ' ', '\n', '\r\n', '\t '])
      assertRefused(g.refuseRaw(opening(prefix), false), 403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED);
    assert.equal(g.refuseRaw(Buffer.from(`{"documentId":"${ID}"}`), false), undefined);
    assert.equal(g.refuseRaw(Buffer.from('{"variables":{},"query":"x"}'), false), undefined, 'judged after the parse instead');
    assert.equal(g.refuseRaw(Buffer.from('{"query":'), false), undefined, 'shorter than the opening');
    assert.equal(g.refuseRaw(Buffer.from('  {"query":'), true), undefined);
    assert.equal(g.refuseRaw(Buffer.from('x{"query":"'), false), undefined);
    assertRefused(g.refuseRaw(Buffer.from('{"query":"'), false), 403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED);
  });

  it('allow and off modes never refuse here', () => {
    for (const mode of ['allow', 'off'] as const) {
      assert.equal(gate(mode).refuseRaw(opening(''), true), undefined);
      assert.equal(gate(mode).refuseRaw(opening(''), false), undefined);
    }
  });

  it('with introspection allowed, small bodies go on to the parse (introspection is small) and large ones are refused', () => {
    const g = gate('require', true);
    assert.equal(g.refuseRaw(opening(''), false), undefined);
    assertRefused(g.refuseRaw(opening(''), true), 403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED);
    assert.equal(g.refuseRaw(Buffer.from(`{"documentId":"${ID}"}`), true), undefined);
  });
});

describe('TrustedDocumentGate.refuseEarly: the first chunk of a large body', () => {
  type Done = (err: Error | null, payload?: NodeJS.ReadableStream) => void;
  function run(
    g: TrustedDocumentGate,
    headers: Record<string, string>,
    chunks: string[],
  ): Promise<{ err: Error | null; body?: string; drained: boolean }> {
    const payload = new PassThrough();
    const request = { headers } as unknown as FastifyRequest;
    return new Promise((resolve) => {
      const done: Done = (err, stream) => {
        calls.push(err);
        if (err || stream === undefined) {
          // The refused body is discarded as it arrives: the stream flows to its end without a reader.
          payload.once('end', () => resolve({ err, drained: true }));
          return;
        }
        const parts: Buffer[] = [];
        stream.on('data', (c: Buffer) => parts.push(c));
        stream.on('end', () => resolve({ err, body: Buffer.concat(parts).toString(), drained: false }));
      };
      (g.refuseEarly as unknown as (r: FastifyRequest, reply: FastifyReply, p: PassThrough, d: Done) => void)(
        request,
        {} as FastifyReply,
        payload,
        done,
      );
      for (const c of chunks) payload.write(c);
      payload.end();
    });
  }
  const large = { 'content-length': String(LARGE_BODY_BYTES) };
  /** Every call of `done` in the current case: Fastify must be answered exactly once. */
  let calls: Array<Error | null> = [];

  it('refuses a large plain body opening with {"query":" from its first chunk and drains the rest', async () => {
    const result = await run(gate('require'), large, ['{"query":"', 'x'.repeat(1000), '"}']);
    assertRefused(result.err as HttpError, 403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED);
    assert.equal(result.drained, true);
    const chunked = await run(gate('require'), { 'transfer-encoding': 'chunked' }, ['{"query":"x"}']);
    assertRefused(chunked.err as HttpError, 403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED);
    const identity = await run(gate('require'), { ...large, 'content-encoding': 'identity' }, ['{"query":"x"}']);
    assertRefused(identity.err as HttpError, 403, ErrorCode.TRUSTED_DOCUMENT_REQUIRED);
  });

  it('hands any other large body on whole, its first chunk put back', async () => {
    const body = `{"documentId":"${ID}","variables":{"pad":"${'y'.repeat(500)}"}}`;
    calls = [];
    const result = await run(gate('require'), large, [body.slice(0, 20), body.slice(20)]);
    assert.equal(result.err, null);
    assert.equal(result.body, body);
    assert.equal(calls.length, 1);
  });

  it("answers Fastify once: a stream error after the first chunk is Fastify's, not the gate's", async () => {
    calls = [];
    const payload = new PassThrough();
    (gate('require').refuseEarly as unknown as (r: FastifyRequest, reply: FastifyReply, p: PassThrough, d: Done) => void)(
      { headers: large } as unknown as FastifyRequest,
      {} as FastifyReply,
      payload,
      (err) => calls.push(err),
    );
    payload.write(`{"documentId":"${ID}"`);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, [null]);
    payload.on('error', () => undefined);
    payload.destroy(new Error('socket hang up'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, [null]);
  });

  it('hands on a large chunked body that ends before any byte (the parser answers the empty body)', async () => {
    calls = [];
    const result = await run(gate('require'), { 'transfer-encoding': 'chunked' }, []);
    assert.equal(result.err, null);
    assert.equal(result.body, '');
    assert.equal(calls.length, 1);
  });

  it('leaves alone what it cannot judge from raw bytes or need not: small, encoded, allow mode, introspection allowed', async () => {
    const text = '{"query":"x"}';
    for (const [g, headers] of [
      [gate('require'), { 'content-length': String(LARGE_BODY_BYTES - 1) }],
      [gate('require'), {}],
      [gate('require'), { 'content-length': '20', 'transfer-encoding': 'chunked' }],
      [gate('require'), { ...large, 'content-encoding': 'gzip' }],
      [gate('allow'), large],
      [gate('require', true), large],
    ] as Array<[TrustedDocumentGate, Record<string, string>]>) {
      const result = await run(g, headers, [text]);
      assert.equal(result.err, null, JSON.stringify(headers));
      assert.equal(result.body, text);
    }
  });

  it('lets a body that errors before its first chunk go on (Fastify reports the stream error)', async () => {
    const payload = new PassThrough();
    const outcome = new Promise<{ err: Error | null; same: boolean }>((resolve) => {
      (gate('require').refuseEarly as unknown as (r: FastifyRequest, reply: FastifyReply, p: PassThrough, d: Done) => void)(
        { headers: large } as unknown as FastifyRequest,
        {} as FastifyReply,
        payload,
        (err, stream) => resolve({ err, same: stream === payload }),
      );
    });
    payload.on('error', () => undefined);
    payload.destroy(new Error('socket hang up'));
    assert.deepEqual(await outcome, { err: null, same: true });
  });
});

describe('TrustedDocumentGate.resolveGet: ?documentId= and ?extensions=', () => {
  function request(query: Record<string, unknown> | undefined, url = '/graphql?x=1'): FastifyRequest & { raw: { url: string } } {
    return { query, raw: { url } } as unknown as FastifyRequest & { raw: { url: string } };
  }
  const searchOf = (url: string) => Object.fromEntries(new URL(url, 'http://h').searchParams);

  it('rewrites the URL Apollo reads to carry the document text, variables, operationName and the other extensions', () => {
    const req = request({
      documentId: ID,
      variables: '{"a":1}',
      operationName: 'Health',
      extensions: JSON.stringify({ persistedQuery: { version: 1 }, mine: 2 }),
    });
    assert.equal(gate('require').resolveGet(req), true);
    assert.ok(req.raw.url.startsWith('/graphql?'));
    assert.deepEqual(searchOf(req.raw.url), { query: TEXT, variables: '{"a":1}', operationName: 'Health', extensions: '{"mine":2}' });
  });

  it('resolves a persistedQuery hash in ?extensions=, and drops extensions left empty', () => {
    const req = request({ extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: HEX } }) });
    assert.equal(gate('allow').resolveGet(req), true);
    assert.deepEqual(searchOf(req.raw.url), { query: TEXT });
  });

  it('leaves requests without an id alone (false), and judges their text by the mode', () => {
    assert.equal(gate('require').resolveGet(request(undefined)), false);
    const plain = request({ query: TEXT });
    assert.equal(gate('allow').resolveGet(plain), false);
    assert.equal(plain.raw.url, '/graphql?x=1');
    assertRefused(
      refusal(() => gate('require').resolveGet(request({ query: TEXT }))),
      403,
      ErrorCode.TRUSTED_DOCUMENT_REQUIRED,
    );
    assert.equal(gate('require').resolveGet(request({})), false);
    // Malformed ?extensions= is Apollo's to answer; without a query there is nothing for the gate to judge.
    assert.equal(gate('require').resolveGet(request({ extensions: '{not json' })), false);
  });

  it('refuses unknown and malformed ids as POST does', () => {
    assertRefused(
      refusal(() => gate('allow').resolveGet(request({ documentId: `sha256:${OTHER_HEX}` }))),
      400,
      ErrorCode.TRUSTED_DOCUMENT_NOT_FOUND,
    );
    assertRefused(
      refusal(() => gate('allow').resolveGet(request({ documentId: 'nope' }))),
      400,
      ErrorCode.BAD_REQUEST,
    );
    assertRefused(
      refusal(() => gate('allow').resolveGet(request({ documentId: ID, query: TEXT }))),
      400,
      ErrorCode.BAD_REQUEST,
    );
  });
});
