import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, it, mock } from 'node:test';
import pino from 'pino';
import { App, type AppOptions } from '../src/app';
import { ConfigError, loadConfig, type Config } from '../src/config';
import { defaultConsoleDir } from '../src/http/console';
import { DriftMonitor } from '../src/inference/drift';
import { InferenceService, type InferenceServiceOptions } from '../src/inference/inference.service';
import { ModelHost } from '../src/inference/model-host';
import { Metrics } from '../src/observability/metrics';
import * as tracingModule from '../src/observability/tracing';
import type { Tracing } from '../src/observability/tracing.types';
import { PredictionLog } from '../src/prediction-log/prediction-log';
import { TrustedDocuments } from '../src/protection/trusted-documents';
import * as schemaModule from '../src/schema';
import { buildSchema, createApp, loadModel, RESOLVERS } from '../src/server';
import { fakeService } from './helpers/fake-models';
import { LogCapture } from './helpers/server';

// The composition root (src/server.ts): what createApp wires into the App for each configuration (metrics,
// tracing, drift, the prediction log, trusted documents, the console), and how loadModel loads the primary
// and the shadow model, on spies and a fake inference service (no model is loaded here).

const silent = pino({ level: 'silent' });
const config = (env: Record<string, string> = {}): Config =>
  loadConfig({ ENV_FILE: '/dev/null', NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', TRUSTED_DOCUMENTS: 'off', ...env });

afterEach(() => mock.restoreAll());

/** createApp with App.create recorded; the app is stopped before this returns. */
async function created(cfg: Config, models = new ModelHost()): Promise<{ options: AppOptions; app: App }> {
  const create = App.create.bind(App);
  let options: AppOptions | undefined;
  mock.method(App, 'create', async (o: AppOptions) => {
    options = o;
    return create(o);
  });
  const app = await createApp(cfg, silent, models);
  await app.stop();
  assert.ok(options);
  return { options, app };
}

describe('createApp', () => {
  it('builds the schema from every resolver with the protection middlewares, and hands the App what it wired', async () => {
    const builds: Array<Parameters<typeof schemaModule.buildAppSchema>[0]> = [];
    const real = schemaModule.buildAppSchema;
    mock.method(schemaModule, 'buildAppSchema', (o: Parameters<typeof schemaModule.buildAppSchema>[0]) => (builds.push(o), real(o)));
    const cfg = config({ SERVE_CONSOLE: 'false' });
    const models = new ModelHost();
    const { options, app } = await created(cfg, models);
    assert.equal(builds.length, 1);
    assert.equal(builds[0].resolvers, RESOLVERS);
    assert.equal(builds[0].globalMiddlewares, options.protection.globalMiddlewares);
    assert.ok(options.protection.globalMiddlewares && options.protection.globalMiddlewares.length > 0);
    assert.equal(options.schema, app.schema);
    assert.equal(options.config, cfg);
    assert.equal(options.models, models);
    assert.equal(options.logger, silent);
    assert.ok(options.metrics instanceof Metrics);
    assert.equal(app.metrics, options.metrics);
    assert.equal(options.tracing, undefined);
    assert.equal(options.trusted, undefined);
    assert.equal(options.consoleDir, undefined);
    assert.equal(models.predictionLog, undefined);
  });

  it('buildSchema alone serves every resolver: predictions, the model, the rate limit', async () => {
    const schema = await buildSchema();
    const queries = Object.keys(schema.getQueryType()!.getFields());
    for (const field of ['modelInfo', 'rateLimit', 'health']) assert.ok(queries.includes(field), `${field} in ${queries}`);
    assert.ok(Object.keys(schema.getMutationType()!.getFields()).includes('predict'));
  });

  it('serves the console from its built directory when SERVE_CONSOLE is on', async () => {
    const { options } = await created(config({ SERVE_CONSOLE: 'true' }));
    assert.equal(options.consoleDir, defaultConsoleDir());
  });

  it('no metrics and no tracing: no model observer, and drift still watched', async () => {
    const models = new ModelHost();
    const observe = mock.method(models, 'observe');
    const watch = mock.method(models, 'watchDrift');
    const { options } = await created(config({ METRICS_ENABLED: 'false' }), models);
    assert.equal(options.metrics, undefined);
    assert.equal(observe.mock.callCount(), 0);
    assert.equal(watch.mock.callCount(), 1);
    assert.ok(watch.mock.calls[0].arguments[0] instanceof DriftMonitor);
  });

  it('metrics observe the model and the same drift monitor the model host counts in', async () => {
    const models = new ModelHost();
    const observe = mock.method(models, 'observe');
    const watch = mock.method(models, 'watchDrift');
    const metricsDrift = mock.method(Metrics.prototype, 'watchDrift');
    const { options } = await created(config(), models);
    assert.equal(observe.mock.callCount(), 1);
    const observer = observe.mock.calls[0].arguments[0];
    assert.deepEqual(Object.keys(observer).sort(), Object.keys(options.metrics!.modelObserver()).sort());
    assert.ok(observer.inference);
    const drift = watch.mock.calls[0].arguments[0];
    assert.ok(drift instanceof DriftMonitor);
    assert.equal(metricsDrift.mock.callCount(), 1);
    assert.equal(metricsDrift.mock.calls[0].this, options.metrics);
    assert.equal(metricsDrift.mock.calls[0].arguments[0], drift);
  });

  it('tracing, when configured, gets the logger and the metrics, and its model observer is merged with the metrics one', async () => {
    const seen: Array<Parameters<typeof tracingModule.createTracing>> = [];
    const tracingObserver = { reload: { started: () => undefined } };
    const fake: Tracing = {
      registerHttp: () => undefined,
      apolloPlugin: () => ({}),
      modelObserver: () => tracingObserver as never,
      shutdown: async () => undefined,
    };
    mock.method(tracingModule, 'createTracing', (...args: Parameters<typeof tracingModule.createTracing>) => (seen.push(args), fake));
    const models = new ModelHost();
    const observe = mock.method(models, 'observe');
    const cfg = config();
    const { options } = await created(cfg, models);
    assert.equal(seen.length, 1);
    assert.equal(seen[0][0], cfg.observability.tracing);
    assert.equal(seen[0][1].logger, silent);
    assert.equal(seen[0][1].metrics, options.metrics);
    assert.equal(options.tracing, fake);
    const observer = observe.mock.calls[0].arguments[0];
    assert.equal((observer as unknown as typeof tracingObserver).reload, tracingObserver.reload);
    assert.ok(observer.inference, 'the metrics observer is merged in');

    // Tracing without metrics: the tracing observer alone.
    const alone = new ModelHost();
    const observeAlone = mock.method(alone, 'observe');
    await created(config({ METRICS_ENABLED: 'false' }), alone);
    assert.equal(seen[1][1].metrics, undefined);
    assert.equal((observeAlone.mock.calls[0].arguments[0] as unknown as typeof tracingObserver).reload, tracingObserver.reload);
  });

  it('opens the prediction log PREDICTION_LOG names (no cluster worker id in a single process)', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'server-unit-')), 'predictions.jsonl');
    const creates: Array<Parameters<typeof PredictionLog.create>> = [];
    const real = PredictionLog.create.bind(PredictionLog);
    mock.method(PredictionLog, 'create', async (...args: Parameters<typeof PredictionLog.create>) => (creates.push(args), real(...args)));
    const models = new ModelHost();
    const cfg = config({ PREDICTION_LOG: `file:${file}` });
    const { options } = await created(cfg, models);
    assert.ok(models.predictionLog instanceof PredictionLog);
    assert.equal(creates[0][0], cfg.predictionLog);
    assert.equal(creates[0][1], silent);
    assert.equal(creates[0][2], options.metrics!.registry);
    assert.equal(creates[0][3], undefined);
    await models.predictionLog.close?.();
  });

  it('loads trusted documents unless TRUSTED_DOCUMENTS=off, checked against the schema, limits and rules', async () => {
    const creates: Array<Parameters<typeof TrustedDocuments.create>[0]> = [];
    const real = TrustedDocuments.create.bind(TrustedDocuments);
    mock.method(TrustedDocuments, 'create', async (o: Parameters<typeof TrustedDocuments.create>[0]) => (creates.push(o), real(o)));
    const cfg = config({ TRUSTED_DOCUMENTS: 'allow', INTROSPECTION: 'false' });
    const { options, app } = await created(cfg);
    assert.ok(options.trusted instanceof TrustedDocuments);
    assert.equal(app.trustedDocuments, options.trusted);
    assert.ok(options.trusted.size > 0);
    assert.equal(creates.length, 1);
    assert.equal(creates[0].config, cfg.server.trustedDocuments);
    assert.equal(creates[0].schema, options.schema);
    assert.equal(creates[0].limits, cfg.limits);
    assert.equal(creates[0].validationRules, options.protection.validationRules);
    assert.equal(creates[0].introspection, false);
    const { options: off } = await created(config({ TRUSTED_DOCUMENTS: 'off' }));
    assert.equal(off.trusted, undefined);
    assert.equal(creates.length, 1);
  });

  it('works on a model host of its own when none is given', async () => {
    const app = await createApp(config(), silent);
    try {
      const res = await app.fastify.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json(), { status: 'loading' });
    } finally {
      await app.stop();
    }
  });
});

describe('loadModel', () => {
  interface FakeHost {
    host: ModelHost;
    created: InferenceServiceOptions[];
    shadowOptions: unknown[];
  }
  const HOOKS = { onBatch: () => undefined } as never;
  const SHADOW_HOOKS = { onBatch: () => 'shadow' } as never;

  function fakeHost(shadowFails?: Error): FakeHost {
    const primary = fakeService();
    const created: InferenceServiceOptions[] = [];
    const shadowOptions: unknown[] = [];
    mock.method(InferenceService, 'create', async (o: InferenceServiceOptions) => {
      created.push(o);
      return primary.service;
    });
    const host = {
      predictionLog: { tag: 'the log' },
      load: async (factory: (hooks: unknown) => Promise<InferenceService>) => factory(HOOKS),
      loadShadow: async (factory: (hooks: unknown) => Promise<InferenceService>, options: unknown) => {
        shadowOptions.push(options);
        await factory(SHADOW_HOOKS);
        if (shadowFails) throw shadowFails;
        return { version: '2.0.0+shadow' };
      },
    } as unknown as ModelHost;
    return { host, created, shadowOptions };
  }

  it('loads the configured model with the model host hooks, the prediction log and a run-error logger', async () => {
    const cfg = config({ MODEL_DIR: '/models/primary', INFERENCE_THREADS: '3' });
    const logs = new LogCapture();
    const fake = fakeHost();
    const service = await loadModel(cfg, logs.logger, fake.host);
    assert.equal(fake.created.length, 1);
    const options = fake.created[0];
    assert.equal(service, await InferenceService.create(options));
    assert.equal(options.modelDir, '/models/primary');
    assert.equal(options.threads, 3);
    assert.equal(options.maxQueueRows, cfg.inference.maxQueueRows);
    assert.equal(options.hooks, HOOKS);
    assert.equal(options.predictionLog, fake.host.predictionLog);
    options.onRunError!(new Error('onnx exploded'));
    const line = logs.lines.find((l) => l.msg === 'inference run failed');
    assert.ok(line);
    assert.equal(line.level, 'error');
    assert.equal((line.err as { message: string }).message, 'onnx exploded');
    assert.equal(fake.shadowOptions.length, 0);
    assert.equal(
      logs.lines.find((l) => l.msg === 'shadow model ready'),
      undefined,
    );
  });

  it('then the shadow model from SHADOW_MODEL_DIR, without the prediction log, at its sample rate', async () => {
    const shadowDir = mkdtempSync(path.join(tmpdir(), 'shadow-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(shadowDir, 'model.json'), '{}');
    const cfg = config({ MODEL_DIR: '/models/primary', SHADOW_MODEL_DIR: shadowDir, SHADOW_SAMPLE_RATE: '0.25', MAX_QUEUE_ROWS: '7777' });
    const logs = new LogCapture();
    const fake = fakeHost();
    await loadModel(cfg, logs.logger, fake.host);
    assert.equal(fake.created.length, 2);
    const shadow = fake.created[1];
    assert.equal(shadow.modelDir, shadowDir);
    assert.equal(shadow.threads, cfg.inference.threads);
    assert.equal(shadow.hooks, SHADOW_HOOKS);
    assert.equal(shadow.predictionLog, undefined);
    assert.equal(shadow.onRunError, fake.created[0].onRunError);
    assert.deepEqual(fake.shadowOptions, [{ sampleRate: 0.25, maxQueueRows: cfg.inference.maxQueueRows }]);
    assert.equal(cfg.inference.maxQueueRows, 7777);
    const ready = logs.lines.find((l) => l.msg === 'shadow model ready');
    assert.ok(ready);
    assert.equal(ready.level, 'info');
    assert.equal(ready.shadow, '2.0.0+shadow');
    assert.equal(ready.sampleRate, 0.25);
    assert.equal(ready.modelDir, shadowDir);
  });

  it('a shadow that fails its checks is a SHADOW_MODEL_DIR configuration error naming why', async () => {
    const shadowDir = mkdtempSync(path.join(tmpdir(), 'shadow-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(shadowDir, 'model.json'), '{}');
    const cfg = config({ SHADOW_MODEL_DIR: shadowDir });
    const fake = fakeHost(new Error('outputs differ'));
    await assert.rejects(loadModel(cfg, silent, fake.host), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, new ConfigError('SHADOW_MODEL_DIR', 'the shadow model failed its checks: outputs differ').message);
      return true;
    });
  });
});
