import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { App } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import type { InferenceService } from '../../src/inference/inference.service';
import { ModelHost } from '../../src/inference/model-host';
import { createApp, loadModel } from '../../src/server';
import { until } from './wait';

/** Where tests read the model from: MODEL_DIR (CI points it at a fresh --quick run too), else models/. */
export const TEST_MODEL_DIR = process.env.MODEL_DIR ?? 'models';

/** Log lines a test server wrote, parsed (for asserting on access logs and on what logs never hold). */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  readonly logger: Logger;
  constructor(level: Config['observability']['logLevel'] = 'info') {
    const sink = new Writable({
      write: (chunk, _enc, cb) => {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          this.raw.push(line);
          this.lines.push(JSON.parse(line));
        }
        cb();
      },
    });
    this.logger = pino({ level, formatters: { level: (label) => ({ level: label }) } }, sink);
  }

  /**
   * The first line that matches, waiting for it: access lines are written on the response's 'finish',
   * which can come after the client has already read the response.
   */
  async waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs = 5_000): Promise<Record<string, unknown>> {
    let line: Record<string, unknown> | undefined;
    await until('a matching log line', () => (line = this.lines.find(match)) !== undefined, { timeoutMs, everyMs: 5 });
    return line!;
  }
}

export interface TestServer {
  app: App;
  config: Config;
  models: ModelHost;
  logs: LogCapture;
  url: string;
  origin: string;
  port: number;
  /** POSTs a GraphQL document; returns status, headers and parsed body. */
  gql(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResponse>;
  close(): Promise<void>;
}

export interface GqlResponse {
  status: number;
  headers: Headers;
  body: {
    data?: any;
    errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
    extensions?: Record<string, any>;
  };
}

/**
 * Starts the real server on 127.0.0.1, port 0, with the given environment on top of test defaults.
 * `load: false` leaves the model unloaded (MODEL_NOT_READY).
 */
export async function startServer(env: Record<string, string> = {}, opts: { load?: boolean } = {}): Promise<TestServer> {
  // Load shedding on event-loop lag is off unless a test turns it on: on a busy CI machine the test process
  // itself lags, and tests that count exact outcomes must not see a stray 503 (test/edge.test.ts covers it).
  const config = loadConfig({
    NODE_ENV: 'test',
    MODEL_DIR: TEST_MODEL_DIR,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env,
  });
  const logs = new LogCapture(config.observability.logLevel);
  const models = new ModelHost();
  const app = await createApp(config, logs.logger, models);
  if (opts.load !== false) await loadModel(config, logs.logger, models);
  const { port } = await app.listen(0, '127.0.0.1');
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/graphql`;
  return {
    app,
    config,
    models,
    logs,
    url,
    origin,
    port,
    async gql(query, variables, headers = {}) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: JSON.parse(text) };
    },
    close: () => app.stop(),
  };
}

export { NORMAL_READING } from './readings';

export const PREDICTION_FIELDS = `predictedFailureType label probability failureProbability
  probabilities { failureType label probability } reconstructionError anomalyThreshold isAnomaly device modelVersion`;

/**
 * Fault injection: the service's model runs wait until `release()` (queue-bound and drain tests).
 * `firstRun` resolves when a run has started; `restore()` puts the real runs back.
 */
export function holdRuns(service: InferenceService) {
  const original = service.runModel.bind(service);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const firstRun = new Promise<void>((r) => (started = r));
  service.runModel = async (input, count) => {
    started();
    await gate;
    return original(input, count);
  };
  return { release, firstRun, restore: () => void (service.runModel = original) };
}

/** Fault injection: every model run throws `message` until `restore()`. */
export function failRuns(service: InferenceService, message: string) {
  const original = service.runModel.bind(service);
  service.runModel = async () => {
    throw new Error(message);
  };
  return { restore: () => void (service.runModel = original) };
}
