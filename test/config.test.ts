import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../src/config';

function rejects(env: Record<string, string>, variable: string, pattern?: RegExp) {
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.variable, variable);
      assert.match(err.message, new RegExp(`^Invalid configuration: ${variable}: `));
      if (pattern) assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('loadConfig', () => {
  it('has documented defaults for an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.nodeEnv, 'development');
    assert.equal(c.server.port, 4000);
    assert.equal(c.inference.device, 'auto');
    assert.equal(c.inference.maxBatchSize, 1024);
    assert.equal(c.inference.maxBatchWaitMs, 0);
    assert.equal(c.limits.maxBatchRows, 1000);
    assert.equal(c.inference.maxQueueRows, 20000);
    assert.equal(c.protection.rateLimit.max, 100);
    assert.equal(c.protection.rateLimit.windowMs, 15 * 60_000);
    assert.equal(c.protection.rateLimit.rowsMax, 100_000);
    assert.equal(c.protection.rateLimit.failMode, 'memory');
    assert.equal(c.server.trustProxy, false);
    assert.deepEqual(c.protection.requestLimit, { max: 600, windowMs: 60_000, window: '1m' });
    assert.equal(c.limits.maxQueryTokens, 25_000);
    assert.equal(c.protection.maxEventLoopDelayMs, 1_000);
    assert.equal(c.server.compressionThresholdBytes, 1_024);
    assert.equal(c.server.introspection, true);
    assert.equal(c.server.landingPage, true);
    assert.ok(c.inference.modelDir.endsWith('models'));
  });

  it('turns introspection, the landing page and the console off in production', () => {
    const c = loadConfig({ NODE_ENV: 'production' });
    assert.equal(c.production, true);
    assert.equal(c.server.introspection, false);
    assert.equal(c.server.landingPage, false);
    assert.equal(c.server.serveConsole, false);
    assert.deepEqual(c.server.corsOrigins, []);
    assert.equal(loadConfig({ NODE_ENV: 'production', INTROSPECTION: 'true' }).server.introspection, true);
  });

  it('names the variable that is wrong', () => {
    rejects({ PORT: 'eighty' }, 'PORT', /integer/);
    rejects({ PORT: '70000' }, 'PORT', /between 0 and 65535/);
    rejects({ NODE_ENV: 'staging' }, 'NODE_ENV', /development, production, test/);
    rejects({ INFERENCE_DEVICE: 'tpu' }, 'INFERENCE_DEVICE');
    rejects({ MAX_BATCH_SIZE: '0' }, 'MAX_BATCH_SIZE');
    rejects({ MAX_BATCH_WAIT_MS: '-1' }, 'MAX_BATCH_WAIT_MS');
    rejects({ MAX_BATCH_ROWS: '5000', MAX_QUEUE_ROWS: '1000' }, 'MAX_QUEUE_ROWS', /at least MAX_BATCH_ROWS/);
    rejects({ RATE_LIMIT_WINDOW: 'soon' }, 'RATE_LIMIT_WINDOW');
    rejects({ RATE_LIMIT_FAIL_MODE: 'maybe' }, 'RATE_LIMIT_FAIL_MODE');
    rejects({ RATE_LIMIT_REDIS_URL: 'localhost:6379' }, 'RATE_LIMIT_REDIS_URL');
    rejects({ API_KEYS: 'plain-text-key' }, 'API_KEYS', /SHA-256/);
    rejects({ CORS_ORIGINS: 'https://a.example.com/path' }, 'CORS_ORIGINS');
    rejects({ INTROSPECTION: 'perhaps' }, 'INTROSPECTION');
  });

  it('parses durations in ms, s, m, h and d', () => {
    assert.equal(parseDuration('X', '900'), 900_000);
    assert.equal(parseDuration('X', '1500ms'), 1_500);
    assert.equal(parseDuration('X', '15m'), 900_000);
    assert.equal(parseDuration('X', '1h'), 3_600_000);
    assert.equal(parseDuration('X', '1d'), 86_400_000);
    assert.throws(() => parseDuration('X', '10ms'), /at least 1s/);
  });

  it('accepts explicit values', () => {
    const c = loadConfig({
      PORT: '0',
      MAX_BATCH_SIZE: '64',
      MAX_BATCH_WAIT_MS: '2',
      CORS_ORIGINS: 'https://a.example.com, http://localhost:5173',
      API_KEYS: 'A'.repeat(64),
      RATE_LIMIT_WINDOW: '1h',
    });
    assert.equal(c.server.port, 0);
    assert.equal(c.inference.maxBatchSize, 64);
    assert.equal(c.inference.maxBatchWaitMs, 2);
    assert.deepEqual(c.server.corsOrigins, ['https://a.example.com', 'http://localhost:5173']);
    assert.deepEqual(c.protection.apiKeys.hashes, ['a'.repeat(64)]);
    assert.equal(c.protection.rateLimit.windowMs, 3_600_000);
  });
});

describe('loadConfig: operations settings', () => {
  it('has documented defaults: metrics on the API port, no admin keys, 1 s queue wait, one worker', () => {
    const c = loadConfig({});
    assert.deepEqual(c.observability.metrics, { enabled: true, port: undefined });
    assert.deepEqual(c.protection.adminApiKeys, { hashes: [], file: undefined });
    assert.equal(c.inference.maxQueueWaitMs, 1_000);
    assert.equal(c.server.workers, 1);
  });

  it('reads METRICS_*, ADMIN_API_KEYS(_FILE), MAX_QUEUE_WAIT_MS and WORKERS', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'admin-keys-'));
    const file = path.join(dir, 'admins');
    writeFileSync(file, `# admins\n${'b'.repeat(64)}\n`);
    const c = loadConfig({
      METRICS_ENABLED: 'false',
      METRICS_PORT: '9464',
      ADMIN_API_KEYS: 'C'.repeat(64),
      ADMIN_API_KEYS_FILE: file,
      MAX_QUEUE_WAIT_MS: '250',
      WORKERS: '3',
    });
    assert.deepEqual(c.observability.metrics, { enabled: false, port: 9464 });
    assert.deepEqual(c.protection.adminApiKeys, { hashes: ['c'.repeat(64), 'b'.repeat(64)], file });
    assert.deepEqual(c.protection.apiKeys.hashes, [], 'admin keys do not turn API keys on');
    assert.equal(c.inference.maxQueueWaitMs, 250);
    assert.equal(c.server.workers, 3);
    assert.equal(
      loadConfig({ PORT: '9000', METRICS_PORT: '9000' }).observability.metrics.port,
      undefined,
      'the same port is the API listener',
    );
    assert.equal(loadConfig({ WORKERS: 'auto' }).server.workers, os.availableParallelism());
  });

  it('names the operations variable that is wrong', () => {
    rejects({ METRICS_ENABLED: 'sometimes' }, 'METRICS_ENABLED');
    rejects({ METRICS_PORT: '70000' }, 'METRICS_PORT', /between 0 and 65535/);
    rejects({ ADMIN_API_KEYS: 'hunter2' }, 'ADMIN_API_KEYS', /SHA-256/);
    rejects({ ADMIN_API_KEYS_FILE: '/no/such/admins' }, 'ADMIN_API_KEYS_FILE', /cannot read/);
    rejects({ MAX_QUEUE_WAIT_MS: '0' }, 'MAX_QUEUE_WAIT_MS', /between 1 and/);
    rejects({ WORKERS: 'many' }, 'WORKERS', /integer/);
    rejects({ WORKERS: '0' }, 'WORKERS', /between 1 and 256/);
  });
});

describe('loadConfig: OpenTelemetry tracing (the SDK variables, as the SDK documents them)', () => {
  it('reads the exporter, endpoint, protocol, resource, sampler and batch settings', () => {
    const c = loadConfig({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-tenant=pm',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_SERVICE_NAME: 'pm-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=a%2Cb',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_BSP_EXPORT_TIMEOUT: '5000',
      OTEL_BSP_MAX_QUEUE_SIZE: '4096',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
    });
    assert.deepEqual(c.observability.tracing, {
      exporter: 'otlp',
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/json',
      headers: { authorization: 'Bearer abc', 'x-tenant': 'pm' },
      timeoutMs: 2_500,
      serviceName: 'pm-eu',
      resourceAttributes: { 'deployment.environment.name': 'prod', team: 'a,b' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      batch: { scheduleDelayMs: 1_000, exportTimeoutMs: 5_000, maxQueueSize: 4_096, maxExportBatchSize: 1_024 },
    });
  });

  it('takes the traces-specific endpoint as is and the protocol override; OTEL_SDK_DISABLED turns it off', () => {
    const c = loadConfig({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example.com/custom/traces',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
    }).observability.tracing;
    assert.equal(c.url, 'https://otel.example.com/custom/traces');
    assert.equal(c.protocol, 'http/protobuf');
    assert.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }).observability.tracing.exporter, 'none');
    assert.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'none' }).observability.tracing.exporter, 'none');
    assert.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'OTLP' }).observability.tracing.exporter, 'otlp');
  });

  it('refuses what this server cannot do, naming the variable', () => {
    rejects({ OTEL_TRACES_EXPORTER: 'jaeger' }, 'OTEL_TRACES_EXPORTER', /otlp or none/);
    rejects({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL', /http\/protobuf, http\/json/);
    rejects({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL');
    rejects({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /http\(s\) URL/);
    rejects({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    rejects({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://c:4317' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    rejects({ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER');
    rejects({ OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG', /between 0 and 1/);
    rejects({ OTEL_TRACES_SAMPLER_ARG: '-0.1' }, 'OTEL_TRACES_SAMPLER_ARG');
    rejects({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200' }, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', /at most/);
    rejects({ OTEL_BSP_MAX_QUEUE_SIZE: '0' }, 'OTEL_BSP_MAX_QUEUE_SIZE');
    rejects({ OTEL_RESOURCE_ATTRIBUTES: 'novalue' }, 'OTEL_RESOURCE_ATTRIBUTES', /key=value/);
    rejects({ OTEL_SDK_DISABLED: 'maybe' }, 'OTEL_SDK_DISABLED');
  });

  it('never echoes a header value (a collector credential) in a refusal', () => {
    assert.throws(
      () => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=secret%ZZtoken' }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('secret') && err.message.includes('authorization'),
    );
  });
});
