/**
 * Every setting the server reads, from environment variables, parsed and validated once at start.
 * Nothing else in the code base reads process.env: a bad value stops start-up with a message naming
 * the variable, instead of surfacing later as a strange runtime error.
 */
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { DriftSettings } from './inference/drift';

export type InferenceDevice = 'auto' | 'cpu' | 'cuda';
export type NodeEnv = 'development' | 'production' | 'test';
export type RateLimitFailMode = 'memory' | 'open' | 'closed';
export type GraphqlExecutor = 'jit' | 'graphql-js';
export type TracesExporter = 'none' | 'otlp';
export type OtlpProtocol = 'http/protobuf' | 'http/json';
export type TracesSampler =
  'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';
/** Which GraphQL documents a request may name: see docs/trusted-documents.md. */
export type TrustedDocumentsMode = 'off' | 'allow' | 'require';

/**
 * The settings, grouped by concern. Each part of the app is handed the group(s) it uses, whole: the
 * inference service `inference`, the protection layer `protection` (and `limits` for the rows of a
 * batch), the logger and metrics `observability`, the HTTP edge `server` and `limits`.
 */
export interface Config {
  nodeEnv: NodeEnv;
  production: boolean;
  server: ServerConfig;
  inference: InferenceConfig;
  limits: LimitsConfig;
  protection: ProtectionConfig;
  observability: ObservabilityConfig;
  predictionLog: PredictionLogConfig;
}

/** The HTTP server and what it serves: listener, workers, proxies, timeouts, CORS, the GraphQL tooling. */
export interface ServerConfig {
  host: string;
  port: number;
  /** Worker processes behind the port (node:cluster); 1 runs no cluster. WORKERS=auto: one per core. */
  workers: number;
  /**
   * Which proxies may set X-Forwarded-For (Fastify's trustProxy, proxy-addr semantics): false (none,
   * the socket's address is the client), a hop count (1 = one proxy in front, the client is the address
   * that proxy appended), or a list of proxy addresses/CIDRs.
   */
  trustProxy: false | number | string[];
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Responses at least this large are compressed when the client accepts br or gzip. */
  compressionThresholdBytes: number;
  corsOrigins: string[];
  /**
   * GraphQL executor: `jit` (graphql-jit, compiled once per document; default) or `graphql-js`
   * (the reference interpreter). Both give the same responses; see src/schema/executor.ts and docs/benchmarks.md.
   */
  graphqlExecutor: GraphqlExecutor;
  introspection: boolean;
  landingPage: boolean;
  serveConsole: boolean;
  trustedDocuments: TrustedDocumentsConfig;
}

/** Trusted documents (docs/trusted-documents.md): manifests of the operations frontends were built with. */
export interface TrustedDocumentsConfig {
  /** off: ids refused, free text only; allow: ids and free text; require: ids only (introspection aside). */
  mode: TrustedDocumentsMode;
  /** Manifest files (hash -> document JSON), absolute paths; empty when mode is off. */
  files: string[];
  /**
   * In `require` mode, whether free-text introspection still passes (for Apollo Sandbox): only when
   * INTROSPECTION=true was set explicitly, never from a default.
   */
  introspectionInRequire: boolean;
}

/** The model and the batcher in front of it: what InferenceService.create takes (src/server.ts loadModel). */
export interface InferenceConfig {
  modelDir: string;
  device: InferenceDevice;
  /** Intra-op threads for the ONNX session. */
  threads: number;
  /** Most rows one ONNX run takes. */
  maxBatchSize: number;
  /** Extra wait before a batch runs, to gather more rows; 0 = only what arrived in the same event-loop turn. */
  maxBatchWaitMs: number;
  /** Most rows waiting for or in inference; more fail fast with SERVER_BUSY. */
  maxQueueRows: number;
  /** Longest a row may wait for a run before its request gets SERVER_BUSY with retryAfter. */
  maxQueueWaitMs: number;
  /** A second model scored on a sample of live rows after the primary answered (docs/shadow.md); undefined: off. */
  shadow: ShadowConfig | undefined;
}

/** SHADOW_MODEL_DIR and SHADOW_SAMPLE_RATE. */
export interface ShadowConfig {
  modelDir: string;
  /** Share of rows the shadow scores, 0 < r <= 1. */
  sampleRate: number;
}

/** How large one request may be: its body, its GraphQL document, the rows of a batch. */
export interface LimitsConfig {
  bodyLimitBytes: number;
  /**
   * Most bytes of large request bodies (64 KiB and more) admitted at once, by Content-Length (a chunked
   * or compressed body counts as BODY_LIMIT_BYTES); more get 503 SERVER_BUSY before their body is read.
   */
  largeBodiesMaxBytes: number;
  /** Most lexical tokens in one GraphQL document (graphql-js parse maxTokens). */
  maxQueryTokens: number;
  maxQueryDepth: number;
  maxQueryCost: number;
  maxAliases: number;
  maxRootFields: number;
  /** Most rows one predictBatch call takes. */
  maxBatchRows: number;
}

/** Who may call and how much: API keys, rate limits, shedding load when the event loop lags. */
export interface ProtectionConfig {
  /** Accepted API key hashes, from API_KEYS and API_KEYS_FILE together (empty: keys not required). */
  apiKeys: { hashes: string[]; file: string | undefined };
  /** Admin key hashes (ADMIN_API_KEYS and ADMIN_API_KEYS_FILE): may run reloadModel. Empty: nobody may. */
  adminApiKeys: { hashes: string[]; file: string | undefined };
  rateLimit: {
    enabled: boolean;
    max: number;
    windowMs: number;
    window: string;
    rowsMax: number;
    redisUrl: string | undefined;
    failMode: RateLimitFailMode;
    /** Most client identities the in-memory store keeps before evicting the oldest. */
    memoryMaxKeys: number;
    /** Prefix of every Redis key the limiter writes (several deployments can share one Redis). */
    redisPrefix: string;
  };
  /** Per-client budget over every /graphql request, checked before the body is read. */
  requestLimit: { max: number; windowMs: number; window: string };
  /** Event-loop delay past which requests get 503 SERVER_BUSY (@fastify/under-pressure); 0 = off. */
  maxEventLoopDelayMs: number;
}

/** Logs and metrics. */
export interface ObservabilityConfig {
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Human-readable log lines through pino-pretty (a development dependency: development only). */
  logPretty: boolean;
  metrics: {
    enabled: boolean;
    /** A separate listener for GET /metrics; undefined: served on the API's own port. */
    port: number | undefined;
  };
  /** Input drift against the model's training reference (src/inference/drift.ts, docs/monitoring.md). */
  drift: DriftSettings;
  tracing: TracingConfig;
}

/** Where served predictions are recorded (PREDICTION_LOG): nowhere, a JSON-lines file, or a Redis stream. */
export type PredictionLogSinkConfig =
  | { kind: 'off' }
  /** `maxBytes`: the file is rotated (renamed PATH.1, PATH.2, ...) before it would grow past it. */
  | { kind: 'file'; path: string; maxBytes: number }
  /** XADD to `stream`, trimmed to about `maxRecords` entries (MAXLEN ~). */
  | { kind: 'redis'; url: string; stream: string; maxRecords: number };

export interface PredictionLogConfig {
  sink: PredictionLogSinkConfig;
  /** Most records waiting to be written; more are dropped and counted (the sink never slows a prediction). */
  bufferRecords: number;
}

/**
 * OpenTelemetry traces, from the SDK's standard variables read as the SDK documents them (defaults
 * included); see docs/tracing.md. `exporter: 'none'` (the default) loads no tracing code at all.
 */
export interface TracingConfig {
  exporter: TracesExporter;
  /** The URL spans are POSTed to: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string;
  protocol: OtlpProtocol;
  /** OTEL_EXPORTER_OTLP_HEADERS (a collector's credentials: never logged). */
  headers: Record<string, string>;
  /** One export's timeout (OTEL_EXPORTER_OTLP_TIMEOUT). */
  timeoutMs: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: TracesSampler;
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the *traceidratio samplers (ignored by the others). */
  samplerRatio: number;
  /** The batch span processor (OTEL_BSP_*): its queue is the bound on what an unreachable collector can cost. */
  batch: { scheduleDelayMs: number; exportTimeoutMs: number; maxQueueSize: number; maxExportBatchSize: number };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? fallback : raw.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name, String(fallback));
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name, String(fallback)).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = str(env, name, fallback).toLowerCase();
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function num(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name, String(fallback));
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new ConfigError(name, `expected a number like 0.25, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function driftSettings(env: Env): DriftSettings {
  const windowRows = int(env, 'DRIFT_WINDOW_ROWS', 10_000, 100, 10_000_000);
  const minRows = int(env, 'DRIFT_MIN_ROWS', 500, 1, 10_000_000);
  if (minRows > windowRows) throw new ConfigError('DRIFT_MIN_ROWS', `must be at most DRIFT_WINDOW_ROWS (${windowRows}), got ${minRows}`);
  const psiModerate = num(env, 'DRIFT_PSI_MODERATE', 0.1, 0.001, 10);
  const psiSignificant = num(env, 'DRIFT_PSI_SIGNIFICANT', 0.25, 0.001, 10);
  if (psiSignificant <= psiModerate) {
    throw new ConfigError('DRIFT_PSI_SIGNIFICANT', `must be above DRIFT_PSI_MODERATE (${psiModerate}), got ${psiSignificant}`);
  }
  return {
    enabled: bool(env, 'DRIFT_ENABLED', true),
    windowRows,
    maxAgeMs: parseDuration('DRIFT_WINDOW_MAX_AGE', str(env, 'DRIFT_WINDOW_MAX_AGE', '24h')),
    minRows,
    psiModerate,
    psiSignificant,
  };
}

/** `900`, `900s`, `15m`, `1h`, `500ms` -> milliseconds. */
export function parseDuration(name: string, raw: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!match) throw new ConfigError(name, `expected a duration like 15m, 900s or 1h, got "${raw}"`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 's']!;
  const ms = Number(match[1]) * unit;
  if (ms < 1_000) throw new ConfigError(name, `must be at least 1s, got "${raw}"`);
  return ms;
}

function list(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined) return fallback;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function origins(env: Env, name: string, fallback: string[]): string[] {
  const values = list(env, name, fallback);
  for (const origin of values) {
    if (origin === '*') continue;
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(name, `"${origin}" is not an origin like https://app.example.com`);
    }
    if (parsed.origin !== origin) throw new ConfigError(name, `"${origin}" is not an origin (write ${parsed.origin})`);
  }
  return values;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function apiKeyHashesFromEnv(env: Env, name: string): string[] {
  const hashes = list(env, name, []).map((h) => h.toLowerCase());
  for (const hash of hashes) {
    if (!SHA256_HEX.test(hash)) {
      throw new ConfigError(name, 'expected comma-separated SHA-256 hex digests of the keys (never the keys)');
    }
  }
  return hashes;
}

/** <name>_FILE: one SHA-256 hex digest per line; blank lines and `#` comments ignored. */
function apiKeyHashesFromFile(file: string, name: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(name, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const hashes: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim().toLowerCase();
    if (line === '') return;
    // The message never echoes the line: it may be a raw key pasted by mistake.
    if (!SHA256_HEX.test(line)) {
      throw new ConfigError(name, `line ${i + 1} is not a SHA-256 hex digest (store hashes of keys, never keys)`);
    }
    hashes.push(line);
  });
  if (hashes.length === 0) throw new ConfigError(name, `${file} holds no key hashes`);
  return hashes;
}

/** `<prefix>` (comma-separated digests) and `<prefix>_FILE` together, deduplicated. */
function keyHashes(env: Env, prefix: 'API_KEYS' | 'ADMIN_API_KEYS'): { hashes: string[]; file: string | undefined } {
  const fileVar = `${prefix}_FILE`;
  const file = env[fileVar]?.trim() || undefined;
  return { hashes: [...new Set([...apiKeyHashesFromEnv(env, prefix), ...(file ? apiKeyHashesFromFile(file, fileVar) : [])])], file };
}

/** WORKERS: a count, or `auto` for one per core. */
function workers(env: Env): number {
  const raw = str(env, 'WORKERS', '1').toLowerCase();
  return raw === 'auto' ? availableParallelism() : int(env, 'WORKERS', 1, 1, 256);
}

const IPV4_OR_6 = /^[0-9a-f.:]+(\/\d{1,3})?$/i;

/**
 * TRUST_PROXY: `false` (default), a hop count, or proxy addresses/CIDRs. `true` is refused: trusting
 * every hop means believing the leftmost X-Forwarded-For entry, which the client writes itself.
 */
function trustProxy(env: Env): false | number | string[] {
  const raw = str(env, 'TRUST_PROXY', 'false').toLowerCase();
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  if (['1', 'true', 'yes', 'on'].includes(raw) && raw !== '1') {
    throw new ConfigError(
      'TRUST_PROXY',
      `"${raw}" would trust every X-Forwarded-For entry, and clients write the leftmost one themselves; ` +
        'set the number of proxies in front of the server (1 behind one ingress or nginx) or their addresses/CIDRs',
    );
  }
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 10) throw new ConfigError('TRUST_PROXY', `a hop count must be between 0 and 10, got ${hops}`);
    return hops === 0 ? false : hops;
  }
  const entries = list(env, 'TRUST_PROXY', []);
  for (const entry of entries) {
    if (!IPV4_OR_6.test(entry) && !['loopback', 'linklocal', 'uniquelocal'].includes(entry)) {
      throw new ConfigError('TRUST_PROXY', `"${entry}" is not an address, a CIDR or one of loopback, linklocal, uniquelocal`);
    }
  }
  return entries;
}

/**
 * Reads a `.env` file into `env` before loadConfig: `ENV_FILE` names the file (relative to `cwd`), else
 * `cwd/.env` is read when present. Variables already set win over the file, so a deployment's environment
 * is never overridden by a file left in the working directory. process.loadEnvFile would also not
 * override, but it writes only to process.env; parseEnv lets tests pass their own env.
 * Returns the file read, or undefined when there was none.
 */
export function loadEnvFile(env: Env = process.env, cwd: string = process.cwd()): string | undefined {
  const named = env.ENV_FILE?.trim() || undefined;
  const file = path.resolve(cwd, named ?? '.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (named === undefined && code === 'ENOENT') return undefined;
    throw new ConfigError('ENV_FILE', `cannot read ${file}: ${code ?? (err as Error).message}`);
  }
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] === undefined) env[name] = value;
  }
  return file;
}

/** The directory must exist and be writable, and PATH, if it exists, a writable file: checked now, not at the first prediction. */
function writableFile(name: string, file: string): void {
  const dir = path.dirname(file);
  try {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat?.isDirectory()) throw new ConfigError(name, `${file} is a directory, not a file`);
    accessSync(stat ? file : dir, fsConstants.W_OK);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(name, `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** PREDICTION_LOG = off | file:PATH | redis, with the settings of the chosen sink. */
function predictionLog(env: Env): PredictionLogConfig {
  const raw = str(env, 'PREDICTION_LOG', 'off');
  const maxBytes = int(env, 'PREDICTION_LOG_MAX_BYTES', 104_857_600, 4_096, 1_099_511_627_776);
  const stream = str(env, 'PREDICTION_LOG_STREAM', 'pm:predictions');
  const maxRecords = int(env, 'PREDICTION_LOG_MAX_RECORDS', 1_000_000, 1, 1_000_000_000);
  const bufferRecords = int(env, 'PREDICTION_LOG_BUFFER_RECORDS', 10_000, 1, 10_000_000);
  const url = env.PREDICTION_LOG_REDIS_URL?.trim() || undefined;
  if (url && !/^rediss?:\/\//.test(url)) throw new ConfigError('PREDICTION_LOG_REDIS_URL', `expected redis://host:port, got "${url}"`);
  let sink: PredictionLogSinkConfig;
  if (raw.toLowerCase() === 'off') sink = { kind: 'off' };
  else if (raw.toLowerCase() === 'redis') {
    if (!url) throw new ConfigError('PREDICTION_LOG', 'redis needs PREDICTION_LOG_REDIS_URL (redis://host:port)');
    sink = { kind: 'redis', url, stream, maxRecords };
  } else if (raw.startsWith('file:') && raw.length > 'file:'.length) {
    const file = path.resolve(raw.slice('file:'.length));
    writableFile('PREDICTION_LOG', file);
    sink = { kind: 'file', path: file, maxBytes };
  } else {
    throw new ConfigError('PREDICTION_LOG', `expected off, file:PATH or redis, got "${raw}"`);
  }
  return { sink, bufferRecords };
}

/**
 * SHADOW_MODEL_DIR (unset: no shadow) must be a directory holding model.json; SHADOW_SAMPLE_RATE is only
 * read with it. The model's own checks (hash, first run, golden outputs) run when it loads.
 */
function shadow(env: Env): ShadowConfig | undefined {
  const dir = env.SHADOW_MODEL_DIR?.trim();
  const rawRate = str(env, 'SHADOW_SAMPLE_RATE', '1');
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(rawRate) || !(Number(rawRate) > 0 && Number(rawRate) <= 1)) {
    throw new ConfigError('SHADOW_SAMPLE_RATE', `expected a share of rows with 0 < rate <= 1, got "${rawRate}"`);
  }
  if (!dir) return undefined;
  const modelDir = path.resolve(dir);
  try {
    statSync(path.join(modelDir, 'model.json'));
  } catch (err) {
    throw new ConfigError(
      'SHADOW_MODEL_DIR',
      `${modelDir} holds no readable model.json (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  return { modelDir, sampleRate: Number(rawRate) };
}

/** `key=value,key=value` with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
function keyValues(env: Env, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list(env, name, [])) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    // The message names the key at most: header values may be credentials.
    if (key === '') throw new ConfigError(name, `expected comma-separated key=value pairs, got an entry without a key`);
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(name, `the value of "${key}" is not valid percent-encoding`);
    }
  }
  return out;
}

function httpUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `expected an http(s) URL like http://collector:4318, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `expected an http(s) URL (the gRPC exporter is not included), got "${raw}"`);
  }
  return url;
}

/** The OTEL_* variables the OpenTelemetry SDK documents, with its defaults; what this server cannot do is refused. */
function tracing(env: Env): TracingConfig {
  const disabled = bool(env, 'OTEL_SDK_DISABLED', false);
  const exporters = list(env, 'OTEL_TRACES_EXPORTER', ['none']).map((e) => e.toLowerCase());
  for (const e of exporters) {
    if (e !== 'none' && e !== 'otlp') throw new ConfigError('OTEL_TRACES_EXPORTER', `expected otlp or none, got "${e}"`);
  }
  const protocolName = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim()
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = oneOf<OtlpProtocol>(env, protocolName, 'http/protobuf', ['http/protobuf', 'http/json']);
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', 'http://localhost:4318');
  const url = tracesEndpoint
    ? httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint).href
    : httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base).href.replace(/\/?$/, '/v1/traces');
  const ratioRaw = str(env, 'OTEL_TRACES_SAMPLER_ARG', '1');
  const samplerRatio = Number(ratioRaw);
  if (!/^\d*\.?\d+(e-?\d+)?$/i.test(ratioRaw) || samplerRatio > 1) {
    throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', `expected a ratio between 0 and 1, got "${ratioRaw}"`);
  }
  const maxQueueSize = int(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2_048, 1, 1_000_000);
  const maxExportBatchSize = int(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1, 1_000_000);
  if (maxExportBatchSize > maxQueueSize) {
    throw new ConfigError(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      `must be at most OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize}), got ${maxExportBatchSize}`,
    );
  }
  return {
    exporter: !disabled && exporters.includes('otlp') ? 'otlp' : 'none',
    url,
    protocol,
    headers: keyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS'),
    timeoutMs: int(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000, 1, 600_000),
    serviceName: str(env, 'OTEL_SERVICE_NAME', 'predictive-maintenance-api'),
    resourceAttributes: keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES'),
    sampler: oneOf<TracesSampler>(env, 'OTEL_TRACES_SAMPLER', 'parentbased_always_on', [
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ]),
    samplerRatio,
    batch: {
      scheduleDelayMs: int(env, 'OTEL_BSP_SCHEDULE_DELAY', 5_000, 0, 600_000),
      exportTimeoutMs: int(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1, 600_000),
      maxQueueSize,
      maxExportBatchSize,
    },
  };
}

/** The manifest `npm run codegen` writes and the repository commits (client/, the console, examples/client). */
export const DEFAULT_TRUSTED_DOCUMENTS_FILE = path.join(__dirname, '..', '..', 'client', 'persisted-documents.json');

function trustedDocuments(env: Env, production: boolean, introspection: boolean): TrustedDocumentsConfig {
  const mode = oneOf<TrustedDocumentsMode>(env, 'TRUSTED_DOCUMENTS', production ? 'require' : 'allow', ['off', 'allow', 'require']);
  const files = list(env, 'TRUSTED_DOCUMENTS_FILE', [DEFAULT_TRUSTED_DOCUMENTS_FILE]).map((f) => path.resolve(f));
  if (files.length === 0) throw new ConfigError('TRUSTED_DOCUMENTS_FILE', 'names no file; leave it unset for the committed manifest');
  if (new Set(files).size !== files.length) throw new ConfigError('TRUSTED_DOCUMENTS_FILE', 'names the same file twice');
  if (mode !== 'off') {
    for (const file of files) {
      try {
        accessSync(file, fsConstants.R_OK);
      } catch (err) {
        throw new ConfigError(
          'TRUSTED_DOCUMENTS_FILE',
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    }
  }
  return {
    mode,
    files: mode === 'off' ? [] : files,
    introspectionInRequire: mode === 'require' && introspection && env.INTROSPECTION !== undefined && env.INTROSPECTION.trim() !== '',
  };
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = oneOf<NodeEnv>(env, 'NODE_ENV', 'development', ['development', 'production', 'test']);
  const production = nodeEnv === 'production';
  const maxBatchRows = int(env, 'MAX_BATCH_ROWS', 1_000, 1, 100_000);
  const bodyLimitBytes = int(env, 'BODY_LIMIT_BYTES', 1_048_576, 1_024, 104_857_600);
  const largeBodiesMaxBytes = int(env, 'LARGE_BODIES_MAX_BYTES', 33_554_432, 1_024, 10_737_418_240);
  if (largeBodiesMaxBytes < bodyLimitBytes) {
    throw new ConfigError('LARGE_BODIES_MAX_BYTES', `must be at least BODY_LIMIT_BYTES (${bodyLimitBytes}), got ${largeBodiesMaxBytes}`);
  }
  const maxQueueRows = int(env, 'MAX_QUEUE_ROWS', 20_000, 1, 10_000_000);
  if (maxQueueRows < maxBatchRows) {
    throw new ConfigError('MAX_QUEUE_ROWS', `must be at least MAX_BATCH_ROWS (${maxBatchRows}), got ${maxQueueRows}`);
  }
  const window = str(env, 'RATE_LIMIT_WINDOW', '15m');
  const redisUrl = env.RATE_LIMIT_REDIS_URL?.trim() || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('RATE_LIMIT_REDIS_URL', `expected redis://host:port, got "${redisUrl}"`);
  }
  const port = int(env, 'PORT', 4000, 0, 65_535);
  const metricsPort = int(env, 'METRICS_PORT', port, 0, 65_535);
  const requestWindow = str(env, 'REQUEST_LIMIT_WINDOW', '1m');
  const logPretty = bool(env, 'LOG_PRETTY', false);
  if (logPretty && nodeEnv !== 'development') {
    throw new ConfigError(
      'LOG_PRETTY',
      `only with NODE_ENV=development (pino-pretty is a development dependency), got NODE_ENV=${nodeEnv}`,
    );
  }

  return {
    nodeEnv,
    production,
    server: serverConfig(env, port, production),
    inference: inferenceConfig(env, maxQueueRows),
    limits: {
      bodyLimitBytes,
      largeBodiesMaxBytes,
      maxQueryTokens: int(env, 'MAX_QUERY_TOKENS', 25_000, 100, 10_000_000),
      maxQueryDepth: int(env, 'MAX_QUERY_DEPTH', 8, 1, 100),
      maxQueryCost: int(env, 'MAX_QUERY_COST', 5_000, 1, 10_000_000),
      maxAliases: int(env, 'MAX_ALIASES', 15, 0, 1_000),
      maxRootFields: int(env, 'MAX_ROOT_FIELDS', 10, 1, 1_000),
      maxBatchRows,
    },
    protection: protectionConfig(env, { window, redisUrl, requestWindow }),
    observability: {
      logLevel: oneOf(env, 'LOG_LEVEL', nodeEnv === 'test' ? 'silent' : 'info', [
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ] as const),
      logPretty,
      metrics: {
        enabled: bool(env, 'METRICS_ENABLED', true),
        port: metricsPort === port ? undefined : metricsPort,
      },
      drift: driftSettings(env),
      tracing: tracing(env),
    },
    predictionLog: predictionLog(env),
  };
}

function serverConfig(env: Env, port: number, production: boolean): ServerConfig {
  const introspection = bool(env, 'INTROSPECTION', !production);
  return {
    host: str(env, 'HOST', '0.0.0.0'),
    port,
    workers: workers(env),
    trustProxy: trustProxy(env),
    headersTimeoutMs: int(env, 'HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    keepAliveTimeoutMs: int(env, 'KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    compressionThresholdBytes: int(env, 'COMPRESSION_THRESHOLD_BYTES', 1_024, 0, 100_000_000),
    corsOrigins: origins(env, 'CORS_ORIGINS', production ? [] : ['https://studio.apollographql.com']),
    graphqlExecutor: oneOf<GraphqlExecutor>(env, 'GRAPHQL_EXECUTOR', 'jit', ['jit', 'graphql-js']),
    introspection,
    landingPage: bool(env, 'LANDING_PAGE', !production),
    serveConsole: bool(env, 'SERVE_CONSOLE', !production),
    trustedDocuments: trustedDocuments(env, production, introspection),
  };
}

function inferenceConfig(env: Env, maxQueueRows: number): InferenceConfig {
  return {
    modelDir: path.resolve(str(env, 'MODEL_DIR', 'models')),
    device: oneOf<InferenceDevice>(env, 'INFERENCE_DEVICE', 'auto', ['auto', 'cpu', 'cuda']),
    threads: int(env, 'INFERENCE_THREADS', 1, 1, 256),
    maxBatchSize: int(env, 'MAX_BATCH_SIZE', 1_024, 1, 100_000),
    maxBatchWaitMs: int(env, 'MAX_BATCH_WAIT_MS', 0, 0, 1_000),
    maxQueueRows,
    maxQueueWaitMs: int(env, 'MAX_QUEUE_WAIT_MS', 1_000, 1, 600_000),
    shadow: shadow(env),
  };
}

/** RATE_LIMIT_WINDOW, RATE_LIMIT_REDIS_URL and REQUEST_LIMIT_WINDOW are read (and checked) first, in loadConfig. */
function protectionConfig(env: Env, read: { window: string; redisUrl: string | undefined; requestWindow: string }): ProtectionConfig {
  const { window, redisUrl, requestWindow } = read;
  return {
    apiKeys: keyHashes(env, 'API_KEYS'),
    adminApiKeys: keyHashes(env, 'ADMIN_API_KEYS'),
    rateLimit: {
      enabled: bool(env, 'RATE_LIMIT_ENABLED', true),
      max: int(env, 'RATE_LIMIT_MAX', 100, 1, 100_000_000),
      windowMs: parseDuration('RATE_LIMIT_WINDOW', window),
      window,
      rowsMax: int(env, 'RATE_LIMIT_ROWS_MAX', 100_000, 1, 1_000_000_000),
      redisUrl,
      failMode: oneOf<RateLimitFailMode>(env, 'RATE_LIMIT_FAIL_MODE', 'memory', ['memory', 'open', 'closed']),
      memoryMaxKeys: int(env, 'RATE_LIMIT_MEMORY_MAX_KEYS', 100_000, 1, 100_000_000),
      redisPrefix: str(env, 'RATE_LIMIT_REDIS_PREFIX', 'pm:rl:'),
    },
    requestLimit: {
      max: int(env, 'REQUEST_LIMIT_MAX', 600, 1, 100_000_000),
      windowMs: parseDuration('REQUEST_LIMIT_WINDOW', requestWindow),
      window: requestWindow,
    },
    maxEventLoopDelayMs: int(env, 'MAX_EVENT_LOOP_DELAY_MS', 1_000, 0, 60_000),
  };
}
