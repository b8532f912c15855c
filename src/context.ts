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
  /** Filled in while the request runs; written to the access log when the response ends. */
  trace: RequestTrace;
}

export interface RequestTrace {
  operationName?: string;
  operationType?: string;
  errorCodes: string[];
}
