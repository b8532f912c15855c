import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginInlineTraceDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import cors from 'cors';
import type { GraphQLSchema, ValidationRule } from 'graphql';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { AppContext, RequestTrace } from './context';
import { createErrorFormatter, ErrorCode } from './errors';
import { HttpError, parseJson, readBody } from './http/body';
import { identify, type ClientIdentity } from './http/client-identity';
import { requestTracePlugin } from './http/request-log.plugin';
import { sendError, sendJson } from './http/respond';
import { applyHeaders, recordHeaders, type HeaderSet, type Middleware } from './http/static-headers';
import type { ModelHost } from './inference/model-host';
import type { Metrics } from './observability/metrics';
import { metricsPlugin } from './observability/metrics.plugin';
import { buildAppSchema, type SchemaOptions } from './schema';
import { jitGateway } from './schema/executor';

export interface AppOptions {
  config: Config;
  models: ModelHost;
  logger: Logger;
  /** Extra resolvers and middlewares (rate limits, ...). */
  extraResolvers?: SchemaOptions['extraResolvers'];
  globalMiddlewares?: SchemaOptions['globalMiddlewares'];
  plugins?: ApolloServerPlugin<AppContext>[];
  validationRules?: ValidationRule[];
  /**
   * Runs before GraphQL for every /graphql request (authentication...). Throwing an HttpError answers
   * with its status and code.
   */
  beforeGraphQL?: (identity: ClientIdentity, req: IncomingMessage) => void | Promise<void>;
  /** Prometheus metrics: recorded by a plugin, served at GET /metrics unless METRICS_PORT names another port. */
  metrics?: Metrics;
  /** Extra HTTP routes tried before the 404 (the operator console...). Return true when handled. */
  routes?: (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean | Promise<boolean>;
}

// Apollo's landing page loads the Sandbox from Apollo's CDN; only that page gets a CSP that allows it.
const LANDING_PAGE_CSP = {
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
};

// Helmet's defaults, less upgrade-insecure-requests: this server speaks plain HTTP (TLS ends at a proxy
// when there is one), and that directive would send the console's own scripts to an https:// that isn't there.
const API_CSP = { directives: { upgradeInsecureRequests: null } };

/**
 * The HTTP server: health probes, GraphQL at /graphql through Apollo Server, security headers, CORS,
 * body limits, access logs and graceful shutdown. Built on node:http directly: no framework sits
 * between the socket and Apollo.
 */
export class App {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly options: AppOptions,
    readonly schema: GraphQLSchema,
    readonly httpServer: http.Server,
    private readonly apollo: ApolloServer<AppContext>,
    private readonly headers: { api: HeaderSet; landing: HeaderSet; cors: Middleware; corsAllowAll: boolean },
  ) {
    httpServer.on('request', (req, res) => void this.handle(req, res));
  }

  static async create(options: AppOptions): Promise<App> {
    const { config, logger } = options;
    const schema = await buildAppSchema({
      maxBatchRows: config.maxBatchRows,
      extraResolvers: options.extraResolvers,
      globalMiddlewares: options.globalMiddlewares,
    });
    // The drain plugin needs the server before Apollo starts; requests are routed once the App exists.
    const httpServer = http.createServer({
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // Node enforces the two timeouts above from a sweep that runs every 30 s by default, so a client
      // stalling its headers could hold a socket up to 30 s past HEADERS_TIMEOUT_MS: sweep more often.
      connectionsCheckingInterval: Math.max(250, Math.min(1_000, Math.floor(config.headersTimeoutMs / 2))),
    });
    const apollo = new ApolloServer<AppContext>({
      // graphql-jit replaces graphql-js's execute through Apollo's gateway interface (see schema/executor.ts).
      ...(config.graphqlExecutor === 'jit' ? { gateway: jitGateway(schema) } : { schema }),
      introspection: config.introspection,
      csrfPrevention: true,
      allowBatchedHttpRequests: false,
      stopOnTerminationSignals: false,
      includeStacktraceInErrorResponses: !config.production,
      validationRules: options.validationRules,
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
        requestTracePlugin(),
        ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.shutdownTimeoutMs }),
        ApolloServerPluginCacheControlDisabled(),
        ApolloServerPluginUsageReportingDisabled(),
        ApolloServerPluginSchemaReportingDisabled(),
        ApolloServerPluginInlineTraceDisabled(),
        config.landingPage
          ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
          : ApolloServerPluginLandingPageDisabled(),
        ...(options.plugins ?? []),
        ...(options.metrics ? [metricsPlugin(options.metrics, schema)] : []),
      ],
    });
    await apollo.start();
    const corsOrigins = new Set(config.corsOrigins);
    const allowAll = corsOrigins.has('*');
    const headers = {
      api: recordHeaders(helmet({ contentSecurityPolicy: API_CSP }) as unknown as Middleware),
      landing: recordHeaders(helmet({ contentSecurityPolicy: LANDING_PAGE_CSP, crossOriginEmbedderPolicy: false }) as unknown as Middleware),
      cors: cors({
        origin: (origin, cb) => cb(null, allowAll || (origin !== undefined && corsOrigins.has(origin))),
        methods: ['GET', 'POST', 'OPTIONS'],
        allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'apollo-require-preflight', 'x-apollo-operation-name'],
        maxAge: 600,
      }) as unknown as Middleware,
      corsAllowAll: allowAll,
    };
    return new App(options, schema, httpServer, apollo, headers);
  }

  get metrics(): Metrics | undefined {
    return this.options.metrics;
  }

  /** Starts listening; resolves with the bound port (use PORT=0 in tests). */
  async listen(port = this.options.config.port, host = this.options.config.host): Promise<{ port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      this.httpServer.once('error', reject);
      this.httpServer.listen(port, host, () => {
        this.httpServer.off('error', reject);
        resolve();
      });
    });
    const address = this.httpServer.address() as AddressInfo;
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    return { port: address.port, url: `http://${shown}:${address.port}/graphql` };
  }

  /**
   * Graceful stop: readiness goes false, the listener closes, in-flight requests finish (up to
   * SHUTDOWN_TIMEOUT_MS), then the ONNX session is released. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.options.models.draining = true;
      await this.apollo.stop();
      await this.options.models.close();
    })();
    return this.stopping;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    const trace: RequestTrace = { errorCodes: [] };
    const requestId = typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 128
      ? req.headers['x-request-id']
      : randomUUID();
    res.setHeader('x-request-id', requestId);
    res.once('finish', () => this.logRequest(req, res, pathname, requestId, trace, started));
    try {
      await this.route(req, res, pathname, url, q, trace, requestId);
    } catch (err) {
      this.fail(res, err, requestId);
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    url: string,
    q: number,
    trace: RequestTrace,
    requestId: string,
  ): Promise<void> {
    const { models, config } = this.options;
    if (pathname === '/healthz') {
      applyHeaders(res, this.headers.api);
      return sendJson(res, 200, { status: 'alive' });
    }
    if (pathname === '/readyz') {
      applyHeaders(res, this.headers.api);
      const ready = models.state.status === 'ready' && !models.draining;
      return sendJson(res, ready ? 200 : 503, { status: models.draining ? 'closing' : models.state.status });
    }
    if (pathname === '/metrics' && req.method === 'GET' && this.options.metrics && config.metrics.port === undefined) {
      // No API key and no budget: scrapers are not clients.
      const { contentType, body } = await this.options.metrics.metricsText();
      res.setHeader('content-type', contentType);
      return void res.end(body);
    }
    if (pathname !== '/graphql') {
      applyHeaders(res, this.headers.api);
      if (this.options.routes && (await this.options.routes(req, res, pathname))) return;
      if (pathname === '/' && req.method === 'GET' && config.landingPage) {
        res.statusCode = 302;
        res.setHeader('location', '/graphql');
        return void res.end();
      }
      return sendError(res, 404, ErrorCode.NOT_FOUND, `Not found: ${pathname}`);
    }

    const landing = req.method === 'GET' && config.landingPage && (req.headers.accept ?? '').includes('text/html');
    applyHeaders(res, landing ? this.headers.landing : this.headers.api);
    // Without an Origin header the cors middleware sets nothing (its origin check refuses undefined),
    // unless every origin is allowed: skip the call on the common server-to-server path.
    if (req.headers.origin !== undefined || this.headers.corsAllowAll) await run(this.headers.cors, req, res);
    if (req.method === 'OPTIONS') {
      if (!res.writableEnded) {
        res.statusCode = 204;
        res.end();
      }
      return;
    }
    if (models.draining) res.setHeader('connection', 'close');

    const identity = identify(req, config.trustProxy);
    const { clientId, apiKeyHash } = identity;
    if (this.options.beforeGraphQL) await this.options.beforeGraphQL(identity, req);

    let body: unknown;
    if (req.method === 'POST') {
      const contentType = req.headers['content-type'] ?? '';
      if (/^application\/(graphql-response\+)?json\b/i.test(contentType) || /\+json\b/i.test(contentType)) {
        body = parseJson(await readBody(req, config.bodyLimitBytes));
      } else {
        req.resume();
        throw new HttpError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'POST /graphql needs Content-Type: application/json');
      }
    }

    // Fires when the client goes away before the response is written: its queued rows are dropped.
    const abandoned = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abandoned.abort();
    });

    const headers = new HeaderMap();
    for (const key in req.headers) {
      const value = req.headers[key];
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await this.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: q === -1 ? '' : url.slice(q), body },
      context: async () => ({
        config, models, log: this.options.logger, requestId, clientId, apiKeyHash, signal: abandoned.signal, trace,
      }),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  /** Errors outside GraphQL execution: our HttpErrors keep their status and code, anything else is a 500. */
  private fail(res: ServerResponse, err: unknown, requestId: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HttpError) {
      sendError(res, err.status, err.code, err.message, err.extensions);
      return;
    }
    this.options.logger.error({ err, requestId }, 'unhandled request error');
    sendError(res, 500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
  }

  private logRequest(
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    requestId: string,
    trace: RequestTrace,
    started: bigint,
  ): void {
    const log = this.options.logger;
    if (!log.isLevelEnabled('info')) return;
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    log.info(
      {
        requestId,
        method: req.method,
        path: pathname,
        status: res.statusCode,
        durationMs: Math.round(durationMs * 1000) / 1000,
        operation: trace.operationName ?? trace.operationType,
        outcome: trace.errorCodes.length > 0 ? 'error' : res.statusCode < 400 ? 'ok' : 'error',
        ...(trace.errorCodes.length > 0 ? { errorCodes: [...new Set(trace.errorCodes)] } : {}),
      },
      'request',
    );
  }
}

function run(mw: Middleware, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => mw(req, res, (err) => (err ? reject(err) : resolve())));
}
