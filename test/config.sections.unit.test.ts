// The configuration sections added after test/config.unit.test.ts's tables (issue 25's mutation run found
// them untested there): drift thresholds, the prediction log's sink, the shadow model, trusted documents.
// Each variable: its default, a value taken, both bounds, and the refusal naming the variable.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, DEFAULT_TRUSTED_DOCUMENTS_FILE, loadConfig } from '../src/config';

const dir = mkdtempSync(path.join(os.tmpdir(), 'config-sections-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function refuses(env: Record<string, string>, variable: string, message: string | RegExp): void {
  assert.throws(
    () => loadConfig(env),
    (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.variable, variable);
      if (typeof message === 'string') assert.equal(err.message, `Invalid configuration: ${variable}: ${message}`);
      else assert.match(err.message, message);
      return true;
    },
    JSON.stringify(env),
  );
}

describe('drift settings', () => {
  const drift = (env: Record<string, string>) => loadConfig(env).observability.drift;

  it('defaults, and each variable taken', () => {
    assert.deepEqual(drift({}), {
      enabled: true,
      windowRows: 10_000,
      maxAgeMs: 86_400_000,
      minRows: 500,
      psiModerate: 0.1,
      psiSignificant: 0.25,
    });
    assert.deepEqual(
      drift({
        DRIFT_ENABLED: 'false',
        DRIFT_WINDOW_ROWS: '200',
        DRIFT_WINDOW_MAX_AGE: '90s',
        DRIFT_MIN_ROWS: '200',
        DRIFT_PSI_MODERATE: '0.5',
        DRIFT_PSI_SIGNIFICANT: '2',
      }),
      { enabled: false, windowRows: 200, maxAgeMs: 90_000, minRows: 200, psiModerate: 0.5, psiSignificant: 2 },
    );
  });

  it('DRIFT_MIN_ROWS at most DRIFT_WINDOW_ROWS; significant above moderate', () => {
    assert.equal(drift({ DRIFT_WINDOW_ROWS: '100', DRIFT_MIN_ROWS: '100' }).minRows, 100);
    refuses({ DRIFT_WINDOW_ROWS: '100', DRIFT_MIN_ROWS: '101' }, 'DRIFT_MIN_ROWS', 'must be at most DRIFT_WINDOW_ROWS (100), got 101');
    refuses({ DRIFT_PSI_MODERATE: '0.25' }, 'DRIFT_PSI_SIGNIFICANT', 'must be above DRIFT_PSI_MODERATE (0.25), got 0.25');
    refuses({ DRIFT_PSI_SIGNIFICANT: '0.05' }, 'DRIFT_PSI_SIGNIFICANT', 'must be above DRIFT_PSI_MODERATE (0.1), got 0.05');
    assert.equal(drift({ DRIFT_PSI_MODERATE: '0.2499' }).psiModerate, 0.2499);
  });

  it('PSI thresholds: plain decimals between 0.001 and 10, both ends included', () => {
    assert.equal(drift({ DRIFT_PSI_MODERATE: '0.001' }).psiModerate, 0.001);
    assert.equal(drift({ DRIFT_PSI_MODERATE: '9', DRIFT_PSI_SIGNIFICANT: '10' }).psiSignificant, 10);
    refuses({ DRIFT_PSI_MODERATE: '0.0009' }, 'DRIFT_PSI_MODERATE', 'must be between 0.001 and 10, got 0.0009');
    refuses({ DRIFT_PSI_SIGNIFICANT: '10.5' }, 'DRIFT_PSI_SIGNIFICANT', 'must be between 0.001 and 10, got 10.5');
    for (const raw of ['.5', '1.', '-1', '1e-2', '0.1x', 'x0.1', 'abc']) {
      refuses({ DRIFT_PSI_MODERATE: raw }, 'DRIFT_PSI_MODERATE', `expected a number like 0.25, got "${raw}"`);
    }
  });

  it('DRIFT_WINDOW_MAX_AGE: a duration; anything else is refused, naming the variable', () => {
    assert.equal(drift({ DRIFT_WINDOW_MAX_AGE: '15m' }).maxAgeMs, 900_000);
    refuses({ DRIFT_WINDOW_MAX_AGE: 'soon' }, 'DRIFT_WINDOW_MAX_AGE', 'expected a duration like 15m, 900s or 1h, got "soon"');
  });
});

describe('prediction log', () => {
  const log = (env: Record<string, string>) => loadConfig(env).predictionLog;

  it('off by default, with the buffer default', () => {
    assert.deepEqual(log({}), { sink: { kind: 'off' }, bufferRecords: 10_000 });
    assert.deepEqual(log({ PREDICTION_LOG: 'OFF', PREDICTION_LOG_BUFFER_RECORDS: '5' }), { sink: { kind: 'off' }, bufferRecords: 5 });
  });

  it('redis needs a redis:// or rediss:// URL, and takes stream and record limit', () => {
    assert.deepEqual(log({ PREDICTION_LOG: 'redis', PREDICTION_LOG_REDIS_URL: ' redis://r:6379 ' }).sink, {
      kind: 'redis',
      url: 'redis://r:6379',
      stream: 'pm:predictions',
      maxRecords: 1_000_000,
    });
    assert.deepEqual(
      log({ PREDICTION_LOG: 'Redis', PREDICTION_LOG_REDIS_URL: 'rediss://r', PREDICTION_LOG_STREAM: 's', PREDICTION_LOG_MAX_RECORDS: '7' })
        .sink,
      { kind: 'redis', url: 'rediss://r', stream: 's', maxRecords: 7 },
    );
    refuses({ PREDICTION_LOG: 'redis' }, 'PREDICTION_LOG', 'redis needs PREDICTION_LOG_REDIS_URL (redis://host:port)');
    refuses({ PREDICTION_LOG: 'redis', PREDICTION_LOG_REDIS_URL: '  ' }, 'PREDICTION_LOG', /redis needs/);
    for (const url of ['http://r:6379', 'r:6379', 'xredis://r']) {
      refuses({ PREDICTION_LOG_REDIS_URL: url }, 'PREDICTION_LOG_REDIS_URL', `expected redis://host:port, got "${url}"`);
    }
  });

  it('file:PATH resolves the path, checks it can be written, and takes the size limit', () => {
    const file = path.join(dir, 'predictions.jsonl');
    assert.deepEqual(log({ PREDICTION_LOG: `file:${file}` }).sink, { kind: 'file', path: file, maxBytes: 104_857_600 });
    writeFileSync(file, '');
    assert.deepEqual(log({ PREDICTION_LOG: `file:${file}`, PREDICTION_LOG_MAX_BYTES: '4096' }).sink, {
      kind: 'file',
      path: file,
      maxBytes: 4096,
    });
    assert.equal((log({ PREDICTION_LOG: 'file:relative.jsonl' }).sink as { path: string }).path, path.resolve('relative.jsonl'));
    refuses({ PREDICTION_LOG: `file:${dir}` }, 'PREDICTION_LOG', `${dir} is a directory, not a file`);
    const missing = path.join(dir, 'absent', 'p.jsonl');
    refuses({ PREDICTION_LOG: `file:${missing}` }, 'PREDICTION_LOG', `cannot write ${missing}: ENOENT`);
    if (process.getuid?.() !== 0) {
      const locked = path.join(dir, 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      refuses({ PREDICTION_LOG: `file:${path.join(locked, 'p.jsonl')}` }, 'PREDICTION_LOG', /EACCES/);
    }
    for (const raw of ['file:', 'files', 'FILE:/tmp/x', 'on']) {
      refuses({ PREDICTION_LOG: raw }, 'PREDICTION_LOG', `expected off, file:PATH or redis, got "${raw}"`);
    }
  });
});

describe('shadow model', () => {
  const shadow = (env: Record<string, string>) => loadConfig(env).inference.shadow;
  const modelDir = path.join(dir, 'shadow');
  mkdirSync(modelDir);
  writeFileSync(path.join(modelDir, 'model.json'), '{}');

  it('none without SHADOW_MODEL_DIR; the directory resolved and the sample rate with it', () => {
    assert.equal(shadow({}), undefined);
    assert.equal(shadow({ SHADOW_MODEL_DIR: '  ' }), undefined);
    assert.deepEqual(shadow({ SHADOW_MODEL_DIR: modelDir }), { modelDir, sampleRate: 1 });
    for (const [raw, rate] of [
      ['0.5', 0.5],
      ['.25', 0.25],
      ['1.', 1],
      ['1.0', 1],
      ['0.001', 0.001],
      ['00.5', 0.5],
      ['01', 1],
    ] as const) {
      assert.deepEqual(shadow({ SHADOW_MODEL_DIR: ` ${modelDir} `, SHADOW_SAMPLE_RATE: raw }), { modelDir, sampleRate: rate });
    }
  });

  it('refuses a rate outside 0 < rate <= 1 or not a plain decimal, even without a directory', () => {
    for (const raw of ['0', '0.0', '1.01', '2', '-0.5', '1e-1', 'half', '0.5x', 'x0.5', '.']) {
      refuses({ SHADOW_SAMPLE_RATE: raw }, 'SHADOW_SAMPLE_RATE', `expected a share of rows with 0 < rate <= 1, got "${raw}"`);
    }
  });

  it('refuses a directory without a readable model.json, naming the reason', () => {
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    refuses({ SHADOW_MODEL_DIR: empty }, 'SHADOW_MODEL_DIR', `${empty} holds no readable model.json (ENOENT)`);
  });
});

describe('trusted documents', () => {
  const trusted = (env: Record<string, string>) => loadConfig(env).server.trustedDocuments;
  const manifest = path.join(dir, 'documents.json');
  writeFileSync(manifest, '{}');
  const other = path.join(dir, 'more.json');
  writeFileSync(other, '{}');

  it('allow in development, require in production, the committed manifest by default', () => {
    assert.deepEqual(trusted({}), { mode: 'allow', files: [DEFAULT_TRUSTED_DOCUMENTS_FILE], introspectionInRequire: false });
    assert.deepEqual(trusted({ NODE_ENV: 'production' }), {
      mode: 'require',
      files: [DEFAULT_TRUSTED_DOCUMENTS_FILE],
      introspectionInRequire: false,
    });
  });

  it('files resolved, listed in order; off keeps none and reads none', () => {
    assert.deepEqual(trusted({ TRUSTED_DOCUMENTS_FILE: `${manifest},${other}` }).files, [manifest, other]);
    const absent = path.join(dir, 'absent.json');
    assert.deepEqual(trusted({ TRUSTED_DOCUMENTS: 'off', TRUSTED_DOCUMENTS_FILE: absent }), {
      mode: 'off',
      files: [],
      introspectionInRequire: false,
    });
    refuses({ TRUSTED_DOCUMENTS_FILE: absent }, 'TRUSTED_DOCUMENTS_FILE', `cannot read ${absent}: ENOENT`);
    refuses(
      { TRUSTED_DOCUMENTS: 'require', TRUSTED_DOCUMENTS_FILE: `${manifest},${absent}` },
      'TRUSTED_DOCUMENTS_FILE',
      `cannot read ${absent}: ENOENT`,
    );
    refuses({ TRUSTED_DOCUMENTS_FILE: ' , ' }, 'TRUSTED_DOCUMENTS_FILE', 'names no file; leave it unset for the committed manifest');
    refuses(
      { TRUSTED_DOCUMENTS: 'off', TRUSTED_DOCUMENTS_FILE: `${manifest},${manifest}` },
      'TRUSTED_DOCUMENTS_FILE',
      'names the same file twice',
    );
    refuses(
      { TRUSTED_DOCUMENTS_FILE: `${manifest},${path.relative(process.cwd(), manifest)}` },
      'TRUSTED_DOCUMENTS_FILE',
      'names the same file twice',
    );
  });

  it('introspection in require mode only when INTROSPECTION is set explicitly and true', () => {
    const base = { TRUSTED_DOCUMENTS: 'require', TRUSTED_DOCUMENTS_FILE: manifest };
    assert.equal(trusted({ ...base, INTROSPECTION: 'true' }).introspectionInRequire, true);
    assert.equal(trusted({ ...base }).introspectionInRequire, false, 'the development default is not an explicit choice');
    assert.equal(trusted({ ...base, INTROSPECTION: 'false' }).introspectionInRequire, false);
    assert.equal(trusted({ ...base, INTROSPECTION: ' ' }).introspectionInRequire, false);
    assert.equal(trusted({ ...base, TRUSTED_DOCUMENTS: 'allow', INTROSPECTION: 'true' }).introspectionInRequire, false);
  });
});

describe('tracing: the OTEL_* variables read leniently where the SDK does', () => {
  const tracing = (env: Record<string, string>) => loadConfig(env).observability.tracing;

  it('keys and values of OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS are trimmed', () => {
    assert.deepEqual(tracing({ OTEL_RESOURCE_ATTRIBUTES: 'team =ml, region= eu ,tier = gold' }).resourceAttributes, {
      team: 'ml',
      region: 'eu',
      tier: 'gold',
    });
    assert.deepEqual(tracing({ OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant =pm,authorization= Bearer%20abc' }).headers, {
      'x-tenant': 'pm',
      authorization: 'Bearer abc',
    });
  });

  it('a malformed endpoint is refused with an example of a good one, quoting what was given', () => {
    refuses(
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' },
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'expected an http(s) URL like http://collector:4318, got "not a url"',
    );
    refuses(
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' },
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      'expected an http(s) URL like http://collector:4318, got "not a url"',
    );
  });

  it('a blank traces-specific protocol or endpoint falls back to the general one', () => {
    assert.equal(tracing({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: '  ', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol, 'http/json');
    assert.equal(tracing({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: '', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol, 'http/json');
    assert.equal(
      tracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '  ', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).url,
      'http://collector:4318/v1/traces',
    );
    assert.equal(tracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' }).url, 'http://localhost:4318/v1/traces');
  });

  it('/v1/traces is appended to the general endpoint, with or without a path or a trailing slash', () => {
    for (const [base, url] of [
      ['http://collector:4318', 'http://collector:4318/v1/traces'],
      ['http://collector:4318/', 'http://collector:4318/v1/traces'],
      ['http://collector:4318/otel', 'http://collector:4318/otel/v1/traces'],
      ['https://collector:4318/otel/', 'https://collector:4318/otel/v1/traces'],
    ] as const) {
      assert.equal(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: base }).url, url, base);
    }
  });

  it('OTEL_TRACES_SAMPLER_ARG: a decimal or exponent form between 0 and 1; trailing text refused', () => {
    for (const [raw, ratio] of [
      ['1e0', 1],
      ['1E0', 1],
      ['1e-5', 1e-5],
      ['1e-10', 1e-10],
      ['.5', 0.5],
      ['0', 0],
      ['1', 1],
    ] as const) {
      assert.equal(tracing({ OTEL_TRACES_SAMPLER_ARG: raw }).samplerRatio, ratio, raw);
    }
    for (const raw of ['0.5x', '1e', '1e-', 'e-5', '0.5 1', '1e1']) {
      refuses({ OTEL_TRACES_SAMPLER_ARG: raw }, 'OTEL_TRACES_SAMPLER_ARG', `expected a ratio between 0 and 1, got "${raw}"`);
    }
  });

  it('OTEL_BSP_MAX_QUEUE_SIZE may equal the export batch size, not be smaller', () => {
    assert.deepEqual(tracing({ OTEL_BSP_MAX_QUEUE_SIZE: '512' }).batch, {
      scheduleDelayMs: 5_000,
      exportTimeoutMs: 30_000,
      maxQueueSize: 512,
      maxExportBatchSize: 512,
    });
    refuses({ OTEL_BSP_MAX_QUEUE_SIZE: '511' }, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'must be at most OTEL_BSP_MAX_QUEUE_SIZE (511), got 512');
  });

  it('OTEL_TRACES_SAMPLER: each of the six SDK samplers, in any case', () => {
    assert.equal(tracing({}).sampler, 'parentbased_always_on');
    for (const name of [
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ]) {
      assert.equal(tracing({ OTEL_TRACES_SAMPLER: name }).sampler, name);
      assert.equal(tracing({ OTEL_TRACES_SAMPLER: ` ${name.toUpperCase()} ` }).sampler, name);
    }
    refuses(
      { OTEL_TRACES_SAMPLER: 'parentbased' },
      'OTEL_TRACES_SAMPLER',
      'expected one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, got "parentbased"',
    );
  });
});
