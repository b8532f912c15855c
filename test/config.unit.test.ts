// Configuration pinned down: every default of an empty environment, every variable read under its own
// name, every numeric bound from both sides, and each parser's accepted spellings.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, loadEnvFile, parseDuration, type Config } from '../src/config';

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
      server: {
        host: '0.0.0.0',
        port: 4000,
        workers: 1,
        trustProxy: false,
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 5_000,
        shutdownTimeoutMs: 10_000,
        compressionThresholdBytes: 1_024,
        corsOrigins: ['https://studio.apollographql.com'],
        graphqlExecutor: 'jit',
        introspection: true,
        landingPage: true,
        serveConsole: true,
        trustedDocuments: { mode: 'allow', files: [path.resolve('client/persisted-documents.json')], introspectionInRequire: false },
      },
      inference: {
        modelDir: path.resolve('models'),
        device: 'auto',
        threads: 1,
        maxBatchSize: 1_024,
        maxBatchWaitMs: 0,
        maxQueueRows: 20_000,
        maxQueueWaitMs: 1_000,
        shadow: undefined,
      },
      limits: {
        bodyLimitBytes: 1_048_576,
        largeBodiesMaxBytes: 33_554_432,
        maxQueryTokens: 25_000,
        maxQueryDepth: 8,
        maxQueryCost: 5_000,
        maxAliases: 15,
        maxRootFields: 10,
        maxBatchRows: 1_000,
      },
      protection: {
        apiKeys: { hashes: [], file: undefined },
        adminApiKeys: { hashes: [], file: undefined },
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
        requestLimit: { max: 600, windowMs: 60_000, window: '1m' },
        maxEventLoopDelayMs: 1_000,
      },
      observability: {
        logLevel: 'info',
        logPretty: false,
        metrics: { enabled: true, port: undefined },
        drift: { enabled: true, windowRows: 10_000, maxAgeMs: 86_400_000, minRows: 500, psiModerate: 0.1, psiSignificant: 0.25 },
        tracing: {
          exporter: 'none',
          url: 'http://localhost:4318/v1/traces',
          protocol: 'http/protobuf',
          headers: {},
          timeoutMs: 10_000,
          serviceName: 'predictive-maintenance-api',
          resourceAttributes: {},
          sampler: 'parentbased_always_on',
          samplerRatio: 1,
          batch: { scheduleDelayMs: 5_000, exportTimeoutMs: 30_000, maxQueueSize: 2_048, maxExportBatchSize: 512 },
        },
      },
      predictionLog: { sink: { kind: 'off' }, bufferRecords: 10_000 },
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
      server: {
        ...base.server,
        corsOrigins: [],
        introspection: false,
        landingPage: false,
        serveConsole: false,
        trustedDocuments: { ...base.server.trustedDocuments, mode: 'require' },
      },
    });
    const t = loadConfig({ NODE_ENV: 'test' });
    assert.deepEqual(t, { ...base, nodeEnv: 'test', observability: { ...base.observability, logLevel: 'silent' } });
  });

  it('blank values count as unset', () => {
    assert.deepEqual(loadConfig({ PORT: '  ', HOST: '', LOG_LEVEL: ' ', RATE_LIMIT_WINDOW: '', INTROSPECTION: '' }), loadConfig({}));
  });
});

describe('loadConfig: every variable is read under its name', () => {
  const cases: Array<[string, string, (c: Config) => unknown, unknown]> = [
    ['NODE_ENV', 'TEST', (c) => c.nodeEnv, 'test'],
    ['HOST', ' 127.0.0.1 ', (c) => c.server.host, '127.0.0.1'],
    ['PORT', '8080', (c) => c.server.port, 8080],
    ['LOG_LEVEL', 'Debug', (c) => c.observability.logLevel, 'debug'],
    ['MODEL_DIR', '/srv/models', (c) => c.inference.modelDir, '/srv/models'],
    ['INFERENCE_DEVICE', 'CUDA', (c) => c.inference.device, 'cuda'],
    ['INFERENCE_THREADS', '4', (c) => c.inference.threads, 4],
    ['MAX_BATCH_SIZE', '64', (c) => c.inference.maxBatchSize, 64],
    ['MAX_BATCH_WAIT_MS', '5', (c) => c.inference.maxBatchWaitMs, 5],
    ['MAX_QUEUE_ROWS', '5000', (c) => c.inference.maxQueueRows, 5_000],
    ['MAX_BATCH_ROWS', '500', (c) => c.limits.maxBatchRows, 500],
    ['GRAPHQL_EXECUTOR', 'graphql-js', (c) => c.server.graphqlExecutor, 'graphql-js'],
    ['TRUSTED_DOCUMENTS', 'Require', (c) => c.server.trustedDocuments.mode, 'require'],
    [
      'TRUSTED_DOCUMENTS_FILE',
      ' package.json , README.md',
      (c) => c.server.trustedDocuments.files,
      [path.resolve('package.json'), path.resolve('README.md')],
    ],
    ['BODY_LIMIT_BYTES', '2048', (c) => c.limits.bodyLimitBytes, 2_048],
    ['LARGE_BODIES_MAX_BYTES', '2097152', (c) => c.limits.largeBodiesMaxBytes, 2_097_152],
    [
      'CORS_ORIGINS',
      'https://a.example.com, *,,http://localhost:5173',
      (c) => c.server.corsOrigins,
      ['https://a.example.com', '*', 'http://localhost:5173'],
    ],
    ['INTROSPECTION', 'off', (c) => c.server.introspection, false],
    ['LANDING_PAGE', 'no', (c) => c.server.landingPage, false],
    ['SHUTDOWN_TIMEOUT_MS', '0', (c) => c.server.shutdownTimeoutMs, 0],
    ['HEADERS_TIMEOUT_MS', '100', (c) => c.server.headersTimeoutMs, 100],
    ['REQUEST_TIMEOUT_MS', '600000', (c) => c.server.requestTimeoutMs, 600_000],
    ['KEEP_ALIVE_TIMEOUT_MS', '7000', (c) => c.server.keepAliveTimeoutMs, 7_000],
    ['MAX_QUERY_DEPTH', '3', (c) => c.limits.maxQueryDepth, 3],
    ['MAX_QUERY_COST', '77', (c) => c.limits.maxQueryCost, 77],
    ['MAX_ALIASES', '0', (c) => c.limits.maxAliases, 0],
    ['MAX_ROOT_FIELDS', '2', (c) => c.limits.maxRootFields, 2],
    ['RATE_LIMIT_ENABLED', 'FALSE', (c) => c.protection.rateLimit.enabled, false],
    ['RATE_LIMIT_MAX', '7', (c) => c.protection.rateLimit.max, 7],
    ['RATE_LIMIT_WINDOW', '2h', (c) => [c.protection.rateLimit.window, c.protection.rateLimit.windowMs], ['2h', 7_200_000]],
    ['RATE_LIMIT_ROWS_MAX', '9', (c) => c.protection.rateLimit.rowsMax, 9],
    ['RATE_LIMIT_REDIS_URL', ' rediss://cache:6380 ', (c) => c.protection.rateLimit.redisUrl, 'rediss://cache:6380'],
    ['RATE_LIMIT_FAIL_MODE', 'closed', (c) => c.protection.rateLimit.failMode, 'closed'],
    ['RATE_LIMIT_FAIL_MODE', 'Open', (c) => c.protection.rateLimit.failMode, 'open'],
    ['RATE_LIMIT_MEMORY_MAX_KEYS', '10', (c) => c.protection.rateLimit.memoryMaxKeys, 10],
    ['RATE_LIMIT_REDIS_PREFIX', 'x:', (c) => c.protection.rateLimit.redisPrefix, 'x:'],
    ['API_KEYS', `${H1.toUpperCase()}, ${H2},${H1}`, (c) => c.protection.apiKeys, { hashes: [H1, H2], file: undefined }],
    ['TRUST_PROXY', '1', (c) => c.server.trustProxy, 1],
    ['SERVE_CONSOLE', '0', (c) => c.server.serveConsole, false],
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
    assert.equal(loadConfig({ BODY_LIMIT_BYTES: '4096', LARGE_BODIES_MAX_BYTES: '4096' }).limits.largeBodiesMaxBytes, 4_096);
    const e = refusal({ BODY_LIMIT_BYTES: '4096', LARGE_BODIES_MAX_BYTES: '4095' });
    assert.equal(e.message, 'Invalid configuration: LARGE_BODIES_MAX_BYTES: must be at least BODY_LIMIT_BYTES (4096), got 4095');
    assert.equal(refusal({ BODY_LIMIT_BYTES: '33554433' }).variable, 'LARGE_BODIES_MAX_BYTES', 'against its default of 32 MiB');
  });

  it('MAX_QUEUE_ROWS may not be below MAX_BATCH_ROWS (equal is fine)', () => {
    assert.equal(loadConfig({ MAX_BATCH_ROWS: '500', MAX_QUEUE_ROWS: '500' }).inference.maxQueueRows, 500);
    const e = refusal({ MAX_BATCH_ROWS: '500', MAX_QUEUE_ROWS: '499' });
    assert.equal(e.message, 'Invalid configuration: MAX_QUEUE_ROWS: must be at least MAX_BATCH_ROWS (500), got 499');
    assert.equal(refusal({ MAX_QUEUE_ROWS: '999' }).variable, 'MAX_QUEUE_ROWS', 'against the default MAX_BATCH_ROWS of 1,000');
  });
});

describe('loadConfig: parsers', () => {
  it('integers: whole numbers only, with an optional minus sign', () => {
    assert.equal(loadConfig({ MAX_ALIASES: ' 12 ' }).limits.maxAliases, 12);
    for (const bad of ['1.5', '12abc', 'abc12', '1e3', '0x10', '+5', '- 1']) {
      assert.equal(refusal({ MAX_ALIASES: bad }).message, `Invalid configuration: MAX_ALIASES: expected an integer, got "${bad.trim()}"`);
    }
    assert.match(refusal({ MAX_ALIASES: '-1' }).message, /must be between 0 and 1000, got -1$/, 'a negative integer is an integer');
  });

  it('booleans: 1/true/yes/on and 0/false/no/off, any case', () => {
    for (const yes of ['1', 'true', 'yes', 'on', 'TRUE', 'On'])
      assert.equal(loadConfig({ NODE_ENV: 'production', INTROSPECTION: yes }).server.introspection, true, yes);
    for (const no of ['0', 'false', 'no', 'off', 'FALSE', 'Off'])
      assert.equal(loadConfig({ INTROSPECTION: no }).server.introspection, false, no);
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
      assert.equal(loadConfig({ LOG_LEVEL: level }).observability.logLevel, level);
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
    assert.deepEqual(loadConfig({ CORS_ORIGINS: '' }).server.corsOrigins, []);
    assert.deepEqual(loadConfig({ CORS_ORIGINS: ' , ' }).server.corsOrigins, []);
    assert.deepEqual(loadConfig({ API_KEYS: '' }).protection.apiKeys.hashes, []);
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
    assert.deepEqual(loadConfig({ API_KEYS_FILE: ` ${file} ` }).protection.apiKeys, { hashes: [H1, H2], file });
    assert.deepEqual(loadConfig({ API_KEYS: H2, API_KEYS_FILE: file }).protection.apiKeys.hashes, [H2, H1]);
    assert.deepEqual(loadConfig({ API_KEYS_FILE: '  ' }).protection.apiKeys, { hashes: [], file: undefined });

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
    assert.equal(loadConfig({ RATE_LIMIT_REDIS_URL: 'redis://localhost:6379' }).protection.rateLimit.redisUrl, 'redis://localhost:6379');
    assert.equal(loadConfig({ RATE_LIMIT_REDIS_URL: '  ' }).protection.rateLimit.redisUrl, undefined);
    for (const bad of ['localhost:6379', 'http://redis:6379', 'xredis://h', 'redis:/h']) {
      assert.equal(
        refusal({ RATE_LIMIT_REDIS_URL: bad }).message,
        `Invalid configuration: RATE_LIMIT_REDIS_URL: expected redis://host:port, got "${bad}"`,
      );
    }
  });
});

describe('TRUST_PROXY', () => {
  const cases: Array<[string | undefined, false | number | string[]]> = [
    [undefined, false],
    ['', false],
    ['0', false],
    ['false', false],
    [' No ', false],
    ['OFF', false],
    ['00', false],
    ['1', 1],
    [' 2 ', 2],
    ['10', 10],
    ['10.0.0.1', ['10.0.0.1']],
    [' 10.0.0.0/8 , ::1,,127.0.0.1/32 ', ['10.0.0.0/8', '::1', '127.0.0.1/32']],
    ['FE80::1/128', ['FE80::1/128']],
    ['loopback, linklocal,uniquelocal', ['loopback', 'linklocal', 'uniquelocal']],
  ];
  for (const [raw, expected] of cases) {
    it(`${JSON.stringify(raw)} trusts ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(loadConfig({ TRUST_PROXY: raw }).server.trustProxy, expected);
    });
  }

  it('refuses true/yes/on: trusting every hop believes what the client wrote', () => {
    for (const raw of ['true', 'YES', ' on ']) {
      const e = refusal({ TRUST_PROXY: raw });
      assert.equal(e.variable, 'TRUST_PROXY');
      assert.equal(
        e.message,
        `Invalid configuration: TRUST_PROXY: "${raw.trim().toLowerCase()}" would trust every X-Forwarded-For entry, and clients ` +
          'write the leftmost one themselves; set the number of proxies in front of the server (1 behind one ingress or ' +
          'nginx) or their addresses/CIDRs',
      );
    }
  });

  it('a hop count is at most 10', () => {
    assert.equal(
      refusal({ TRUST_PROXY: '11' }).message,
      'Invalid configuration: TRUST_PROXY: a hop count must be between 0 and 10, got 11',
    );
    assert.equal(refusal({ TRUST_PROXY: '100' }).variable, 'TRUST_PROXY');
  });

  it('refuses anything that is not an address, a CIDR or a named range', () => {
    for (const entry of ['proxy.example.com', 'x10.0.0.1', '10.0.0.1x', '10.0.0.0/1280', '10.0.0.0/', 'LOOPBACK', 'any']) {
      assert.equal(
        refusal({ TRUST_PROXY: `127.0.0.1,${entry}` }).message,
        `Invalid configuration: TRUST_PROXY: "${entry}" is not an address, a CIDR or one of loopback, linklocal, uniquelocal`,
        entry,
      );
    }
  });
});

describe('loadEnvFile', () => {
  const dirWith = (files: Record<string, string>, dirs: string[] = []): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-envfile-'));
    for (const d of dirs) mkdirSync(path.join(dir, d));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
  };

  it('reads .env unless ENV_FILE names another file; a blank ENV_FILE is unset', () => {
    const dir = dirWith({ '.env': 'A=dot\nB=dot\n', 'other.env': 'A=other\n' });
    for (const [named, expected] of [
      [undefined, { A: 'dot', B: 'dot' }],
      ['', { A: 'dot', B: 'dot' }],
      ['   ', { A: 'dot', B: 'dot' }],
      [' other.env ', { A: 'other' }],
    ] as const) {
      const env: Record<string, string | undefined> = named === undefined ? {} : { ENV_FILE: named };
      const file = loadEnvFile(env, dir);
      assert.equal(file, path.join(dir, named?.trim() ? 'other.env' : '.env'), String(named));
      const { ENV_FILE: _named, ...read } = env;
      assert.deepEqual(read, expected, String(named));
    }
  });

  it('resolves ENV_FILE against the working directory given, or takes it as is when absolute', () => {
    const dir = dirWith({ 'x.env': 'X=1\n' });
    const elsewhere = dirWith({});
    const env: Record<string, string | undefined> = { ENV_FILE: path.join(dir, 'x.env') };
    assert.equal(loadEnvFile(env, elsewhere), path.join(dir, 'x.env'));
    assert.equal(env.X, '1');
    assert.equal(loadEnvFile({ ENV_FILE: 'x.env' }, dir), path.join(dir, 'x.env'));
  });

  it('a .env that exists but cannot be read stops start-up; only a missing one is skipped', () => {
    const dir = dirWith({}, ['.env', 'dir.env']);
    assert.equal(
      refusalOf(() => loadEnvFile({}, dir)).message,
      `Invalid configuration: ENV_FILE: cannot read ${path.join(dir, '.env')}: EISDIR`,
    );
    assert.equal(
      refusalOf(() => loadEnvFile({ ENV_FILE: 'dir.env' }, dir)).message,
      `Invalid configuration: ENV_FILE: cannot read ${path.join(dir, 'dir.env')}: EISDIR`,
    );
    assert.equal(refusalOf(() => loadEnvFile({ ENV_FILE: 'gone.env' }, dirWith({}))).variable, 'ENV_FILE');
    assert.equal(loadEnvFile({}, dirWith({})), undefined, 'no .env and no ENV_FILE: nothing to read');
  });

  it('never overwrites a variable that is set, and sets every one that is not', () => {
    const dir = dirWith({ '.env': 'SET=file\nEMPTY=file\nNEW=file\nQUOTED="a b"\n' });
    const env: Record<string, string | undefined> = { SET: 'env', EMPTY: '' };
    loadEnvFile(env, dir);
    assert.deepEqual(env, { SET: 'env', EMPTY: '', NEW: 'file', QUOTED: 'a b' });
  });

  it('defaults to process.env and the process working directory', () => {
    const name = `PM_CONFIG_UNIT_${process.pid}`;
    const dir = dirWith({ '.env': `${name}=from-file\n` });
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      assert.equal(loadEnvFile(), path.join(dir, '.env'));
      assert.equal(process.env[name], 'from-file');
    } finally {
      process.chdir(cwd);
      delete process.env[name];
    }
  });
});

describe('admin keys, metrics, workers and the request budget', () => {
  it('ADMIN_API_KEYS and ADMIN_API_KEYS_FILE: digests only, merged, lower-cased, deduplicated', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-admin-'));
    const file = path.join(dir, 'admins');
    writeFileSync(file, `${H2.toUpperCase()} # ops\r\n# nobody\n\n${H1}\n`);
    assert.deepEqual(loadConfig({ ADMIN_API_KEYS: ` ${H1.toUpperCase()} ` }).protection.adminApiKeys, { hashes: [H1], file: undefined });
    assert.deepEqual(loadConfig({ ADMIN_API_KEYS: H1, ADMIN_API_KEYS_FILE: ` ${file} ` }).protection.adminApiKeys, {
      hashes: [H1, H2],
      file,
    });
    assert.deepEqual(loadConfig({ ADMIN_API_KEYS_FILE: '  ' }).protection.adminApiKeys, { hashes: [], file: undefined });
    assert.deepEqual(loadConfig({ ADMIN_API_KEYS: H1 }).protection.apiKeys, { hashes: [], file: undefined }, 'admin keys are not API keys');
    assert.deepEqual(loadConfig({ API_KEYS: H1 }).protection.adminApiKeys, { hashes: [], file: undefined }, 'API keys are not admin keys');

    assert.equal(
      refusal({ ADMIN_API_KEYS: `${H1},secret` }).message,
      'Invalid configuration: ADMIN_API_KEYS: expected comma-separated SHA-256 hex digests of the keys (never the keys)',
    );
    const bad = path.join(dir, 'bad');
    writeFileSync(bad, `# admins\n${H1}\nhunter2\n`);
    assert.equal(
      refusal({ ADMIN_API_KEYS_FILE: bad }).message,
      'Invalid configuration: ADMIN_API_KEYS_FILE: line 3 is not a SHA-256 hex digest (store hashes of keys, never keys)',
    );
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '\n# none\n');
    assert.equal(
      refusal({ ADMIN_API_KEYS_FILE: empty }).message,
      `Invalid configuration: ADMIN_API_KEYS_FILE: ${empty} holds no key hashes`,
    );
    assert.equal(refusal({ ADMIN_API_KEYS_FILE: dir }).message, `Invalid configuration: ADMIN_API_KEYS_FILE: cannot read ${dir}: EISDIR`);
  });

  it('METRICS_ENABLED, and METRICS_PORT: its own listener unless it is the API port', () => {
    const metrics = (env: Record<string, string>) => loadConfig(env).observability.metrics;
    assert.deepEqual(metrics({ METRICS_ENABLED: 'off' }), { enabled: false, port: undefined });
    assert.deepEqual(metrics({ METRICS_ENABLED: 'YES' }), { enabled: true, port: undefined });
    assert.deepEqual(metrics({ PORT: '5000' }), { enabled: true, port: undefined }, 'unset: the API port, whatever it is');
    assert.deepEqual(metrics({ PORT: '5000', METRICS_PORT: '4000' }), { enabled: true, port: 4000 });
    assert.deepEqual(metrics({ METRICS_PORT: '4000' }), { enabled: true, port: undefined });
    assert.deepEqual(metrics({ METRICS_PORT: '0' }), { enabled: true, port: 0 });
    assert.deepEqual(metrics({ METRICS_PORT: '65535' }), { enabled: true, port: 65_535 });
    assert.equal(refusal({ METRICS_PORT: '-1' }).message, 'Invalid configuration: METRICS_PORT: must be between 0 and 65535, got -1');
    assert.equal(refusal({ METRICS_PORT: '65536' }).message, 'Invalid configuration: METRICS_PORT: must be between 0 and 65535, got 65536');
    assert.equal(
      refusal({ METRICS_ENABLED: 'maybe' }).message,
      'Invalid configuration: METRICS_ENABLED: expected true or false, got "maybe"',
    );
  });

  it('WORKERS: a count from 1 to 256, or auto (any case) for one per core', () => {
    for (const [raw, expected] of [
      ['1', 1],
      [' 4 ', 4],
      ['256', 256],
      ['auto', availableParallelism()],
      [' AUTO ', availableParallelism()],
    ] as const) {
      assert.equal(loadConfig({ WORKERS: raw }).server.workers, expected, raw);
    }
    assert.equal(refusal({ WORKERS: '0' }).message, 'Invalid configuration: WORKERS: must be between 1 and 256, got 0');
    assert.equal(refusal({ WORKERS: '257' }).message, 'Invalid configuration: WORKERS: must be between 1 and 256, got 257');
    assert.equal(refusal({ WORKERS: 'automatic' }).message, 'Invalid configuration: WORKERS: expected an integer, got "automatic"');
  });

  it('REQUEST_LIMIT_MAX and REQUEST_LIMIT_WINDOW', () => {
    const budget = (env: Record<string, string>) => loadConfig(env).protection.requestLimit;
    assert.deepEqual(budget({ REQUEST_LIMIT_MAX: '7', REQUEST_LIMIT_WINDOW: '30s' }), { max: 7, windowMs: 30_000, window: '30s' });
    assert.deepEqual(budget({ REQUEST_LIMIT_WINDOW: ' 2h ' }), { max: 600, windowMs: 7_200_000, window: '2h' });
    assert.deepEqual(budget({ REQUEST_LIMIT_MAX: ' ', REQUEST_LIMIT_WINDOW: '' }), { max: 600, windowMs: 60_000, window: '1m' });
    assert.deepEqual(budget({ REQUEST_LIMIT_MAX: '1' }).max, 1);
    assert.deepEqual(budget({ REQUEST_LIMIT_MAX: '100000000' }).max, 100_000_000);
    assert.equal(
      refusal({ REQUEST_LIMIT_MAX: '0' }).message,
      'Invalid configuration: REQUEST_LIMIT_MAX: must be between 1 and 100000000, got 0',
    );
    assert.equal(refusal({ REQUEST_LIMIT_MAX: '100000001' }).variable, 'REQUEST_LIMIT_MAX');
    assert.equal(
      refusal({ REQUEST_LIMIT_WINDOW: 'soon' }).message,
      'Invalid configuration: REQUEST_LIMIT_WINDOW: expected a duration like 15m, 900s or 1h, got "soon"',
    );
    assert.equal(
      refusal({ REQUEST_LIMIT_WINDOW: '999ms' }).message,
      'Invalid configuration: REQUEST_LIMIT_WINDOW: must be at least 1s, got "999ms"',
    );
  });

  it('the other bounded settings, from both sides', () => {
    for (const [name, min, max] of [
      ['MAX_QUEUE_WAIT_MS', 1, 600_000],
      ['MAX_QUERY_TOKENS', 100, 10_000_000],
      ['MAX_EVENT_LOOP_DELAY_MS', 0, 60_000],
      ['COMPRESSION_THRESHOLD_BYTES', 0, 100_000_000],
    ] as const) {
      for (const ok of [min, max]) assert.doesNotThrow(() => loadConfig({ [name]: String(ok) }), `${name}=${ok}`);
      for (const bad of [min - 1, max + 1]) {
        assert.equal(
          refusal({ [name]: String(bad) }).message,
          `Invalid configuration: ${name}: must be between ${min} and ${max}, got ${bad}`,
        );
      }
    }
    assert.equal(loadConfig({ MAX_QUEUE_WAIT_MS: '250' }).inference.maxQueueWaitMs, 250);
    assert.equal(loadConfig({ MAX_QUERY_TOKENS: '500' }).limits.maxQueryTokens, 500);
    assert.equal(loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '0' }).protection.maxEventLoopDelayMs, 0);
    assert.equal(loadConfig({ COMPRESSION_THRESHOLD_BYTES: '0' }).server.compressionThresholdBytes, 0);
  });

  it('LOG_PRETTY only in development, named in the refusal', () => {
    assert.equal(loadConfig({ LOG_PRETTY: 'on' }).observability.logPretty, true);
    assert.equal(loadConfig({ NODE_ENV: 'test', LOG_PRETTY: 'off' }).observability.logPretty, false);
    for (const nodeEnv of ['test', 'production']) {
      assert.equal(
        refusal({ NODE_ENV: nodeEnv, LOG_PRETTY: 'true' }).message,
        `Invalid configuration: LOG_PRETTY: only with NODE_ENV=development (pino-pretty is a development dependency), got NODE_ENV=${nodeEnv}`,
      );
    }
  });
});

function refusalOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('should have thrown a ConfigError');
}

describe('loadConfig: INFERENCE_DEVICE', () => {
  it('INFERENCE_DEVICE accepts each of auto, cpu and cuda', () => {
    for (const device of ['auto', 'cpu', 'cuda']) assert.equal(loadConfig({ INFERENCE_DEVICE: device }).inference.device, device);
  });
});
