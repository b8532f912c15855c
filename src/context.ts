import type { Logger } from 'pino';
import type { Config } from './config';
import type { ModelHost } from './inference/model-host';

/** What every resolver gets, built once per HTTP request. */
export interface AppContext {
  config: Config;
  models: ModelHost;
  log: Logger;
  requestId: string;
  /** Who the rate limiter counts against: `key:<hash prefix>` or `ip:<address>`. */
  clientId: string;
  /** SHA-256 of the request's API key, if it sent one (admin operations check it). */
  apiKeyHash?: string;
  /** Aborts when the client disconnects before its response: its rows leave the inference queue. */
  signal?: AbortSignal;
  /** Filled in while the request runs; written to the access log when the response ends. */
  trace: RequestTrace;
}

export interface RequestTrace {
  operationName?: string;
  operationType?: string;
  errorCodes: string[];
}
