import type { Logger } from 'pino';
import type { Config } from './config';
import type { Cancellation } from './inference/batcher';
import type { ModelHost } from './inference/model-host';
import type { RequestSpans } from './observability/request-spans';
import type { RateLimiter } from './protection/rate-limiter';
import type { BudgetState } from './protection/store';

/** What every resolver gets, built once per HTTP request. */
export interface AppContext {
  config: Config;
  models: ModelHost;
  log: Logger;
  requestId: string;
  /** Who the rate limiter counts against: `key:<hash prefix>` or `ip:<address>`. */
  clientId: string;
  /** SHA-256 of the API key the request carried, if any (the key itself is never kept). */
  apiKeyHash: string | undefined;
  /** The app's rate limiter; undefined when RATE_LIMIT_ENABLED=false. */
  limiter: RateLimiter | undefined;
  /** Rate-limit budgets this request touched, for the RateLimit response headers (the edge reads them). */
  budgets: BudgetState[];
  /** Aborts when the client disconnects before its response: its rows leave the inference queue. */
  signal?: Cancellation;
  /** Written once when the response is ready; read by the access log. */
  trace: RequestTrace;
  /** The request's OpenTelemetry spans when tracing is on (OTEL_TRACES_EXPORTER=otlp); passed along, never read here. */
  spans?: RequestSpans | null;
}

/** What the access log (and metrics) say about a request: written once, from the formatted response. */
export interface RequestTrace {
  operationName?: string;
  operationType?: string;
  errorCodes: string[];
  written: boolean;
}
