import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import {
  Kind,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import type { LimitsConfig, TrustedDocumentsConfig } from '../config';
import { checkQueryLimits } from './query-limits';

/**
 * One document of a manifest, prepared once when the manifest loads: parsed, validated against the
 * schema with every rule Apollo would apply, checked against the static query limits. A request that
 * names it skips all of that (see documentStore below) and runs the query graphql-jit compiled at load.
 */
export interface TrustedDocument {
  /** `sha256:<hex>`, as clients send it in `documentId`. */
  id: string;
  /** The hex digest alone: sha256 of `text`, which is also the key Apollo's document store is asked for. */
  hash: string;
  text: string;
  document: DocumentNode;
  /** The manifest it came from. */
  file: string;
}

/** A manifest that cannot be served: start-up stops with this (exit 2); a reload keeps the documents it had. */
export class TrustedDocumentsError extends Error {
  constructor(
    readonly file: string,
    readonly id: string | undefined,
    reason: string,
  ) {
    super(`Invalid trusted documents manifest ${file}${id === undefined ? '' : `: document ${id}`}: ${reason}`);
    this.name = 'TrustedDocumentsError';
  }
}

export interface TrustedDocumentsOptions {
  config: TrustedDocumentsConfig;
  schema: GraphQLSchema;
  limits: LimitsConfig;
  /** The validation rules Apollo is given (protection.validationRules). */
  validationRules: readonly ValidationRule[];
  /** INTROSPECTION: when off, a manifest document that introspects is invalid, as it would be as free text. */
  introspection: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The trusted documents of every manifest named by TRUSTED_DOCUMENTS_FILE. Two manifest formats are read:
 * GraphQL Code Generator's client preset (`{ "sha256:<hex>": "<document>" }`, what `npm run codegen`
 * writes) and Apollo's operation manifest (`{ "format": "apollo-persisted-query-manifest", "operations":
 * [{ "id": "<hex>", "body": "<document>" }] }`, what Apollo Client's persisted-query link is built with).
 */
export class TrustedDocuments {
  private byHash: ReadonlyMap<string, TrustedDocument>;
  private readonly listeners: Array<(documents: readonly TrustedDocument[]) => void> = [];

  private constructor(
    private readonly options: TrustedDocumentsOptions,
    documents: ReadonlyMap<string, TrustedDocument>,
  ) {
    this.byHash = documents;
  }

  /** Loads and prepares every manifest; throws TrustedDocumentsError naming the file and document at fault. */
  static async create(options: TrustedDocumentsOptions): Promise<TrustedDocuments> {
    return new TrustedDocuments(options, loadManifests(options));
  }

  get mode(): TrustedDocumentsConfig['mode'] {
    return this.options.config.mode;
  }

  get size(): number {
    return this.byHash.size;
  }

  get documents(): readonly TrustedDocument[] {
    return [...this.byHash.values()];
  }

  /** The document with this hex sha256, if a manifest holds it. */
  byHex(hash: string): TrustedDocument | undefined {
    return this.byHash.get(hash);
  }

  /** Calls `listener` with the documents now and after every reload (the executor compiles them). */
  onLoad(listener: (documents: readonly TrustedDocument[]) => void): void {
    this.listeners.push(listener);
    listener(this.documents);
  }

  /**
   * Reads the manifests again (SIGHUP, with the model). All or nothing: a manifest that fails leaves the
   * documents being served as they were, and the error is thrown for the caller to log.
   */
  reload(): number {
    const next = loadManifests(this.options);
    this.byHash = next;
    for (const listener of this.listeners) listener(this.documents);
    return next.size;
  }

  /**
   * Apollo's document store: trusted documents are found here already parsed and validated, so Apollo
   * skips parsing and validation for them (its key is `<schema hash>:<sha256 of the query>`); every other
   * document uses an LRU like Apollo's default one. Trusted documents are never evicted by free text.
   */
  documentStore(): KeyValueCache<DocumentNode> {
    const lru = new InMemoryLRUCache<DocumentNode>();
    const trusted = (key: string) => (key.length >= 64 ? this.byHash.get(key.slice(key.length - 64))?.document : undefined);
    return {
      get: async (key) => trusted(key) ?? lru.get(key),
      set: async (key, value, options) => {
        if (trusted(key) === undefined) await lru.set(key, value, options);
      },
      delete: async (key) => lru.delete(key),
    };
  }
}

function loadManifests(options: TrustedDocumentsOptions): Map<string, TrustedDocument> {
  const rules = [...specifiedRules, ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule]), ...options.validationRules];
  const out = new Map<string, TrustedDocument>();
  for (const file of options.config.files) {
    for (const [key, text] of readManifest(file)) {
      const doc = prepare(file, key, text, options, rules);
      if (!out.has(doc.hash)) out.set(doc.hash, doc);
    }
  }
  return out;
}

function readManifest(file: string): Array<[string, unknown]> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TrustedDocumentsError(file, undefined, `cannot read it as JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TrustedDocumentsError(file, undefined, 'expected a JSON object of "sha256:<hex>": "<document>"');
  }
  const record = json as Record<string, unknown>;
  if (record.format === 'apollo-persisted-query-manifest') {
    if (!Array.isArray(record.operations)) throw new TrustedDocumentsError(file, undefined, '"operations" is not an array');
    return record.operations.map((op: { id?: unknown; body?: unknown }, i) => [
      typeof op?.id === 'string' ? op.id : `operations[${i}]`,
      op?.body,
    ]);
  }
  return Object.entries(record);
}

function prepare(file: string, key: string, text: unknown, options: TrustedDocumentsOptions, rules: ValidationRule[]): TrustedDocument {
  const hash = key.startsWith('sha256:') ? key.slice('sha256:'.length) : key;
  if (!HEX64.test(hash)) throw new TrustedDocumentsError(file, key, 'the key is not a sha256 id (sha256:<64 hex digits>)');
  const id = `sha256:${hash}`;
  if (typeof text !== 'string') throw new TrustedDocumentsError(file, id, 'the document is not a string');
  const actual = createHash('sha256').update(text).digest('hex');
  if (actual !== hash) throw new TrustedDocumentsError(file, id, `the document's sha256 is ${actual}, not the id it is listed under`);
  let document: DocumentNode;
  try {
    // With locations, as Apollo parses free text: errors point into the document the same way.
    document = parse(text, { maxTokens: options.limits.maxQueryTokens });
  } catch (err) {
    throw new TrustedDocumentsError(file, id, `does not parse: ${(err as Error).message}`);
  }
  if (!document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION)) {
    throw new TrustedDocumentsError(file, id, 'holds no operation');
  }
  const errors = validate(options.schema, document, rules);
  if (errors.length > 0) throw new TrustedDocumentsError(file, id, `does not validate: ${errors.map((e) => e.message).join('; ')}`);
  const limit = checkQueryLimits(document, options.limits);
  if (limit) throw new TrustedDocumentsError(file, id, `breaks a query limit: ${limit.message}`);
  return { id, hash, text, document, file };
}
