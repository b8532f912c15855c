import type { ApolloServer } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import fastifyCors from '@fastify/cors';
import type { FastifyInstance, onRequestAsyncHookHandler, onSendHookHandler, preHandlerHookHandler, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { AppContext } from '../context';
import { httpServerBusy } from '../errors';
import type { ModelHost } from '../inference/model-host';
import type { Metrics } from '../observability/metrics';
import type { Protection } from '../protection';
import type { TrustedDocuments } from '../protection/trusted-documents';
import { decodeRequestBody, jsonBodyParser, JSON_CONTENT_TYPES } from './body';
import { LARGE_BODY_BYTES, type BulkLane } from './bulk-lane';
import { identify } from './client-identity';
import { ClientGone, largeBodyBytes } from './client-request';
import { corsOriginRule } from './cors';
import type { Drain } from './drain';
import './edge-state';
import { rateLimitHeaders } from './rate-limit-headers';
import { helmetHeaders } from './security-headers';
import { traceFromBody } from './trace';
import { TrustedDocumentGate } from './trusted-documents';

export interface GraphqlRouteOptions {
  config: Config;
  models: ModelHost;
  logger: Logger;
  protection: Protection;
  apollo: ApolloServer<AppContext>;
  /** Large bodies' parse and check steps, after small requests. */
  bulk: BulkLane;
  drain: Drain;
  metrics: Metrics | undefined;
  /** Trusted documents (docs/trusted-documents.md); undefined when TRUSTED_DOCUMENTS=off. */
  trusted?: TrustedDocuments;
}

// Apollo's landing page loads the Sandbox from Apollo's CDN; only that page gets a CSP that allows it.
const LANDING_PAGE_HELMET = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'", "'unsafe-inline'", 'https://embeddable-sandbox.cdn.apollographql.com'],
      styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
      fontSrc: ["'self'", 'https://fonts.gstatic.com'],
      imgSrc: ["'self'", 'data:', 'https://apollo-server-landing-page.cdn.apollographql.com'],
      frameSrc: ["'self'", 'https://sandbox.embed.apollographql.com'],
      manifestSrc: ["'self'", 'https://apollo-server-landing-page.cdn.apollographql.com'],
      upgradeInsecureRequests: null,
    },
  },
  crossOriginEmbedderPolicy: false,
};

/**
 * POST/GET /graphql as its own (encapsulated) plugin, in request order: CORS, our JSON body parsers,
 * admission in `onRequest` (drain, identity, API key, request budget, large-body budget: before any body
 * byte is read), Content-Encoding decoding with the body limit on the decoded size in `preParsing`, the
 * static query limits in `preHandler`, RateLimit and landing-page headers in `onSend`, then Apollo.
 */
export async function graphqlRoute(graphql: FastifyInstance, opts: GraphqlRouteOptions): Promise<void> {
  const { config } = opts;
  const allowOrigin = corsOriginRule(config.server.corsOrigins);
  await graphql.register(fastifyCors, {
    origin: (origin, cb) => cb(null, allowOrigin(origin)),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'apollo-require-preflight', 'x-apollo-operation-name'],
    maxAge: 600,
  });
  graphql.removeAllContentTypeParsers();
  const trusted = opts.trusted && new TrustedDocumentGate(opts.trusted, config.server.trustedDocuments, config.limits.maxQueryTokens);
  for (const type of JSON_CONTENT_TYPES) graphql.addContentTypeParser(type, { parseAs: 'buffer' }, jsonBodyParser(opts.bulk, trusted));

  graphql.addHook('onRequest', admission(opts));
  graphql.addHook('preParsing', decodeRequestBody(config.limits.bodyLimitBytes));
  if (trusted) graphql.addHook('preParsing', trusted.refuseEarly);
  graphql.addHook('preHandler', documentCheck(opts, trusted));
  graphql.addHook('onSend', edgeHeaders(config));

  // Apollo answers other methods itself (405 with Allow), as before.
  graphql.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'], url: '/graphql', handler: apolloHandler(opts) });
}

/** onRequest: the drain's answer, who is asking, their API key and request budget, room for a large body. */
function admission({ config, protection, bulk, drain, metrics }: GraphqlRouteOptions): onRequestAsyncHookHandler {
  return async function admitRequest(request, reply) {
    if (drain.phase !== 'serving') {
      // Draining: answer, but tell keep-alive clients to reconnect (elsewhere: readiness is false).
      reply.header('connection', 'close');
      if (drain.phase === 'closing') throw httpServerBusy('The server is shutting down; retry on another connection');
    }
    const large = largeBodyBytes(request.method, request.headers, config.limits.bodyLimitBytes);
    if (large === 0) bulk.trackSmall(reply.raw);
    const identity = identify(request.headers, request.ip);
    request.edge = { ...identity, budgets: [], trace: { errorCodes: [], written: false } };
    protection.guard?.(identity);
    if (protection.limiter) request.edge.budgets.push(await protection.limiter.consumeRequest(identity.clientId));
    if (large > 0 && !bulk.admit(large, reply.raw)) {
      metrics?.largeBodyRefusals.inc();
      const max = config.limits.largeBodiesMaxBytes;
      throw httpServerBusy(`Too many large request bodies in flight (LARGE_BODIES_MAX_BYTES, ${max} bytes); retry later`, { limit: max });
    }
  };
}

/**
 * preHandler: the static query limits on the document text, before Apollo parses it (large ones in the
 * bulk lane). Trusted documents were checked when their manifest loaded: not lexed again.
 */
function documentCheck({ protection, bulk }: GraphqlRouteOptions, trusted: TrustedDocumentGate | undefined): preHandlerHookHandler {
  return function checkDocument(request, _reply, done) {
    try {
      if (trusted && (trusted.isTrusted(request.body) || (request.method === 'GET' && trusted.resolveGet(request)))) return done();
    } catch (err) {
      return done(err as Error);
    }
    const body = request.body as { query?: unknown } | undefined;
    const query = body?.query ?? (request.query as { query?: unknown } | undefined)?.query;
    if (typeof query !== 'string') return done();
    if (query.length >= LARGE_BODY_BYTES)
      bulk.run(
        () => done(protection.checkDocument(query)),
        (err) => done(err as Error),
      );
    else done(protection.checkDocument(query));
  };
}

/** onSend: RateLimit headers from the budgets the request touched, the trace, the landing page's CSP. */
function edgeHeaders(config: Config): onSendHookHandler {
  const landingHeaders = helmetHeaders(LANDING_PAGE_HELMET);
  return function sendEdgeHeaders(request, reply, payload, done) {
    const edge = request.edge;
    if (edge === null) return done(null, payload);
    const headers = rateLimitHeaders(edge.budgets);
    if (headers) for (const [name, value] of headers) reply.header(name, value);
    // Requests Apollo answered without running its pipeline (malformed requests, limits checked before
    // validation) have no trace yet: take it from the formatted response, which is small in that case.
    if (!edge.trace.written && typeof payload === 'string') traceFromBody(edge.trace, payload);
    if (landing(request, config) && reply.getHeader('content-type')?.toString().startsWith('text/html')) {
      reply.headers(landingHeaders);
    }
    done(null, payload);
  };
}

/** Apollo's Fastify handler, with the per-request context built from what admission found. */
function apolloHandler({ apollo, config, models, logger, protection }: GraphqlRouteOptions) {
  return fastifyApolloHandler<AppContext>(apollo, {
    context: async (request, reply) => {
      const edge = request.edge!;
      // Fires when the client goes away before its response is written: its queued rows are dropped.
      const abandoned = new ClientGone(reply.raw);
      return {
        config,
        models,
        log: logger,
        requestId: request.id,
        clientId: edge.clientId,
        apiKeyHash: edge.apiKeyHash,
        limiter: protection.limiter,
        budgets: edge.budgets,
        trace: edge.trace,
        signal: abandoned,
        spans: request.otelSpans,
      };
    },
  });
}

function landing(request: FastifyRequest, config: Config): boolean {
  return request.method === 'GET' && config.server.landingPage && (request.headers.accept ?? '').includes('text/html');
}
