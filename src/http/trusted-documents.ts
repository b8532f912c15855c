import { Readable } from 'node:stream';
import type { FastifyRequest, preParsingHookHandler } from 'fastify';
import { Kind, parse, type SelectionSetNode } from 'graphql';
import type { TrustedDocumentsConfig } from '../config';
import { ErrorCode, HttpError } from '../errors';
import type { TrustedDocument, TrustedDocuments } from '../protection/trusted-documents';
import { LARGE_BODY_BYTES } from './bulk-lane';

/**
 * The edge of trusted documents (docs/trusted-documents.md). A request names a document by
 * `documentId: "sha256:<hex>"` (GraphQL-over-HTTP persisted documents; POST body or GET search param)
 * or by Apollo Client's `extensions.persistedQuery.sha256Hash`; the gate puts the manifest's text in
 * `query` before Apollo sees the request, and Apollo's document store (TrustedDocuments.documentStore)
 * hands back the document prepared at load, so nothing is lexed, parsed, validated or measured again.
 *
 * In `require` mode a request that carries document text is refused with 403 TRUSTED_DOCUMENT_REQUIRED:
 * a POST body right after its JSON parse, and one that opens with `{"query":"` before it is even checked
 * as UTF-8 or parsed as JSON, which is where a hostile megabyte document would otherwise cost most.
 */
export class TrustedDocumentGate {
  /** Bodies the gate resolved to a trusted document: the edge's query-limit gate leaves them alone. */
  private readonly resolved = new WeakSet<object>();
  /** Free text in require mode: none, or only introspection (INTROSPECTION=true set explicitly, for Sandbox). */
  private readonly refuseAllText: boolean;

  constructor(
    private readonly documents: TrustedDocuments,
    private readonly config: TrustedDocumentsConfig,
    private readonly maxTokens: number,
  ) {
    this.refuseAllText = config.mode === 'require' && !config.introspectionInRequire;
  }

  /**
   * Before the body is decoded or parsed: in require mode, a JSON body whose first member is a `query`
   * string is free text. Only a body that opens exactly so is judged here; any other shape is judged
   * after its JSON parse. With introspection allowed, small bodies go on (an introspection query is small).
   */
  refuseRaw(body: Buffer, large: boolean): HttpError | undefined {
    if (this.config.mode !== 'require' || (!this.refuseAllText && !large)) return undefined;
    return opensWithQuery(body) ? this.textRefused() : undefined;
  }

  /**
   * preParsing, before the body is read: in require mode (introspection text not allowed), a large or
   * chunked plain body whose first bytes open with `{"query":"` is refused from its first chunk; the rest is
   * discarded unbuffered as it arrives instead of being gathered into a megabyte buffer first. What the
   * first chunk cannot tell goes on, and refuseRaw / resolveBody judge the whole body.
   */
  readonly refuseEarly: preParsingHookHandler = (request, _reply, payload, done) => {
    const encoding = request.headers['content-encoding'];
    const length = Number(request.headers['content-length'] ?? NaN);
    const large =
      length >= LARGE_BODY_BYTES || (request.headers['content-length'] === undefined && request.headers['transfer-encoding'] !== undefined);
    if (!this.refuseAllText || !large || (encoding !== undefined && encoding !== 'identity')) return done(null, payload);
    const settle = (chunk: Buffer | null, rest: Readable = payload) => {
      payload.off('readable', onReadable);
      payload.off('error', onError);
      payload.off('end', onEnd);
      if (chunk !== null && opensWithQuery(chunk)) {
        payload.resume(); // discard the rest as it arrives
        return done(this.textRefused());
      }
      if (chunk !== null) payload.unshift(chunk);
      done(null, rest);
    };
    const onReadable = () => {
      const chunk = payload.read() as Buffer | null;
      if (chunk !== null) settle(chunk);
    };
    const onError = () => settle(null);
    // A body that ends before its first byte (an empty chunked body): the stream has already ended, so the
    // parser gets an empty one of its own to read (and answers the empty body); without this the request hung.
    const onEnd = () => settle(null, Readable.from([]));
    payload.on('readable', onReadable);
    payload.once('error', onError);
    payload.once('end', onEnd);
  };

  /** After the JSON parse: the body Apollo should see, or the refusal. */
  resolveBody(body: unknown): unknown {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
    const request = body as Record<string, unknown>;
    const doc = this.named(request.documentId, request.extensions, request.query);
    if (doc instanceof HttpError) throw doc;
    if (doc !== undefined) {
      const out: Record<string, unknown> = { ...request, query: doc.text };
      delete out.documentId;
      const extensions = withoutPersistedQuery(request.extensions);
      if (extensions === undefined) delete out.extensions;
      else out.extensions = extensions;
      this.resolved.add(out);
      return out;
    }
    if (typeof request.query === 'string') {
      this.checkText(request.query);
      // An unknown persistedQuery hash sent with its text, outside require mode: plain free text (APQ
      // registration stays off, and Apollo would otherwise answer PERSISTED_QUERY_NOT_SUPPORTED).
      if (hasPersistedQuery(request.extensions)) {
        const out: Record<string, unknown> = { ...request, extensions: withoutPersistedQuery(request.extensions) };
        if (out.extensions === undefined) delete out.extensions;
        return out;
      }
    }
    return body;
  }

  /** Whether `body` is one resolveBody made from a trusted document. */
  isTrusted(body: unknown): boolean {
    return typeof body === 'object' && body !== null && this.resolved.has(body);
  }

  /**
   * preHandler, GET: resolves `?documentId=` (or `?extensions=` with a persistedQuery hash) by rewriting
   * the URL Apollo reads its search parameters from; refuses free text in require mode. True when the
   * request now names a trusted document.
   */
  resolveGet(request: FastifyRequest): boolean {
    const params = request.query as Record<string, unknown> | undefined;
    if (params === undefined) return false;
    let extensions: unknown;
    if (typeof params.extensions === 'string') {
      try {
        extensions = JSON.parse(params.extensions);
      } catch {
        extensions = undefined; // Apollo answers the malformed parameter
      }
    }
    const doc = this.named(params.documentId, extensions, params.query);
    if (doc instanceof HttpError) throw doc;
    if (doc === undefined) {
      if (typeof params.query === 'string') this.checkText(params.query);
      return false;
    }
    const search = new URLSearchParams();
    search.set('query', doc.text);
    for (const name of ['operationName', 'variables'] as const) {
      if (typeof params[name] === 'string') search.set(name, params[name]);
    }
    const rest = withoutPersistedQuery(extensions);
    if (rest !== undefined) search.set('extensions', JSON.stringify(rest));
    request.raw.url = `${request.raw.url!.split('?')[0]}?${search.toString()}`;
    return true;
  }

  /** The trusted document a request names, undefined when it names none, or why it cannot be served. */
  private named(documentId: unknown, extensions: unknown, query: unknown): TrustedDocument | HttpError | undefined {
    if (documentId !== undefined && documentId !== null) {
      if (typeof query === 'string') {
        return new HttpError(400, ErrorCode.BAD_REQUEST, 'Send either "documentId" or "query", not both');
      }
      if (typeof documentId !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(documentId)) {
        return new HttpError(400, ErrorCode.BAD_REQUEST, '"documentId" must be "sha256:" and the 64 hex digits of the document\'s SHA-256');
      }
      return this.documents.byHex(documentId.slice('sha256:'.length)) ?? this.notFound(documentId);
    }
    if (!hasPersistedQuery(extensions)) return undefined;
    const hash = (extensions as { persistedQuery: { sha256Hash?: unknown } }).persistedQuery.sha256Hash;
    if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
      return new HttpError(400, ErrorCode.BAD_REQUEST, 'extensions.persistedQuery.sha256Hash must be 64 hex digits');
    }
    const doc = this.documents.byHex(hash);
    if (doc !== undefined) return doc;
    // With its text, outside require mode, an unknown hash is free text (see resolveBody).
    return typeof query === 'string' && this.config.mode !== 'require' ? undefined : this.notFound(`sha256:${hash}`);
  }

  /** Free text: refused in require mode unless it is introspection that INTROSPECTION=true allows. */
  private checkText(query: string): void {
    if (this.config.mode !== 'require') return;
    if (this.refuseAllText || !introspectionOnly(query, this.maxTokens)) throw this.textRefused();
  }

  private textRefused(): HttpError {
    return new HttpError(
      403,
      ErrorCode.TRUSTED_DOCUMENT_REQUIRED,
      'This server runs only trusted documents (TRUSTED_DOCUMENTS=require): send {"documentId": "sha256:<hex>", "variables": {...}} ' +
        'from a client built with its manifest, not the document text',
      this.config.introspectionInRequire ? { introspection: 'allowed' } : {},
    );
  }

  private notFound(documentId: string): HttpError {
    return new HttpError(
      400,
      ErrorCode.TRUSTED_DOCUMENT_NOT_FOUND,
      `No trusted document ${documentId}: this server's manifests do not hold it. Rebuild the client against this ` +
        "API's operations (npm run codegen), or have the operator add your frontend's manifest to TRUSTED_DOCUMENTS_FILE",
      { documentId },
    );
  }
}

const QUERY_OPENING = Buffer.from('{"query":"');

/** Whether a JSON body starts (after whitespace) with `{"query":"`: a document sent as text. */
function opensWithQuery(body: Buffer): boolean {
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  return body.length - i >= QUERY_OPENING.length && body.compare(QUERY_OPENING, 0, QUERY_OPENING.length, i, i + QUERY_OPENING.length) === 0;
}

function hasPersistedQuery(extensions: unknown): boolean {
  return typeof extensions === 'object' && extensions !== null && 'persistedQuery' in extensions;
}

function withoutPersistedQuery(extensions: unknown): Record<string, unknown> | undefined {
  if (typeof extensions !== 'object' || extensions === null || Array.isArray(extensions)) return undefined;
  const { persistedQuery: _dropped, ...rest } = extensions as Record<string, unknown>;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

const INTROSPECTION_FIELDS = new Set(['__schema', '__type', '__typename']);

/** Every operation selects only __schema, __type and __typename at its root (fragments followed). */
function introspectionOnly(query: string, maxTokens: number): boolean {
  let document;
  try {
    document = parse(query, { noLocation: true, maxTokens });
  } catch {
    return false;
  }
  const fragments = new Map<string, SelectionSetNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def.selectionSet);
  const seen = new Set<string>();
  const rootOnly = (set: SelectionSetNode): boolean =>
    set.selections.every((sel) => {
      if (sel.kind === Kind.FIELD) return INTROSPECTION_FIELDS.has(sel.name.value);
      if (sel.kind === Kind.INLINE_FRAGMENT) return rootOnly(sel.selectionSet);
      const name = sel.name.value;
      if (seen.has(name)) return true;
      seen.add(name);
      const fragment = fragments.get(name);
      return fragment !== undefined && rootOnly(fragment);
    });
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  return operations.length > 0 && operations.every((op) => rootOnly(op.selectionSet));
}
