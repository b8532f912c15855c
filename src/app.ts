import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants as zlibConstants } from 'node:zlib';
import type { ApolloServer } from '@apollo/server';
import fastifyCompress from '@fastify/compress';
import fastifyUnderPressure from '@fastify/under-pressure';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { createApollo } from './apollo';
import type { Config, ServerConfig } from './config';
import type { AppContext } from './context';
import { ErrorCode, HttpError, httpServerBusy } from './errors';
import { accessLog } from './http/access-log';
import { BulkLane } from './http/bulk-lane';
import { consolePlugin } from './http/console';
import { Drain } from './http/drain';
import { traceError } from './http/edge-state';
import { errorPayload, errorReply, toHttpError } from './http/errors';
import { graphqlRoute } from './http/graphql.plugin';
import { probeRoutes } from './http/probes.plugin';
import { helmetHeaders } from './http/security-headers';
import type { ModelHost } from './inference/model-host';
import type { Metrics } from './observability/metrics';
import type { Tracing } from './observability/tracing';
import type { Protection } from './protection';
import type { TrustedDocuments } from './protection/trusted-documents';

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
  /** OpenTelemetry traces (src/observability/tracing.ts); undefined when OTEL_TRACES_EXPORTER is none. */
  tracing?: Tracing;
  /** Trusted documents (docs/trusted-documents.md); undefined when TRUSTED_DOCUMENTS=off. */
  trusted?: TrustedDocuments;
}

// Helmet's defaults, less upgrade-insecure-requests: this server speaks plain HTTP (TLS ends at a proxy
// when there is one), and that directive would send the console's own scripts to an https:// that isn't there.
const API_CSP = { directives: { upgradeInsecureRequests: null } };

/**
 * The HTTP edge: Fastify with its maintained plugins (helmet, cors, compress, under-pressure, static),
 * and our own plugins composed here: the probes and SDL/metrics routes (http/probes.plugin.ts), the
 * console (http/console.ts), GraphQL at /graphql through Apollo's Fastify integration
 * (http/graphql.plugin.ts), the access log (http/access-log.ts) and a graceful drain (http/drain.ts).
 *
 * Protection runs at the request's lifecycle points: identity, API key and the request budget in
 * `onRequest` (before any body byte is read); Content-Encoding decoding with the body limit on the
 * decoded size in `preParsing`; query limits, operation and row budgets inside Apollo.
 */
export class App {
  private stopping: Promise<void> | undefined;
  /** Socket tracking and the drain's phases, from the first connection on. */
  private readonly drain: Drain;
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
    this.drain = new Drain(fastify.server);
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
    const { config, logger, schema, protection, metrics } = options;
    const apollo = createApollo({
      config,
      logger,
      schema,
      protection,
      consoleServed: options.consoleDir !== undefined,
      metrics,
      tracing: options.tracing,
      trusted: options.trusted,
    });
    await apollo.start();
    const app = new App(options, schema, createFastify(config, logger), apollo);
    await app.register();
    await app.fastify.ready();
    return app;
  }

  private async register(): Promise<void> {
    const { fastify, apollo, bulk, drain } = this;
    const { config, models, logger, protection, metrics, consoleDir } = this.options;

    fastify.decorateRequest('edge', null);
    this.options.tracing?.registerHttp(fastify);
    fastify.setErrorHandler((err, request, reply) => {
      const httpError = toHttpError(err, config.limits.bodyLimitBytes);
      if (httpError.status >= 500) logger.error({ err, requestId: request.id }, 'unhandled request error');
      if (request.edge) traceError(request.edge, httpError.code);
      if (httpError.code === ErrorCode.RATE_LIMITED && httpError.extensions.budget === 'requests') {
        metrics?.rateLimitRefused('requests');
      }
      return errorReply(reply, httpError);
    });
    fastify.setNotFoundHandler((request, reply) =>
      errorReply(reply, new HttpError(404, ErrorCode.NOT_FOUND, `Not found: ${request.url.split('?')[0]}`)),
    );

    const apiHeaders = helmetHeaders({ contentSecurityPolicy: API_CSP });
    // Synchronous hooks: an async one costs a promise per request.
    fastify.addHook('onRequest', function securityHeaders(request, reply, done) {
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
        errorPayload(reply, httpServerBusy('The server is overloaded; retry shortly'))) as unknown as () => void,
    });
    await fastify.register(fastifyCompress, {
      global: true,
      threshold: config.server.compressionThresholdBytes,
      encodings: ['br', 'gzip'],
      // Brotli's default quality (11) costs ~20x gzip's CPU for a few % smaller JSON; 4 is gzip-fast and smaller.
      // Stryker disable next-line ObjectLiteral: equivalent, @fastify/compress 9 itself defaults to quality 4 (kept explicit in case that changes)
      brotliOptions: {
        params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 },
      },
      // Request bodies are decoded by our own preParsing step, which caps the decoded size (see http/body.ts).
      globalDecompression: false,
    });

    await fastify.register(probeRoutes, { config, models, schema: this.schema, metrics });
    if (consoleDir !== undefined) await fastify.register(consolePlugin, { root: consoleDir });
    await fastify.register(graphqlRoute, {
      config,
      models,
      logger,
      protection,
      apollo,
      bulk,
      drain,
      metrics,
      trusted: this.options.trusted,
    });
    fastify.addHook('onResponse', accessLog(logger));
  }

  /** Starts listening; resolves with the bound port (use PORT=0 in tests). */
  async listen(port = this.options.config.server.port, host = this.options.config.server.host): Promise<{ port: number; url: string }> {
    await this.fastify.listen({ port, host });
    const address = this.fastify.server.address() as AddressInfo;
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    return { port: address.port, url: `http://${shown}:${address.port}/graphql` };
  }

  /**
   * Graceful stop, safe to call more than once: readiness goes false, the drain runs (http/drain.ts:
   * open connections are answered with `Connection: close` until they go or SHUTDOWN_TIMEOUT_MS has
   * passed, then late requests get 503 SERVER_BUSY with Retry-After and every socket is closed), then
   * Apollo stops (the rate limiter's store closes with it) and the ONNX session is released.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const { models, config } = this.options;
      models.drain();
      await this.drain.stop(config.server.shutdownTimeoutMs);
      await this.fastify.close().catch(() => undefined);
      await this.apollo.stop();
      await models.close();
      await this.options.tracing?.shutdown(config.server.shutdownTimeoutMs);
    })();
    return this.stopping;
  }
}

/** Fastify on a node:http server with our timeouts, request ids and proxy trust; the access log is ours. */
function createFastify(config: Config, logger: Logger): FastifyInstance {
  return Fastify({
    loggerInstance: logger,
    // One access-log line per request is written in onResponse (http/access-log.ts) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: (req) => {
      const id = req.headers['x-request-id'];
      return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : randomUUID();
    },
    trustProxy: trustFunction(config.server.trustProxy),
    bodyLimit: config.limits.bodyLimitBytes,
    // We answer requests that arrive on open connections during the drain ourselves (see http/drain.ts).
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
