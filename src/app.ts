import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import net from 'node:net';
import { constants as zlibConstants } from 'node:zlib';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import fastifyCompress from '@fastify/compress';
import fastifyCors from '@fastify/cors';
import fastifyUnderPressure from '@fastify/under-pressure';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { Config, ServerConfig } from './config';
import type { AppContext, RequestTrace } from './context';
import { createErrorFormatter, ErrorCode, HttpError, inputErrorsPlugin } from './errors';
import { decodeRequestBody, jsonBodyParser, JSON_CONTENT_TYPES } from './http/body';
import { BulkLane, LARGE_BODY_BYTES } from './http/bulk-lane';
import { identify } from './http/client-identity';
import { registerConsole } from './http/console';
import { corsOriginRule } from './http/cors';
import { errorPayload, errorReply, toHttpError } from './http/errors';
import { landingPagePlugin } from './http/landing-page';
import { rateLimitHeaders } from './http/rate-limit-headers';
import { helmetHeaders } from './http/security-headers';
import { tracePlugin, traceFromBody } from './http/trace';
import { TrustedDocumentGate } from './http/trusted-documents';
import type { ModelHost } from './inference/model-host';
import type { Metrics } from './observability/metrics';
import { metricsPlugin } from './observability/metrics.plugin';
import type { Protection } from './protection';
import type { BudgetState } from './protection/rate-limiter';
import type { TrustedDocuments } from './protection/trusted-documents';
import { jitGateway } from './schema/executor';

export interface AppOptions {
  config: Config;
  models: ModelHost;
  logger: Logger;
  schema: GraphQLSchema;
  protection: Protection;
  /** Where the built operator console is; undefined: not served. */
  consoleDir?: string;
  /** Prometheus metrics: recorded by a plugin, served at GET /metrics unless METRICS_PORT names another port. */
  metrics?: Metrics;
  /** Trusted documents (docs/trusted-documents.md); undefined when TRUSTED_DOCUMENTS=off. */
  trusted?: TrustedDocuments;
}

/** Per-request state the edge keeps beside Fastify's request (identity, budgets, trace). */
interface EdgeState {
  clientId: string;
  apiKeyHash: string | undefined;
  budgets: BudgetState[];
  trace: RequestTrace;
}

declare module 'fastify' {
  interface FastifyRequest {
    edge: EdgeState | null;
  }
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

// Helmet's defaults, less upgrade-insecure-requests: this server speaks plain HTTP (TLS ends at a proxy
// when there is one), and that directive would send the console's own scripts to an https:// that isn't there.
const API_CSP = { directives: { upgradeInsecureRequests: null } };

/** How long a client is told to wait when the drain is over or the event loop is overloaded. */
const RETRY_AFTER_SECONDS = 1;

type Phase = 'serving' | 'draining' | 'closing';

/**
 * The HTTP edge: Fastify with its maintained plugins (helmet, cors, compress, under-pressure, static),
 * health probes, GraphQL at /graphql through Apollo's Fastify integration, and a graceful drain.
 *
 * Protection runs at the request's lifecycle points: identity, API key and the request budget in
 * `onRequest` (before any body byte is read); Content-Encoding decoding with the body limit on the
 * decoded size in `preParsing`; query limits, operation and row budgets inside Apollo.
 */
export class App {
  private stopping: Promise<void> | undefined;
  private phase: Phase = 'serving';
  private readonly sockets = new Set<Socket>();
  /** Large bodies' parse and check steps, after small requests (src/http/bulk-lane.ts). */
  private readonly bulk: BulkLane;

  private constructor(
    private readonly options: AppOptions,
    readonly schema: GraphQLSchema,
    readonly fastify: FastifyInstance,
    private readonly apollo: ApolloServer<AppContext>,
  ) {
    const bulk = new BulkLane({ maxLargeBytes: options.config.limits.largeBodiesMaxBytes });
    this.bulk = bulk;
    options.metrics?.watchLargeBodies(() => bulk.largeBytesInFlight);
    fastify.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Bytes of large request bodies admitted and not yet answered (LARGE_BODIES_MAX_BYTES). */
  get largeBodiesInFlight(): number {
    return this.bulk.largeBytesInFlight;
  }

  get metrics(): Metrics | undefined {
    return this.options.metrics;
  }

  get trustedDocuments(): TrustedDocuments | undefined {
    return this.options.trusted;
  }

  /** The node:http server under Fastify (for timeouts and tests). */
  get httpServer(): http.Server {
    return this.fastify.server;
  }

  static async create(options: AppOptions): Promise<App> {
    const { config, logger, schema, protection, trusted } = options;
    const gateway = config.server.graphqlExecutor === 'jit' ? jitGateway(schema) : undefined;
    // Trusted documents: compiled now, and found parsed and validated in Apollo's document store.
    if (gateway && trusted) trusted.onLoad((docs) => docs.forEach((doc) => gateway.prepare(doc.document)));
    const apollo = new ApolloServer<AppContext>({
      // graphql-jit replaces graphql-js's execute through Apollo's gateway interface (see schema/executor.ts).
      ...(gateway ? { gateway } : { schema }),
      ...(trusted ? { documentStore: trusted.documentStore() } : {}),
      introspection: config.server.introspection,
      csrfPrevention: true,
      allowBatchedHttpRequests: false,
      // Persisted queries are off: documents here are small (readings travel as variables), and a cache
      // keyed by client-chosen hashes is memory any client can fill. Clients get PERSISTED_QUERY_NOT_SUPPORTED.
      persistedQueries: false,
      stopOnTerminationSignals: false,
      includeStacktraceInErrorResponses: !config.production,
      // No "Did you mean ...?" field suggestions in production: they map the schema for anyone who asks.
      hideSchemaDetailsFromClientErrors: config.production,
      // The lexer stops after this many tokens, so parsing costs at most that much whatever the body holds.
      parseOptions: { maxTokens: config.limits.maxQueryTokens },
      validationRules: protection.validationRules,
      formatError: createErrorFormatter({
        production: config.production,
        onInternal: (err) => logger.error({ err }, 'internal error'),
      }),
      logger: {
        debug: (m) => logger.debug(m),
        info: (m) => logger.info(m),
        warn: (m) => logger.warn(m),
        error: (m) => logger.error(m),
      },
      plugins: [
        tracePlugin(),
        inputErrorsPlugin<AppContext>(),
        ApolloServerPluginCacheControlDisabled(),
        ApolloServerPluginUsageReportingDisabled(),
        ApolloServerPluginSchemaReportingDisabled(),
        ApolloServerPluginInlineTraceDisabled(),
        config.server.landingPage
          ? landingPagePlugin<AppContext>({ consoleUrl: options.consoleDir !== undefined ? '/console/' : undefined })
          : ApolloServerPluginLandingPageDisabled(),
        ...protection.plugins,
        ...(options.metrics ? [metricsPlugin(options.metrics, schema)] : []),
      ],
    });
    await apollo.start();

    const fastify = Fastify({
      loggerInstance: logger,
      // One access-log line per request is written in onResponse, below, instead of Fastify's two.
      logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
      genReqId: (req) => {
        const id = req.headers['x-request-id'];
        return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : randomUUID();
      },
      trustProxy: trustFunction(config.server.trustProxy),
      bodyLimit: config.limits.bodyLimitBytes,
      // We answer requests that arrive on open connections during the drain ourselves (see stop()).
      return503OnClosing: false,
      forceCloseConnections: false,
      serverFactory: (handler) =>
        http.createServer(
          {
            headersTimeout: config.server.headersTimeoutMs,
            requestTimeout: config.server.requestTimeoutMs,
            keepAliveTimeout: config.server.keepAliveTimeoutMs,
            // Node enforces the two timeouts above from a sweep that runs every 30 s by default, so a client
            // stalling its headers could hold a socket up to 30 s past HEADERS_TIMEOUT_MS: sweep more often.
            connectionsCheckingInterval: Math.max(250, Math.min(1_000, Math.floor(config.server.headersTimeoutMs / 2))),
          },
          handler,
        ),
    }) as unknown as FastifyInstance;
    const app = new App(options, schema, fastify, apollo);
    await app.register();
    await fastify.ready();
    return app;
  }

  private async register(): Promise<void> {
    const { fastify, apollo } = this;
    const { config, models, logger, protection } = this.options;

    fastify.decorateRequest('edge', null);
    fastify.setErrorHandler((err, request, reply) => {
      const httpError = toHttpError(err, config.limits.bodyLimitBytes);
      if (httpError.status >= 500) logger.error({ err, requestId: request.id }, 'unhandled request error');
      if (request.edge) this.traceError(request.edge, httpError.code);
      if (httpError.code === ErrorCode.RATE_LIMITED && httpError.extensions.budget === 'requests') {
        this.options.metrics?.rateLimitRefused('requests');
      }
      return errorReply(reply, httpError);
    });
    fastify.setNotFoundHandler((request, reply) =>
      errorReply(reply, new HttpError(404, ErrorCode.NOT_FOUND, `Not found: ${request.url.split('?')[0]}`)),
    );

    const apiHeaders = helmetHeaders({ contentSecurityPolicy: API_CSP });
    // Synchronous hooks: an async one costs a promise per request.
    fastify.addHook('onRequest', (request, reply, done) => {
      reply.headers(apiHeaders);
      reply.header('x-request-id', request.id);
      done();
    });
    await fastify.register(fastifyUnderPressure, {
      maxEventLoopDelay: config.protection.maxEventLoopDelayMs,
      // The delay is the mean over one sample; a short sample lets one long stall show instead of averaging away.
      sampleInterval: 250,
      // under-pressure sends what the handler returns; returning nothing lets the request through (probes).
      pressureHandler: ((_req: FastifyRequest, reply: FastifyReply) =>
        errorPayload(
          reply,
          new HttpError(
            503,
            ErrorCode.SERVER_BUSY,
            'The server is overloaded; retry shortly',
            { retryAfter: RETRY_AFTER_SECONDS },
            {
              'retry-after': String(RETRY_AFTER_SECONDS),
            },
          ),
        )) as unknown as () => void,
    });
    await fastify.register(fastifyCompress, {
      global: true,
      threshold: config.server.compressionThresholdBytes,
      encodings: ['br', 'gzip'],
      // Brotli's default quality (11) costs ~20x gzip's CPU for a few % smaller JSON; 4 is gzip-fast and smaller.
      brotliOptions: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } },
      // Request bodies are decoded by our own preParsing step, which caps the decoded size (see http/body.ts).
      globalDecompression: false,
    });

    // Probes: no budget, no key, never refused for load (a liveness probe failing under load would restart
    // a busy pod); readiness is the one answer the model lifecycle gives.
    const probe = { config: { pressureHandler: () => undefined } };
    fastify.get('/healthz', probe, async () => ({ status: 'alive' }));
    fastify.get('/readyz', probe, async (_request, reply) => {
      reply.code(models.ready ? 200 : 503);
      return { status: models.state.status };
    });

    const metrics = this.options.metrics;
    if (metrics && config.observability.metrics.port === undefined) {
      // Like the probes: no API key, no budget, not refused for load (a scrape is how an operator sees it).
      fastify.get('/metrics', probe, async (_request, reply) => {
        const { contentType, body } = await metrics.metricsText();
        reply.header('content-type', contentType);
        return body;
      });
    }

    if (config.server.landingPage) fastify.get('/', async (_request, reply) => reply.redirect('/graphql', 302));
    // The schema as SDL, sorted as the committed schema.graphql is: whoever may introspect may read it.
    if (config.server.introspection) {
      const sdl = printSchema(lexicographicSortSchema(this.schema));
      fastify.get('/schema.graphql', async (_request, reply) => reply.type('text/plain; charset=utf-8').send(sdl));
    }
    if (this.options.consoleDir !== undefined) await registerConsole(fastify, this.options.consoleDir);

    const landingHeaders = helmetHeaders(LANDING_PAGE_HELMET);
    const allowOrigin = corsOriginRule(config.server.corsOrigins);
    const handler = fastifyApolloHandler<AppContext>(apollo, {
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
        };
      },
    });

    await fastify.register(async (graphql) => {
      await graphql.register(fastifyCors, {
        origin: (origin, cb) => cb(null, allowOrigin(origin)),
        methods: ['GET', 'POST', 'OPTIONS'],
        allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'apollo-require-preflight', 'x-apollo-operation-name'],
        maxAge: 600,
      });
      graphql.removeAllContentTypeParsers();
      const trusted =
        this.options.trusted && new TrustedDocumentGate(this.options.trusted, config.server.trustedDocuments, config.limits.maxQueryTokens);
      for (const type of JSON_CONTENT_TYPES) graphql.addContentTypeParser(type, { parseAs: 'buffer' }, jsonBodyParser(this.bulk, trusted));

      graphql.addHook('onRequest', async (request, reply) => {
        if (this.phase !== 'serving') {
          // Draining: answer, but tell keep-alive clients to reconnect (elsewhere: readiness is false).
          reply.header('connection', 'close');
          if (this.phase === 'closing') {
            throw new HttpError(
              503,
              ErrorCode.SERVER_BUSY,
              'The server is shutting down; retry on another connection',
              {
                retryAfter: RETRY_AFTER_SECONDS,
              },
              { 'retry-after': String(RETRY_AFTER_SECONDS) },
            );
          }
        }
        const large = largeBodyBytes(request.method, request.headers, config.limits.bodyLimitBytes);
        if (large === 0) this.bulk.trackSmall(reply.raw);
        const identity = identify(request.headers, request.ip);
        request.edge = { ...identity, budgets: [], trace: { errorCodes: [], written: false } };
        protection.guard?.(identity);
        if (protection.limiter) request.edge.budgets.push(await protection.limiter.consumeRequest(identity.clientId));
        if (large > 0 && !this.bulk.admit(large, reply.raw)) {
          this.options.metrics?.largeBodyRefusals.inc();
          throw new HttpError(
            503,
            ErrorCode.SERVER_BUSY,
            `Too many large request bodies in flight (LARGE_BODIES_MAX_BYTES, ${config.limits.largeBodiesMaxBytes} bytes); retry later`,
            { retryAfter: RETRY_AFTER_SECONDS, limit: config.limits.largeBodiesMaxBytes },
            { 'retry-after': String(RETRY_AFTER_SECONDS) },
          );
        }
      });
      graphql.addHook('preParsing', decodeRequestBody(config.limits.bodyLimitBytes));
      if (trusted) graphql.addHook('preParsing', trusted.refuseEarly);
      graphql.addHook('preHandler', (request, _reply, done) => {
        // Trusted documents were checked when their manifest loaded: not lexed again (http/trusted-documents.ts).
        try {
          if (trusted && (trusted.isTrusted(request.body) || (request.method === 'GET' && trusted.resolveGet(request)))) return done();
        } catch (err) {
          return done(err as Error);
        }
        const body = request.body as { query?: unknown } | undefined;
        const query = body?.query ?? (request.query as { query?: unknown } | undefined)?.query;
        if (typeof query !== 'string') return done();
        if (query.length >= LARGE_BODY_BYTES)
          this.bulk.run(
            () => done(protection.checkDocument(query)),
            (err) => done(err as Error),
          );
        else done(protection.checkDocument(query));
      });
      graphql.addHook('onSend', (request, reply, payload, done) => {
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
      });

      // Apollo answers other methods itself (405 with Allow), as before.
      graphql.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'], url: '/graphql', handler });
    });

    fastify.addHook('onResponse', (request, reply, done) => {
      this.logRequest(request, reply);
      done();
    });
  }

  private traceError(edge: EdgeState, code: string): void {
    edge.trace.errorCodes = [code];
    edge.trace.written = true;
  }

  /** Starts listening; resolves with the bound port (use PORT=0 in tests). */
  async listen(port = this.options.config.server.port, host = this.options.config.server.host): Promise<{ port: number; url: string }> {
    await this.fastify.listen({ port, host });
    const address = this.fastify.server.address() as AddressInfo;
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    return { port: address.port, url: `http://${shown}:${address.port}/graphql` };
  }

  /**
   * Graceful stop, safe to call more than once:
   * 1. draining: readiness goes false and the listener closes (no new connections), but connections
   *    already open stay: a request sent on one is answered, with `Connection: close`, never reset
   *    (closing idle keep-alive sockets at once races with clients that are just sending on them);
   * 2. when every connection has closed, or SHUTDOWN_TIMEOUT_MS has passed: closing: requests still
   *    arriving get 503 SERVER_BUSY with Retry-After, idle sockets are closed, in-flight requests get a
   *    last second, then every socket is closed;
   * 3. Apollo stops (the rate limiter's store closes with it) and the ONNX session is released.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const { models, config } = this.options;
      models.drain();
      this.phase = 'draining';
      const server = this.fastify.server;
      // net.Server's close stops accepting without http.Server's closeIdleConnections() (see above).
      if (server.listening) await new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
      await this.untilNoSockets(config.server.shutdownTimeoutMs);
      this.phase = 'closing';
      server.closeIdleConnections();
      await this.untilNoSockets(1_000);
      server.closeAllConnections();
      await this.fastify.close().catch(() => undefined);
      await this.apollo.stop();
      await models.close();
    })();
    return this.stopping;
  }

  private untilNoSockets(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.sockets.size === 0) return resolve();
      const deadline = setTimeout(finish, timeoutMs);
      const poll = setInterval(() => this.sockets.size === 0 && finish(), 20);
      function finish() {
        clearTimeout(deadline);
        clearInterval(poll);
        resolve();
      }
    });
  }

  private logRequest(request: FastifyRequest, reply: FastifyReply): void {
    const log = this.options.logger;
    if (!log.isLevelEnabled('info')) return;
    const trace = request.edge?.trace;
    const codes = trace?.errorCodes ?? [];
    const status = reply.statusCode;
    log.info(
      {
        requestId: request.id,
        method: request.method,
        path: request.url.split('?')[0],
        status,
        durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
        operation: trace?.operationName ?? trace?.operationType,
        outcome: codes.length > 0 ? 'error' : status < 400 ? 'ok' : 'error',
        ...(codes.length > 0 ? { errorCodes: [...new Set(codes)] } : {}),
      },
      'request',
    );
  }
}

/**
 * Fastify's trustProxy for TRUST_PROXY. A hop count is given as proxy-addr's (address, hop) function:
 * Fastify 5.12 treats a plain number as "trust nothing", since a hop count cannot tell the proxy from a
 * client that reaches the server directly. So a hop count is only safe where nothing but the proxy can
 * reach the server (the Kubernetes NetworkPolicy in deploy/ allows only the ingress); addresses/CIDRs
 * are safe everywhere.
 */
function trustFunction(trust: ServerConfig['trustProxy']): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return trust;
}

/**
 * A Cancellation (src/inference/batcher.ts) that fires when the response closes before it finished: the
 * client went away. One listener on the response, none of AbortController's EventTarget machinery.
 */
class ClientGone {
  aborted = false;
  private listeners: Array<() => void> = [];

  constructor(res: ServerResponse) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.aborted = true;
      const listeners = this.listeners;
      this.listeners = [];
      for (const listener of listeners) listener();
    });
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
}

function landing(request: FastifyRequest, config: Config): boolean {
  return request.method === 'GET' && config.server.landingPage && (request.headers.accept ?? '').includes('text/html');
}

/**
 * 0 for a request the bulk lane lets go first: no body, or a plain body under LARGE_BODY_BYTES by its
 * Content-Length. Otherwise the bytes its body may take: the Content-Length, or the body limit for a
 * compressed body (it may inflate to the limit) or one without an announced size (chunked).
 */
function largeBodyBytes(method: string, headers: FastifyRequest['headers'], bodyLimit: number): number {
  if (method === 'GET' || method === 'OPTIONS' || method === 'HEAD') return 0;
  const encoding = headers['content-encoding'];
  const plain = encoding === undefined || encoding === 'identity';
  if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) return 0; // no body
  const length = Number(headers['content-length']);
  if (!plain || !Number.isFinite(length)) return bodyLimit;
  return length < LARGE_BODY_BYTES ? 0 : Math.min(length, bodyLimit);
}
