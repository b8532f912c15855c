import { isUtf8 } from 'node:buffer';
import { PassThrough, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyRequest, preParsingHookHandler } from 'fastify';
import { ErrorCode, HttpError } from '../errors';
import { LARGE_BODY_BYTES, type BulkLane } from './bulk-lane';
import type { TrustedDocumentGate } from './trusted-documents';

/** JSON media types /graphql accepts: application/json and structured `+json` types (graphql-response+json). */
export const JSON_CONTENT_TYPES: ReadonlyArray<string | RegExp> = ['application/json', /^application\/[a-z0-9.-]+\+json$/];

type ParserDone = (err: Error | null, body?: unknown) => void;

/**
 * The JSON body parser. Parses strictly: invalid UTF-8 is refused (Fastify's default parser would replace
 * it with U+FFFD and answer a different question than was asked), malformed JSON is the client's fault
 * (400). A body of LARGE_BODY_BYTES or more is decoded and parsed as two steps of the bulk lane.
 * With trusted documents, the gate judges the body before decoding and right after the JSON parse
 * (src/http/trusted-documents.ts): free text in require mode never reaches GraphQL.
 */
export function jsonBodyParser(
  lane: BulkLane,
  trusted?: TrustedDocumentGate,
): (request: FastifyRequest, body: Buffer, done: ParserDone) => void {
  return (_request, body, done) => {
    const large = body.length >= LARGE_BODY_BYTES;
    if (trusted) {
      const refused = trusted.refuseRaw(body, large);
      if (refused) return done(refused);
      done = resolveWith(trusted, done);
    }
    if (!large) {
      const text = decodeUtf8(body, done);
      if (text !== undefined) parseJson(text, done);
      return;
    }
    const fail = (err: unknown) => done(err as Error);
    lane.run(() => {
      const text = decodeUtf8(body, done);
      if (text !== undefined) lane.run(() => parseJson(text, done), fail);
    }, fail);
  };
}

/** The parse's outcome through the trusted-documents gate: an id becomes its document, refused text an error. */
function resolveWith(trusted: TrustedDocumentGate, done: ParserDone): ParserDone {
  return (err, value) => {
    if (err) return done(err);
    let resolved: unknown;
    try {
      resolved = trusted.resolveBody(value);
    } catch (refusal) {
      return done(refusal as Error);
    }
    done(null, resolved);
  };
}

function decodeUtf8(body: Buffer, done: ParserDone): string | undefined {
  // isUtf8 (simdutf) then toString: a fatal TextDecoder costs several times more per megabyte, and a
  // megabyte is what a hostile client sends.
  if (!isUtf8(body)) {
    done(new HttpError(400, ErrorCode.BAD_REQUEST, 'Request body is not valid UTF-8'));
    return undefined;
  }
  if (body.length === 0) {
    done(new HttpError(400, ErrorCode.BAD_REQUEST, 'Request body is empty; send a JSON object with a "query"'));
    return undefined;
  }
  return body.toString('utf8');
}

function parseJson(text: string, done: ParserDone): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    done(new HttpError(400, ErrorCode.BAD_REQUEST, `Request body is not valid JSON: ${(err as Error).message}`));
    return;
  }
  done(null, parsed);
}

const DECODERS: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * preParsing: decodes `Content-Encoding` gzip, deflate or br (415 for anything else) and applies the body
 * limit to the DECODED size. A compression bomb stops inflating as soon as the limit is passed (413): the
 * decoder is destroyed and the rest of the encoded body is drained unread, so the connection can still
 * carry the answer. Fastify's own limit still applies to the encoded bytes (Content-Length, received length).
 */
export function decodeRequestBody(limit: number): preParsingHookHandler {
  return (request, _reply, payload, done) => {
    const header = request.headers['content-encoding'];
    if (header === undefined) return done(null, payload);
    const encoding = header.trim().toLowerCase();
    if (encoding === '' || encoding === 'identity') return done(null, payload);
    const create = DECODERS[encoding];
    if (!create) {
      return done(
        new HttpError(
          415,
          ErrorCode.UNSUPPORTED_MEDIA_TYPE,
          `Content-Encoding "${header}" is not supported; send gzip, deflate, br or none`,
          {
            supported: ['gzip', 'deflate', 'br', 'identity'],
          },
        ),
      );
    }
    done(null, decode(payload, create(), limit, encoding));
  };
}

function decode(raw: Readable, decoder: zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress, limit: number, encoding: string): Readable {
  // Fastify compares Content-Length with the encoded length when the stream reports it.
  const out = new PassThrough() as PassThrough & { receivedEncodedLength: number };
  out.receivedEncodedLength = 0;
  let decoded = 0;
  let stopped = false;
  const stop = (err: HttpError) => {
    if (stopped) return;
    stopped = true;
    raw.unpipe(decoder);
    decoder.destroy();
    raw.resume(); // drain what is left, unread
    out.destroy(err);
  };
  raw.on('data', (chunk: Buffer) => (out.receivedEncodedLength += chunk.length));
  decoder.on('data', (chunk: Buffer) => {
    if (stopped) return;
    decoded += chunk.length;
    if (decoded > limit) {
      stop(new HttpError(413, ErrorCode.PAYLOAD_TOO_LARGE, `Request body exceeds ${limit} bytes once decoded`, { limit }));
      return;
    }
    out.write(chunk);
  });
  decoder.on('end', () => !stopped && out.end());
  decoder.on('error', () =>
    stop(new HttpError(400, ErrorCode.BAD_REQUEST, `Request body is not valid ${encoding} data (Content-Encoding: ${encoding})`)),
  );
  raw.pipe(decoder);
  return out;
}
