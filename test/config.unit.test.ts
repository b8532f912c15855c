// Configuration pinned down: every default of an empty environment, every variable read under its own
// name, every numeric bound from both sides, and each parser's accepted spellings.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseDuration, type Config } from '../src/config';

function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.name, 'ConfigError');
    assert.ok(err.message.startsWith(`Invalid configuration: ${err.variable}: `), err.message);
    return err;
  }
  assert.fail(`loadConfig(${JSON.stringify(env)}) should have thrown`);
}

const H1 = '0123456789abcdef'.repeat(4);
const H2 = 'fedcba9876543210'.repeat(4);

describe('loadConfig: defaults', () => {
  it('an empty environment gives these values (a changed default must change this table)', () => {
    const expected: Config = {
      nodeEnv: 'development',
      production: false,
      host: '0.0.0.0',
      port: 4000,
      logLevel: 'info',
      logPretty: false,
      modelDir: path.resolve('models'),
      inferenceDevice: 'auto',
      inferenceThreads: 1,
      maxBatchSize: 1_024,
      maxBatchWaitMs: 0,
      maxQueueRows: 20_000,
      maxQueueWaitMs: 1_000,
      maxBatchRows: 1_000,
      graphqlExecutor: 'jit',
      bodyLimitBytes: 1_048_576,
      corsOrigins: ['https://studio.apollographql.com'],
      introspection: true,
      landingPage: true,
      shutdownTimeoutMs: 10_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      maxQueryDepth: 8,
      maxQueryCost: 5_000,
      maxAliases: 15,
      maxRootFields: 10,
      rateLimit: {
        enabled: true,
        max: 100,
        windowMs: 900_000,
        window: '15m',
        rowsMax: 100_000,
        redisUrl: undefined,
        failMode: 'memory',
        memoryMaxKeys: 100_000,
        redisPrefix: 'pm:rl:',
      },
      apiKeys: { hashes: [], file: undefined },
      adminApiKeys: { hashes: [], file: undefined },
      metrics: { enabled: true, port: undefined },
      workers: 1,
      trustProxy: false,
      serveConsole: true,
      requestLimit: { max: 600, windowMs: 60_000, window: '1m' },
      maxQueryTokens: 25_000,
      maxEventLoopDelayMs: 1_000,
      compressionThresholdBytes: 1_024,
      largeBodiesMaxBytes: 33_554_432,
    };
    assert.deepEqual(loadConfig({}), expected);
  });

  it('production and test change only the defaults that depend on them', () => {
    const base = loadConfig({});
    const prod = loadConfig({ NODE_ENV: 'production' });
    assert.deepEqual(prod, {
      ...base,
      nodeEnv: 'production',
      production: true,
      corsOrigins: [],
      introspection: false,
      landingPage: false,
      serveConsole: false,
    });
    const t = loadConfig({ NODE_ENV: 'test' });
    assert.deepEqual(t, { ...base, nodeEnv: 'test', logLevel: 'silent' });
  });

  it('blank values count as unset', () => {
    assert.deepEqual(loadConfig({ PORT: '  ', HOST: '', LOG_LEVEL: ' ', RATE_LIMIT_WINDOW: '', INTROSPECTION: '' }), loadConfig({}));
  });
});

describe('loadConfig: every variable is read under its name', () => {
  const cases: Array<[string, string, (c: Config) => unknown, unknown]> = [
    ['NODE_ENV', 'TEST', (c) => c.nodeEnv, 'test'],
    ['HOST', ' 127.0.0.1 ', (c) => c.host, '127.0.0.1'],
    ['PORT', '8080', (c) => c.port, 8080],
    ['LOG_LEVEL', 'Debug', (c) => c.logLevel, 'debug'],
    ['MODEL_DIR', '/srv/models', (c) => c.modelDir, '/srv/models'],
    ['INFERENCE_DEVICE', 'CUDA', (c) => c.inferenceDevice, 'cuda'],
    ['INFERENCE_THREADS', '4', (c) => c.inferenceThreads, 4],
    ['MAX_BATCH_SIZE', '64', (c) => c.maxBatchSize, 64],
    ['MAX_BATCH_WAIT_MS', '5', (c) => c.maxBatchWaitMs, 5],
    ['MAX_QUEUE_ROWS', '5000', (c) => c.maxQueueRows, 5_000],
    ['MAX_BATCH_ROWS', '500', (c) => c.maxBatchRows, 500],
    ['GRAPHQL_EXECUTOR', 'graphql-js', (c) => c.graphqlExecutor, 'graphql-js'],
    ['BODY_LIMIT_BYTES', '2048', (c) => c.bodyLimitBytes, 2_048],
    ['LARGE_BODIES_MAX_BYTES', '2097152', (c) => c.largeBodiesMaxBytes, 2_097_152],
    [
      'CORS_ORIGINS',
      'https://a.example.com, *,,http://localhost:5173',
      (c) => c.corsOrigins,
      ['https://a.example.com', '*', 'http://localhost:5173'],
    ],
    ['INTROSPECTION', 'off', (c) => c.introspection, false],
    ['LANDING_PAGE', 'no', (c) => c.landingPage, false],
    ['SHUTDOWN_TIMEOUT_MS', '0', (c) => c.shutdownTimeoutMs, 0],
    ['HEADERS_TIMEOUT_MS', '100', (c) => c.headersTimeoutMs, 100],
    ['REQUEST_TIMEOUT_MS', '600000', (c) => c.requestTimeoutMs, 600_000],
    ['KEEP_ALIVE_TIMEOUT_MS', '7000', (c) => c.keepAliveTimeoutMs, 7_000],
    ['MAX_QUERY_DEPTH', '3', (c) => c.maxQueryDepth, 3],
    ['MAX_QUERY_COST', '77', (c) => c.maxQueryCost, 77],
    ['MAX_ALIASES', '0', (c) => c.maxAliases, 0],
    ['MAX_ROOT_FIELDS', '2', (c) => c.maxRootFields, 2],
    ['RATE_LIMIT_ENABLED', 'FALSE', (c) => c.rateLimit.enabled, false],
    ['RATE_LIMIT_MAX', '7', (c) => c.rateLimit.max, 7],
    ['RATE_LIMIT_WINDOW', '2h', (c) => [c.rateLimit.window, c.rateLimit.windowMs], ['2h', 7_200_000]],
    ['RATE_LIMIT_ROWS_MAX', '9', (c) => c.rateLimit.rowsMax, 9],
    ['RATE_LIMIT_REDIS_URL', ' rediss://cache:6380 ', (c) => c.rateLimit.redisUrl, 'rediss://cache:6380'],
    ['RATE_LIMIT_FAIL_MODE', 'closed', (c) => c.rateLimit.failMode, 'closed'],
    ['RATE_LIMIT_MEMORY_MAX_KEYS', '10', (c) => c.rateLimit.memoryMaxKeys, 10],
    ['RATE_LIMIT_REDIS_PREFIX', 'x:', (c) => c.rateLimit.redisPrefix, 'x:'],
    ['API_KEYS', `${H1.toUpperCase()}, ${H2},${H1}`, (c) => c.apiKeys, { hashes: [H1, H2], file: undefined }],
    ['TRUST_PROXY', '1', (c) => c.trustProxy, 1],
    ['SERVE_CONSOLE', '0', (c) => c.serveConsole, false],
  ];
  for (const [name, value, read, expected] of cases) {
    it(`${name}=${JSON.stringify(value)}`, () => {
      const env: Record<string, string> = { [name]: value };
      if (name === 'MAX_QUEUE_ROWS') env.MAX_BATCH_ROWS = '10';
      assert.deepEqual(read(loadConfig(env)), expected);
      assert.notDeepEqual(
        read(loadConfig(name === 'MAX_QUEUE_ROWS' ? { MAX_BATCH_ROWS: '10' } : {})),
        expected,
        'differs from the default',
      );
    });
  }
});

describe('loadConfig: numeric bounds from both sides', () => {
  const bounds: Array<[string, number, number]> = [
    ['PORT', 0, 65_535],
    ['INFERENCE_THREADS', 1, 256],
    ['MAX_BATCH_SIZE', 1, 100_000],
    ['MAX_BATCH_WAIT_MS', 0, 1_000],
    ['MAX_BATCH_ROWS', 1, 100_000],
    ['MAX_QUEUE_ROWS', 1, 10_000_000], // with MAX_BATCH_ROWS=1: its other floor
    ['BODY_LIMIT_BYTES', 1_024, 104_857_600],
    ['LARGE_BODIES_MAX_BYTES', 1_024, 10_737_418_240], // with BODY_LIMIT_BYTES=1024: its other floor
    ['SHUTDOWN_TIMEOUT_MS', 0, 600_000],
    ['HEADERS_TIMEOUT_MS', 100, 600_000],
    ['REQUEST_TIMEOUT_MS', 100, 600_000],
    ['KEEP_ALIVE_TIMEOUT_MS', 100, 600_000],
    ['MAX_QUERY_DEPTH', 1, 100],
    ['MAX_QUERY_COST', 1, 10_000_000],
    ['MAX_ALIASES', 0, 1_000],
    ['MAX_ROOT_FIELDS', 1, 1_000],
    ['RATE_LIMIT_MAX', 1, 100_000_000],
    ['RATE_LIMIT_ROWS_MAX', 1, 1_000_000_000],
    ['RATE_LIMIT_MEMORY_MAX_KEYS', 1, 100_000_000],
  ];
  for (const [name, min, max] of bounds) {
    it(`${name}: ${min} to ${max}`, () => {
      // Settings that bound each other in pairs: keep the other one out of the way.
      const others: Record<string, Record<string, string>> = {
        MAX_QUEUE_ROWS: { MAX_BATCH_ROWS: '1' },
        MAX_BATCH_ROWS: { MAX_QUEUE_ROWS: '10000000' },
        LARGE_BODIES_MAX_BYTES: { BODY_LIMIT_BYTES: '1024' },
        BODY_LIMIT_BYTES: { LARGE_BODIES_MAX_BYTES: '10737418240' },
      };
      const extra = others[name] ?? {};
      for (const ok of [min, max]) assert.doesNotThrow(() => loadConfig({ ...extra, [name]: String(ok) }), `${name}=${ok}`);
      const low = refusal({ ...extra, [name]: String(min - 1) });
      assert.equal(low.variable, name);
      assert.equal(low.message, `Invalid configuration: ${name}: must be between ${min} and ${max}, got ${min - 1}`);
      const high = refusal({ ...extra, [name]: String(max + 1) });
      assert.equal(high.message, `Invalid configuration: ${name}: must be between ${min} and ${max}, got ${max + 1}`);
    });
  }

  it('LARGE_BODIES_MAX_BYTES may not be below BODY_LIMIT_BYTES (equal is fine): a largest body must fit', () => {
    assert.equal(loadConfig({ BODY_LIMIT_BYTES: '4096', LARGE_BODIES_MAX_BYTES: '4096' }).largeBodiesMaxBytes, 4_096);
    const e = refusal({ BODY_LIMIT_BYTES: '4096', LARGE_BODIES_MAX_BYTES: '4095' });
    assert.equal(e.message, 'Invalid configuration: LARGE_BODIES_MAX_BYTES: must be at least BODY_LIMIT_BYTES (4096), got 4095');
    assert.equal(refusal({ BODY_LIMIT_BYTES: '33554433' }).variable, 'LARGE_BODIES_MAX_BYTES', 'against its default of 32 MiB');
  });

  it('MAX_QUEUE_ROWS may not be below MAX_BATCH_ROWS (equal is fine)', () => {
    assert.equal(loadConfig({ MAX_BATCH_ROWS: '500', MAX_QUEUE_ROWS: '500' }).maxQueueRows, 500);
    const e = refusal({ MAX_BATCH_ROWS: '500', MAX_QUEUE_ROWS: '499' });
    assert.equal(e.message, 'Invalid configuration: MAX_QUEUE_ROWS: must be at least MAX_BATCH_ROWS (500), got 499');
    assert.equal(refusal({ MAX_QUEUE_ROWS: '999' }).variable, 'MAX_QUEUE_ROWS', 'against the default MAX_BATCH_ROWS of 1,000');
  });
});

describe('loadConfig: parsers', () => {
  it('integers: whole numbers only, with an optional minus sign', () => {
    assert.equal(loadConfig({ MAX_ALIASES: ' 12 ' }).maxAliases, 12);
    for (const bad of ['1.5', '12abc', 'abc12', '1e3', '0x10', '+5', '- 1']) {
      assert.equal(refusal({ MAX_ALIASES: bad }).message, `Invalid configuration: MAX_ALIASES: expected an integer, got "${bad.trim()}"`);
    }
    assert.match(refusal({ MAX_ALIASES: '-1' }).message, /must be between 0 and 1000, got -1$/, 'a negative integer is an integer');
  });

  it('booleans: 1/true/yes/on and 0/false/no/off, any case', () => {
    for (const yes of ['1', 'true', 'yes', 'on', 'TRUE', 'On'])
      assert.equal(loadConfig({ NODE_ENV: 'production', INTROSPECTION: yes }).introspection, true, yes);
    for (const no of ['0', 'false', 'no', 'off', 'FALSE', 'Off']) assert.equal(loadConfig({ INTROSPECTION: no }).introspection, false, no);
    assert.equal(refusal({ LANDING_PAGE: 'maybe' }).message, 'Invalid configuration: LANDING_PAGE: expected true or false, got "maybe"');
  });

  it('choices: case-insensitive, the message lists what is allowed', () => {
    assert.equal(
      refusal({ NODE_ENV: 'staging' }).message,
      'Invalid configuration: NODE_ENV: expected one of development, production, test, got "staging"',
    );
    assert.equal(
      refusal({ LOG_LEVEL: 'verbose' }).message,
      'Invalid configuration: LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    );
    assert.equal(refusal({ INFERENCE_DEVICE: 'tpu' }).variable, 'INFERENCE_DEVICE');
    assert.equal(refusal({ GRAPHQL_EXECUTOR: 'fast' }).variable, 'GRAPHQL_EXECUTOR');
    assert.equal(refusal({ RATE_LIMIT_FAIL_MODE: 'maybe' }).variable, 'RATE_LIMIT_FAIL_MODE');
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      assert.equal(loadConfig({ LOG_LEVEL: level }).logLevel, level);
  });

  it('durations: ms, s (the default unit), m, h, d; at least 1 s', () => {
    assert.equal(parseDuration('X', '900'), 900_000);
    assert.equal(parseDuration('X', '1000ms'), 1_000);
    assert.equal(parseDuration('X', '1s'), 1_000);
    assert.equal(parseDuration('X', '15m'), 900_000);
    assert.equal(parseDuration('X', '2h'), 7_200_000);
    assert.equal(parseDuration('X', '3d'), 259_200_000);
    assert.equal(parseDuration('X', ' 5m '), 300_000);
    for (const bad of ['soon', '15 m', '1.5h', '-5s', '5w', 'm', '15mm', 'x15m']) {
      assert.throws(
        () => parseDuration('RATE_LIMIT_WINDOW', bad),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.variable === 'RATE_LIMIT_WINDOW' &&
          e.message === `Invalid configuration: RATE_LIMIT_WINDOW: expected a duration like 15m, 900s or 1h, got "${bad}"`,
        bad,
      );
    }
    assert.throws(() => parseDuration('X', '999ms'), { message: 'Invalid configuration: X: must be at least 1s, got "999ms"' });
    assert.throws(() => parseDuration('X', '0'), /at least 1s/);
    assert.equal(refusal({ RATE_LIMIT_WINDOW: '10ms' }).variable, 'RATE_LIMIT_WINDOW');
  });

  it('lists: comma-separated, trimmed, empty entries dropped; an empty value is an empty list', () => {
    assert.deepEqual(loadConfig({ CORS_ORIGINS: '' }).corsOrigins, []);
    assert.deepEqual(loadConfig({ CORS_ORIGINS: ' , ' }).corsOrigins, []);
    assert.deepEqual(loadConfig({ API_KEYS: '' }).apiKeys.hashes, []);
  });

  it('CORS origins must be bare origins or *', () => {
    assert.equal(
      refusal({ CORS_ORIGINS: 'https://a.example.com/app' }).message,
      'Invalid configuration: CORS_ORIGINS: "https://a.example.com/app" is not an origin (write https://a.example.com)',
    );
    assert.equal(
      refusal({ CORS_ORIGINS: 'app.example.com' }).message,
      'Invalid configuration: CORS_ORIGINS: "app.example.com" is not an origin like https://app.example.com',
    );
    assert.equal(
      refusal({ CORS_ORIGINS: 'https://ok.example.com, https://A.example.com' }).variable,
      'CORS_ORIGINS',
      'an upper-case host is not the origin a browser sends',
    );
  });

  it('API_KEYS holds SHA-256 hex digests only', () => {
    assert.equal(
      refusal({ API_KEYS: `${H1},${H1.slice(1)}` }).message,
      'Invalid configuration: API_KEYS: expected comma-separated SHA-256 hex digests of the keys (never the keys)',
    );
    assert.equal(refusal({ API_KEYS: `${H1}0` }).variable, 'API_KEYS');
    assert.equal(refusal({ API_KEYS: `x${H1}` }).variable, 'API_KEYS');
    assert.equal(refusal({ API_KEYS: H1.replace('a', 'g') }).variable, 'API_KEYS');
  });

  it('API_KEYS_FILE: one digest a line, # comments, CRLF, merged with API_KEYS without duplicates', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-cfg-'));
    const file = path.join(dir, 'keys');
    writeFileSync(file, `# team\r\n${H1.toUpperCase()}  # ops\r\n\r\n   \n${H2}\n`);
    assert.deepEqual(loadConfig({ API_KEYS_FILE: ` ${file} ` }).apiKeys, { hashes: [H1, H2], file });
    assert.deepEqual(loadConfig({ API_KEYS: H2, API_KEYS_FILE: file }).apiKeys.hashes, [H2, H1]);
    assert.deepEqual(loadConfig({ API_KEYS_FILE: '  ' }).apiKeys, { hashes: [], file: undefined });

    const bad = path.join(dir, 'bad');
    writeFileSync(bad, `${H1}\nmy-secret-key\n`);
    const e = refusal({ API_KEYS_FILE: bad });
    assert.equal(e.message, 'Invalid configuration: API_KEYS_FILE: line 2 is not a SHA-256 hex digest (store hashes of keys, never keys)');

    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '# nothing yet\n\n');
    assert.equal(refusal({ API_KEYS_FILE: empty }).message, `Invalid configuration: API_KEYS_FILE: ${empty} holds no key hashes`);

    const missing = path.join(dir, 'missing');
    assert.equal(refusal({ API_KEYS_FILE: missing }).message, `Invalid configuration: API_KEYS_FILE: cannot read ${missing}: ENOENT`);
  });

  it('RATE_LIMIT_REDIS_URL must be a redis:// or rediss:// URL', () => {
    assert.equal(loadConfig({ RATE_LIMIT_REDIS_URL: 'redis://localhost:6379' }).rateLimit.redisUrl, 'redis://localhost:6379');
    assert.equal(loadConfig({ RATE_LIMIT_REDIS_URL: '  ' }).rateLimit.redisUrl, undefined);
    for (const bad of ['localhost:6379', 'http://redis:6379', 'xredis://h', 'redis:/h']) {
      assert.equal(
        refusal({ RATE_LIMIT_REDIS_URL: bad }).message,
        `Invalid configuration: RATE_LIMIT_REDIS_URL: expected redis://host:port, got "${bad}"`,
      );
    }
  });
});
