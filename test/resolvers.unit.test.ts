// The resolvers executed in-process on the app's schema, against a fake inference service (no model, no
// HTTP): what health and modelInfo answer in each state of the model host, who may reload, what a
// reload's failures become, what predict and predictBatch hand the service and refuse before it, and the
// Prediction fields resolved on demand. Values travel through GraphQL's enums and nullability, so a field
// mapped from the wrong source or an enum value the schema does not know fails here.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { graphql, GraphQLError, type ExecutionResult, type GraphQLSchema } from 'graphql';
import pino, { type Logger } from 'pino';
import { loadConfig, type Config } from '../src/config';
import type { AppContext } from '../src/context';
import { sha256Hex } from '../src/http/client-identity';
import type { DriftMonitor, DriftSnapshot } from '../src/inference/drift';
import { InferenceService } from '../src/inference/inference.service';
import { ModelHost, ModelReloadError, ShadowDroppedError } from '../src/inference/model-host';
import { FAILURE_TYPES, type Reading } from '../src/inference/model-io';
import type { ShadowSummary } from '../src/inference/shadow-scorer';
import type { RequestSpans } from '../src/observability/request-spans';
import { buildSchema } from '../src/server';
import { bareManifest, contextFor, fakeService, fullManifest, type FakeService } from './helpers/fake-models';
import { NORMAL_READING } from './helpers/readings';

const silent = pino({ level: 'silent' });
const ADMIN_KEY_HASH = sha256Hex('admin-key');
const PACKAGE_VERSION: string = JSON.parse(readFileSync('package.json', 'utf8')).version;

/** Settings with no default value, so each figure in an answer shows where it came from. */
const ENV = {
  RATE_LIMIT_ENABLED: 'false',
  MAX_BATCH_ROWS: '3',
  MAX_BATCH_SIZE: '77',
  MAX_BATCH_WAIT_MS: '9',
  MAX_QUEUE_ROWS: '500',
  DRIFT_WINDOW_ROWS: '400',
  DRIFT_MIN_ROWS: '2',
  DRIFT_PSI_MODERATE: '0.15',
  DRIFT_PSI_SIGNIFICANT: '0.35',
  ADMIN_API_KEYS: ADMIN_KEY_HASH,
};

let schema: GraphQLSchema;
let config: Config;
before(async () => {
  schema = await buildSchema();
  config = loadConfig(ENV);
});

/** Executes on the app's schema; data as a client reads it (graphql-js builds objects without a prototype). */
async function run(source: string, ctx: AppContext, variableValues?: Record<string, unknown>): Promise<ExecutionResult<any>> {
  const result = await graphql({ schema, source, contextValue: ctx, variableValues });
  return { ...result, data: result.data === undefined ? undefined : JSON.parse(JSON.stringify(result.data)) };
}

/** A host serving `fake` (loaded through the host's own load). */
async function serving(fake: FakeService): Promise<ModelHost> {
  const host = new ModelHost();
  await host.load(async () => fake.service);
  return host;
}

/** A logger whose warnings a test reads. */
function recordingLog(): { log: Logger; warnings: Array<{ obj: any; msg: string }> } {
  const warnings: Array<{ obj: any; msg: string }> = [];
  const log = { warn: (obj: unknown, msg: string) => warnings.push({ obj, msg }) } as unknown as Logger;
  return { log, warnings };
}

const HEALTH = '{ health { status modelLoaded device uptimeSeconds serverVersion modelVersion } }';

describe('health, in every state of the model host', () => {
  async function health(host: ModelHost) {
    const before = process.uptime();
    const { data, errors } = await run(HEALTH, contextFor(config, host, silent));
    const after = process.uptime();
    assert.equal(errors, undefined);
    const h = data.health;
    assert.ok(h.uptimeSeconds >= before && h.uptimeSeconds <= after, `uptime ${h.uptimeSeconds} in [${before}, ${after}]`);
    assert.equal(h.serverVersion, PACKAGE_VERSION);
    return { status: h.status, modelLoaded: h.modelLoaded, device: h.device, modelVersion: h.modelVersion };
  }
  const none = { modelLoaded: false, device: null, modelVersion: null };

  it('loading, then ready with the model, draining with it, closing without it', async () => {
    const host = new ModelHost();
    assert.deepEqual(await health(host), { status: 'LOADING', ...none });
    const fake = fakeService();
    await host.load(async () => fake.service);
    const loaded = { modelLoaded: true, device: 'cpu', modelVersion: fullManifest().version };
    assert.deepEqual(await health(host), { status: 'READY', ...loaded });
    host.drain();
    assert.deepEqual(await health(host), { status: 'DRAINING', ...loaded });
    await host.close();
    assert.deepEqual(await health(host), { status: 'CLOSING', ...none });
  });

  it('draining before any model loaded, and failed', async () => {
    const draining = new ModelHost();
    draining.drain();
    assert.deepEqual(await health(draining), { status: 'DRAINING', ...none });
    const failed = new ModelHost();
    await assert.rejects(
      failed.load(async () => {
        throw new Error('model.onnx: hash mismatch');
      }),
    );
    assert.deepEqual(await health(failed), { status: 'FAILED', ...none });
  });
});

const MODEL_INFO = `{ modelInfo {
  name version createdAt datasetSha256 dataLicence
  inputs { field column unit trainingMin trainingMax }
  failureTypes { failureType label f1 { mean std } nearBoundaryF1 }
  anomalyThreshold anomalyThresholdMethod
  metrics { protocol nearBoundaryProtocol binaryF1 { mean std } macroF1 { mean std } accuracy { mean std } }
  device availableProviders
  batching { maxBatchSize maxBatchWaitMs maxQueueRows maxBatchRows queuedRows runs rows meanRowsPerRun }
  drift { windowRows windowSize minRows psiModerate psiSignificant rowsSeen anomalyRate trainingAnomalyRate
    fields { field psi status } classMix { failureType live training } }
  shadow { version rowsCompared agreement anomalyAgreement meanAbsProbabilityDelta disagreements { primary shadow rows } }
} }`;

/** The drift settings every answer repeats, from ENV. */
const DRIFT_SETTINGS = { windowSize: 400, minRows: 2, psiModerate: 0.15, psiSignificant: 0.35 };

describe('modelInfo', () => {
  it('describes the serving model from its model.json, the batching settings and the batcher', async () => {
    const host = await serving(fakeService(fullManifest(), { queuedRows: 5, runs: 40, rows: 100, meanRowsPerRun: 2.5 }));
    const { data, errors } = await run(MODEL_INFO, contextFor(config, host, silent));
    assert.equal(errors, undefined);
    const m = data.modelInfo;
    assert.deepEqual(
      {
        name: m.name,
        version: m.version,
        createdAt: m.createdAt,
        datasetSha256: m.datasetSha256,
        dataLicence: m.dataLicence,
        anomalyThreshold: m.anomalyThreshold,
        anomalyThresholdMethod: m.anomalyThresholdMethod,
        device: m.device,
      },
      {
        name: 'unit-model',
        version: '9.1.0+0123456789ab',
        createdAt: '2026-03-04T05:06:07Z',
        datasetSha256: 'd'.repeat(64),
        dataLicence: 'CC BY 4.0: S. Matzka, AI4I 2020',
        anomalyThreshold: 0.0421,
        anomalyThresholdMethod: '99th percentile of normal rows',
        device: 'cpu',
      },
    );
    assert.deepEqual(m.inputs, [
      { field: 'airTemperature', column: 'Air temperature [K]', unit: 'K', trainingMin: 295.3, trainingMax: 304.5 },
      { field: 'toolWear', column: 'Tool wear [min]', unit: 'min', trainingMin: 0, trainingMax: 251 },
      { field: 'productType', column: 'Type', unit: 'category', trainingMin: null, trainingMax: null },
    ]);
    assert.deepEqual(
      m.failureTypes.map((f: any) => f.failureType),
      [...FAILURE_TYPES],
    );
    assert.deepEqual(m.failureTypes[0], {
      failureType: 'NO_FAILURE',
      label: 'No Failure',
      f1: { mean: 0.99, std: 0.001 },
      nearBoundaryF1: null,
    });
    assert.deepEqual(m.failureTypes[2], {
      failureType: 'POWER_FAILURE',
      label: 'Power Failure',
      f1: { mean: 0.95, std: 0.02 },
      nearBoundaryF1: 0.81,
    });
    assert.deepEqual(m.failureTypes[3], { failureType: 'OVERSTRAIN_FAILURE', label: 'Overstrain Failure', f1: null, nearBoundaryF1: 0.77 });
    assert.deepEqual(m.metrics, {
      protocol: 'five stratified 80/20 splits',
      nearBoundaryProtocol: 'rows within 2 % of a rule threshold',
      binaryF1: { mean: 0.89, std: 0.012 },
      macroF1: { mean: 0.65, std: 0.005 },
      accuracy: { mean: 0.993, std: 0.0002 },
    });
    assert.deepEqual(m.availableProviders, InferenceService.availableProviders());
    assert.ok(m.availableProviders.includes('cpu'));
    assert.deepEqual(m.batching, {
      maxBatchSize: 77,
      maxBatchWaitMs: 9,
      maxQueueRows: 500,
      maxBatchRows: 3,
      queuedRows: 5,
      runs: 40,
      rows: 100,
      meanRowsPerRun: 2.5,
    });
    assert.equal(m.shadow, null);
  });

  it('a model.json without the optional parts: nulls, "not recorded", the licence alone', async () => {
    const host = await serving(fakeService(bareManifest()));
    const { data, errors } = await run(MODEL_INFO, contextFor(config, host, silent));
    assert.equal(errors, undefined);
    const m = data.modelInfo;
    assert.equal(m.dataLicence, 'CC0');
    assert.deepEqual(m.metrics, { protocol: 'not recorded', nearBoundaryProtocol: null, binaryF1: null, macroF1: null, accuracy: null });
    assert.ok(m.failureTypes.every((f: any) => f.f1 === null && f.nearBoundaryF1 === null));
    assert.equal(m.failureTypes.length, 6);
  });

  it('MODEL_NOT_READY while no model serves', async () => {
    const { data, errors } = await run(MODEL_INFO, contextFor(config, new ModelHost(), silent));
    assert.equal(data, null);
    assert.equal(errors?.[0].extensions.code, 'MODEL_NOT_READY');
    assert.equal(errors?.[0].extensions.state, 'loading');
  });

  it("answers the shadow's statistics", async () => {
    const host = await serving(fakeService());
    const summary: ShadowSummary = {
      version: '3.0.0+shadow',
      rowsCompared: 40,
      agreement: 0.9,
      anomalyAgreement: 0.95,
      meanAbsProbabilityDelta: 0.031,
      disagreements: [
        { primary: 'NO_FAILURE', shadow: 'HEAT_DISSIPATION_FAILURE', rows: 3 },
        { primary: 'TOOL_WEAR_FAILURE', shadow: 'RANDOM_FAILURES', rows: 1 },
      ],
    };
    host.shadowSummary = async () => summary;
    const { data, errors } = await run(MODEL_INFO, contextFor(config, host, silent));
    assert.equal(errors, undefined);
    assert.deepEqual(data.modelInfo.shadow, summary);
  });
});

describe('modelInfo.drift: this process, the cluster, or nothing counted', () => {
  /** A window with every status and values no empty window has. */
  const LOCAL: DriftSnapshot = {
    windowRows: 120,
    rowsSeen: 1000,
    fields: [
      { field: 'airTemperature', psi: 0.5, status: 'SIGNIFICANT' },
      { field: 'processTemperature', psi: 0.2, status: 'MODERATE' },
      { field: 'rotationalSpeed', psi: 0.01, status: 'NONE' },
      { field: 'torque', psi: 0, status: 'INSUFFICIENT_DATA' },
      { field: 'toolWear', psi: 0.02, status: 'NONE' },
    ],
    anomalyRate: 0.05,
    trainingAnomalyRate: 0.013,
    classMix: FAILURE_TYPES.map((failureType, i) => ({ failureType, live: i / 10, training: i / 20 })),
  };
  const AS_GRAPHQL = {
    AIR_TEMPERATURE: 'airTemperature',
    PROCESS_TEMPERATURE: 'processTemperature',
    ROTATIONAL_SPEED: 'rotationalSpeed',
    TORQUE: 'torque',
    TOOL_WEAR: 'toolWear',
  };
  const graphqlField = (f: string) => Object.keys(AS_GRAPHQL).find((k) => AS_GRAPHQL[k as keyof typeof AS_GRAPHQL] === f);
  const expectDrift = (s: DriftSnapshot) => ({
    windowRows: s.windowRows,
    ...DRIFT_SETTINGS,
    rowsSeen: s.rowsSeen,
    anomalyRate: s.anomalyRate,
    trainingAnomalyRate: s.trainingAnomalyRate,
    fields: s.fields.map((f) => ({ ...f, field: graphqlField(f.field) })),
    classMix: s.classMix,
  });
  const DRIFT = `{ modelInfo { drift { windowRows windowSize minRows psiModerate psiSignificant rowsSeen anomalyRate trainingAnomalyRate
    fields { field psi status } classMix { failureType live training } } } }`;

  /** A host serving the full manifest, with a drift monitor that answers LOCAL. */
  async function withMonitor(): Promise<ModelHost> {
    const host = new ModelHost();
    host.watchDrift({ useReference() {}, snapshot: () => LOCAL } as unknown as DriftMonitor);
    await host.load(async () => fakeService().service);
    return host;
  }

  // Two workers' summed window over two bins of airTemperature: 3 rows in bin 0, 1 in bin 1, of 120 seen.
  const CLUSTER_TEXT = [
    'pm_input_bin_reference_ratio{field="airTemperature",bin="0"} 0.5',
    'pm_input_bin_reference_ratio{field="airTemperature",bin="1"} 0.5',
    'pm_input_window_rows{field="airTemperature",bin="0"} 3',
    'pm_input_window_rows{field="airTemperature",bin="1"} 1',
    'pm_input_bin_rows_total{field="airTemperature",bin="0"} 90',
    'pm_input_bin_rows_total{field="airTemperature",bin="1"} 30',
    'pm_input_window_anomalies 1',
    'pm_input_window_failure_types{failure_type="NO_FAILURE"} 3',
    'pm_input_window_failure_types{failure_type="POWER_FAILURE"} 1',
  ].join('\n');

  it("this process's window, with the DRIFT_* settings", async () => {
    const { data, errors } = await run(DRIFT, contextFor(config, await withMonitor(), silent));
    assert.equal(errors, undefined);
    assert.deepEqual(data.modelInfo.drift, expectDrift(LOCAL));
  });

  it("in a cluster: every worker's window summed, PSI from the sums, training shares from model.json", async () => {
    const host = await withMonitor();
    let asked = 0;
    host.useClusterDrift(async () => {
      asked++;
      return CLUSTER_TEXT;
    });
    const { data, errors } = await run(DRIFT, contextFor(config, host, silent));
    assert.equal(errors, undefined);
    assert.equal(asked, 1);
    const d = data.modelInfo.drift;
    const reference = fullManifest().drift!;
    const psi = 0.25 * Math.log(0.75 / 0.5) + -0.25 * Math.log(0.25 / 0.5);
    assert.deepEqual(
      { ...d, fields: d.fields.map((f: any) => ({ ...f, psi: Math.round(f.psi * 1e9) / 1e9 })) },
      {
        windowRows: 4,
        ...DRIFT_SETTINGS,
        rowsSeen: 120,
        anomalyRate: 0.25,
        trainingAnomalyRate: reference.anomalyRate,
        fields: [
          { field: 'AIR_TEMPERATURE', psi: Math.round(psi * 1e9) / 1e9, status: 'MODERATE' },
          ...['PROCESS_TEMPERATURE', 'ROTATIONAL_SPEED', 'TORQUE', 'TOOL_WEAR'].map((field) => ({
            field,
            psi: 0,
            status: 'INSUFFICIENT_DATA',
          })),
        ],
        classMix: FAILURE_TYPES.map((failureType) => ({
          failureType,
          live: failureType === 'NO_FAILURE' ? 0.75 : failureType === 'POWER_FAILURE' ? 0.25 : 0,
          training: reference.classMix[failureType],
        })),
      },
    );
  });

  it("the primary not answering: this worker's window, and a warning", async () => {
    const host = await withMonitor();
    const failure = new Error('ipc timeout');
    host.useClusterDrift(async () => {
      throw failure;
    });
    const { log, warnings } = recordingLog();
    const { data, errors } = await run(DRIFT, contextFor(config, host, log));
    assert.equal(errors, undefined);
    assert.deepEqual(data.modelInfo.drift, expectDrift(LOCAL));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].obj.err, failure);
    assert.match(warnings[0].msg, /cluster drift unavailable/);
  });

  it('DRIFT_ENABLED=false: the cluster is not asked', async () => {
    const host = await withMonitor();
    let asked = 0;
    host.useClusterDrift(async () => {
      asked++;
      return CLUSTER_TEXT;
    });
    const off = loadConfig({ ...ENV, DRIFT_ENABLED: 'false' });
    const { data, errors } = await run(DRIFT, contextFor(off, host, silent));
    assert.equal(errors, undefined);
    assert.equal(asked, 0);
    assert.deepEqual(data.modelInfo.drift, expectDrift(LOCAL));
  });

  it("no drift monitor: nothing counted, every field INSUFFICIENT_DATA, training's side from model.json", async () => {
    const reference = fullManifest().drift!;
    const { data, errors } = await run(DRIFT, contextFor(config, await serving(fakeService()), silent));
    assert.equal(errors, undefined);
    assert.deepEqual(data.modelInfo.drift, {
      windowRows: 0,
      ...DRIFT_SETTINGS,
      rowsSeen: 0,
      anomalyRate: 0,
      trainingAnomalyRate: 0.013,
      fields: Object.keys(AS_GRAPHQL).map((field) => ({ field, psi: 0, status: 'INSUFFICIENT_DATA' })),
      classMix: FAILURE_TYPES.map((failureType) => ({ failureType, live: 0, training: reference.classMix[failureType] })),
    });
  });

  it('no drift monitor and a model without a drift reference: zeros', async () => {
    const { data, errors } = await run(DRIFT, contextFor(config, await serving(fakeService(bareManifest())), silent));
    assert.equal(errors, undefined);
    const d = data.modelInfo.drift;
    assert.equal(d.trainingAnomalyRate, 0);
    assert.deepEqual(
      d.classMix,
      FAILURE_TYPES.map((failureType) => ({ failureType, live: 0, training: 0 })),
    );
  });
});

describe('reloadModel', () => {
  const RELOAD = 'mutation($p: Boolean) { reloadModel(promoteShadow: $p) { version shadow { version } } }';
  const RELOAD_DEFAULT = 'mutation { reloadModel { version } }';

  /** A host serving the full manifest whose reload records its calls and does what `outcome` says. */
  async function reloadable(outcome: () => Promise<InferenceService>) {
    const host = await serving(fakeService());
    const calls: Array<{ logger: Logger; options: unknown }> = [];
    host.reload = async (logger, options) => {
      calls.push({ logger, options });
      return outcome();
    };
    return { host, calls };
  }
  const admin = { apiKeyHash: ADMIN_KEY_HASH, clientId: `key:${ADMIN_KEY_HASH.slice(0, 16)}` };
  const next = fakeService(bareManifest());

  it('FORBIDDEN without admin keys configured, without a key, and with a key that is not an admin key', async () => {
    const { host, calls } = await reloadable(async () => next.service);
    const noAdmins = loadConfig({ ...ENV, ADMIN_API_KEYS: '' });
    const cases: Array<[Config, Partial<AppContext>, RegExp]> = [
      [noAdmins, admin, /disabled: no admin keys are configured/],
      [config, {}, /needs an admin API key/],
      [config, { apiKeyHash: sha256Hex('some-client-key') }, /needs an admin API key/],
    ];
    for (const [cfg, over, message] of cases) {
      const { data, errors } = await run(RELOAD_DEFAULT, contextFor(cfg, host, silent, over));
      assert.equal(data, null);
      assert.equal(errors?.length, 1);
      assert.equal(errors[0].extensions.code, 'FORBIDDEN');
      assert.match(errors[0].message, message);
    }
    assert.equal(calls.length, 0, 'the host is never asked');
  });

  it('an admin key reloads: the answer describes the model now serving', async () => {
    const { host, calls } = await reloadable(async () => next.service);
    const { log } = recordingLog();
    const { data, errors } = await run(RELOAD_DEFAULT, contextFor(config, host, log, admin));
    assert.equal(errors, undefined);
    assert.equal(data.reloadModel.version, bareManifest().version);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].logger, log);
    assert.deepEqual(calls[0].options, { promoteShadow: false, trace: undefined });
  });

  it("promoteShadow and the request's trace reach the host; the shadow summary is read after the reload", async () => {
    const shadows: Array<ShadowSummary | undefined> = [undefined];
    const { host, calls } = await reloadable(async () => {
      shadows[0] = { version: 'after', rowsCompared: 0, agreement: 1, anomalyAgreement: 1, meanAbsProbabilityDelta: 0, disagreements: [] };
      return next.service;
    });
    host.shadowSummary = async () => shadows[0];
    const spans = { http: { spanContext: () => ({ traceId: 't'.repeat(32) }) } } as unknown as RequestSpans;
    const { data, errors } = await run(RELOAD, contextFor(config, host, silent, { ...admin, spans }), { p: true });
    assert.equal(errors, undefined);
    assert.deepEqual(calls[0].options, { promoteShadow: true, trace: spans });
    assert.deepEqual(data.reloadModel, { version: bareManifest().version, shadow: { version: 'after' } });
    await run(RELOAD, contextFor(config, host, silent, { ...admin, spans: null }), { p: false });
    assert.deepEqual(calls[1].options, { promoteShadow: false, trace: undefined });
  });

  it('a refused reload is MODEL_RELOAD_FAILED with its reason; a dropped shadow names the shadow and the version serving', async () => {
    const refused = await reloadable(async () => {
      throw new ModelReloadError('golden output 3 differs');
    });
    const r = await run(RELOAD_DEFAULT, contextFor(config, refused.host, silent, admin));
    assert.equal(r.data, null);
    assert.deepEqual(r.errors?.[0].extensions, { code: 'MODEL_RELOAD_FAILED', reason: 'golden output 3 differs' });
    assert.match(r.errors![0].message, /serving model is unchanged: golden output 3 differs/);

    const shadowError = new ShadowDroppedError('shadow hash mismatch', '2.0.0+primary');
    const dropped = await reloadable(async () => {
      throw shadowError;
    });
    const s = await run(RELOAD_DEFAULT, contextFor(config, dropped.host, silent, admin));
    assert.equal(s.data, null);
    assert.match(s.errors![0].message, /shadow hash mismatch; the primary model 2\.0\.0\+primary keeps serving$/);
    assert.deepEqual(s.errors?.[0].extensions, {
      code: 'MODEL_RELOAD_FAILED',
      reason: shadowError.reason,
      model: 'shadow',
      servingVersion: '2.0.0+primary',
    });
  });

  it('any other failure passes through unchanged', async () => {
    const failure = new Error('out of memory');
    const { host } = await reloadable(async () => {
      throw failure;
    });
    const { data, errors } = await run(RELOAD_DEFAULT, contextFor(config, host, silent, admin));
    assert.equal(data, null);
    assert.equal(errors?.[0].originalError, failure);
    assert.equal(errors?.[0].extensions.code, undefined);
  });
});

const PREDICTION = `id predictedFailureType label probability failureProbability probabilities { failureType label probability }
  reconstructionError anomalyThreshold isAnomaly device modelVersion`;
const PREDICT = `mutation($r: SensorReadingInput!) { predict(input: $r) { ${PREDICTION} } }`;
const BATCH = `mutation($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { ${PREDICTION} } }`;

/** What GraphQL answers for a prediction: every field but the reading the service keeps with it. */
const asAnswer = ({ reading: _reading, ...fields }: { reading: Reading }) => fields;

describe('predict and predictBatch', () => {
  const READINGS: Reading[] = (['L', 'M', 'H'] as const).map((productType, i) => ({
    ...NORMAL_READING,
    productType,
    torque: 30 + 20 * i,
    toolWear: 10 * i,
  }));

  it('predict hands the reading, the signal and the call ids to the service and answers its prediction', async () => {
    const fake = fakeService();
    const signal = { aborted: false } as unknown as AppContext['signal'];
    const spans = { http: { spanContext: () => ({ traceId: 'a'.repeat(32) }) } } as unknown as RequestSpans;
    const ctx = contextFor(config, await serving(fake), silent, { requestId: 'req-42', signal, spans });
    for (const reading of READINGS) {
      fake.predict = () => 'OVERSTRAIN_FAILURE';
      const { data, errors } = await run(PREDICT, ctx, { r: reading });
      assert.equal(errors, undefined);
      const call = fake.predicted.at(-1)!;
      assert.deepEqual({ ...call.readings[0] }, reading);
      assert.equal(call.signal, signal);
      assert.deepEqual(call.call, { requestId: 'req-42', trace: spans, traceId: 'a'.repeat(32) });
      assert.deepEqual(data.predict, asAnswer(fake.answered.at(-1)![0]));
      assert.equal(data.predict.predictedFailureType, 'OVERSTRAIN_FAILURE');
    }
  });

  it('without tracing the call carries the request id alone', async () => {
    const fake = fakeService();
    for (const spans of [undefined, null]) {
      const { errors } = await run(PREDICT, contextFor(config, await serving(fake), silent, { requestId: 'req-7', spans }), {
        r: NORMAL_READING,
      });
      assert.equal(errors, undefined);
      assert.deepEqual(fake.predicted.at(-1)!.call, { requestId: 'req-7', trace: undefined, traceId: undefined });
    }
  });

  it('predictBatch answers every row in input order, whatever failure type each is', async () => {
    const fake = fakeService();
    const ctx = contextFor(config, await serving(fake), silent, { requestId: 'req-b' });
    // MAX_BATCH_ROWS is 3: the six failure types in two calls.
    for (const offset of [0, 3]) {
      fake.predict = (_r, i) => FAILURE_TYPES[offset + i];
      const rows = READINGS.map((r, i) => ({ ...r, airTemperature: 296 + offset + i }));
      const { data, errors } = await run(BATCH, ctx, { rows });
      assert.equal(errors, undefined);
      const call = fake.predicted.at(-1)!;
      assert.deepEqual(
        call.readings.map((r) => ({ ...r })),
        rows,
      );
      assert.deepEqual(call.call, { requestId: 'req-b', trace: undefined, traceId: undefined });
      assert.deepEqual(data.predictBatch, fake.answered.at(-1)!.map(asAnswer));
      assert.deepEqual(
        data.predictBatch.map((a: any) => a.predictedFailureType),
        FAILURE_TYPES.slice(offset, offset + 3),
      );
      assert.deepEqual(
        data.predictBatch.map((a: any) => a.isAnomaly),
        [false, false, true],
      );
    }
  });

  it('predictBatch takes 1 to MAX_BATCH_ROWS rows; outside that, BAD_USER_INPUT before the service is asked', async () => {
    const fake = fakeService();
    const ctx = contextFor(config, await serving(fake), silent);
    for (const n of [1, 3]) {
      const { errors } = await run(BATCH, ctx, { rows: Array.from({ length: n }, () => NORMAL_READING) });
      assert.equal(errors, undefined, `${n} rows`);
    }
    assert.equal(fake.predicted.length, 2);
    for (const [n, constraint, bound] of [
      [0, 'arrayMinSize', 1],
      [4, 'arrayMaxSize', 3],
    ] as const) {
      const { data, errors } = await run(BATCH, ctx, { rows: Array.from({ length: n }, () => NORMAL_READING) });
      assert.equal(data, null);
      assert.equal(errors?.[0].extensions.code, 'BAD_USER_INPUT');
      assert.deepEqual(
        (errors![0].extensions.violations as any[]).map((v: any) => [v.field, v.value, v.constraint, v.bound]),
        [['inputs', n, constraint, bound]],
      );
    }
    assert.equal(fake.predicted.length, 2);
  });

  it('every invalid row of a batch is named, with its index; none reaches the service', async () => {
    const fake = fakeService();
    const ctx = contextFor(config, await serving(fake), silent);
    const rows = [{ ...NORMAL_READING, torque: -1 }, NORMAL_READING, { ...NORMAL_READING, toolWear: 1e9, airTemperature: 0 }];
    const { data, errors } = await run(BATCH, ctx, { rows });
    assert.equal(data, null);
    assert.equal(errors?.[0].extensions.code, 'BAD_USER_INPUT');
    assert.deepEqual(errors[0].extensions.invalidRows, [0, 2]);
    assert.deepEqual(
      (errors![0].extensions.violations as any[]).map((v: any) => [v.row, v.field, v.constraint]),
      [
        [0, 'torque', 'min'],
        [2, 'airTemperature', 'isPositive'],
        [2, 'toolWear', 'max'],
      ],
    );
    assert.equal(fake.predicted.length, 0);
  });

  it('an invalid reading is BAD_USER_INPUT naming every broken rule, without a row; the service is not asked', async () => {
    const fake = fakeService();
    const ctx = contextFor(config, await serving(fake), silent);
    const { data, errors } = await run(PREDICT, ctx, { r: { ...NORMAL_READING, processTemperature: 0, rotationalSpeed: 100_001 } });
    assert.equal(data, null);
    assert.equal(errors?.[0].extensions.code, 'BAD_USER_INPUT');
    assert.deepEqual(
      (errors![0].extensions.violations as any[]).map((v: any) => [v.row, v.field, v.constraint]),
      [
        [undefined, 'processTemperature', 'isPositive'],
        [undefined, 'rotationalSpeed', 'max'],
      ],
    );
    assert.equal(errors[0].extensions.invalidRows, undefined);
    assert.equal(fake.predicted.length, 0);
  });

  it('MODEL_NOT_READY while no model serves', async () => {
    const ctx = contextFor(config, new ModelHost(), silent);
    const { errors } = await run(PREDICT, ctx, { r: NORMAL_READING });
    assert.equal(errors?.[0].extensions.code, 'MODEL_NOT_READY');
    const batch = await run(BATCH, ctx, { rows: [NORMAL_READING] });
    assert.equal(batch.errors?.[0].extensions.code, 'MODEL_NOT_READY');
  });
});

describe('Prediction.explanation and Prediction.outOfRange', () => {
  it('explanation asks the service about the prediction it answered, and answers its drivers', async () => {
    const fake = fakeService();
    fake.explanation = {
      temperatureDifference: 10.1,
      power: 6283.2,
      strain: 4000,
      drivers: [
        { field: 'torque', value: 40, reference: 40.2, effect: -0.001 },
        { field: 'airTemperature', value: 300.1, reference: 300.1, effect: 0 },
        { field: 'processTemperature', value: 310.2, reference: 310.1, effect: 0.002 },
        { field: 'rotationalSpeed', value: 1500, reference: 1504, effect: 0.01 },
        { field: 'toolWear', value: 100, reference: 109, effect: -0.2 },
      ],
    };
    const ctx = contextFor(config, await serving(fake), silent);
    const { data, errors } = await run(
      `mutation($r: SensorReadingInput!) { predict(input: $r) { id explanation { temperatureDifference power strain drivers { field value reference effect } } } }`,
      ctx,
      { r: NORMAL_READING },
    );
    assert.equal(errors, undefined);
    assert.equal(fake.explained.length, 1);
    // The root is the service's own answer, with the reading it keeps for the explanation.
    assert.equal(fake.explained[0], fake.answered[0][0]);
    assert.equal(data.predict.id, fake.answered[0][0].id);
    assert.deepEqual({ ...fake.explained[0].reading }, NORMAL_READING);
    assert.deepEqual(data.predict.explanation, {
      temperatureDifference: 10.1,
      power: 6283.2,
      strain: 4000,
      drivers: [
        { field: 'TORQUE', value: 40, reference: 40.2, effect: -0.001 },
        { field: 'AIR_TEMPERATURE', value: 300.1, reference: 300.1, effect: 0 },
        { field: 'PROCESS_TEMPERATURE', value: 310.2, reference: 310.1, effect: 0.002 },
        { field: 'ROTATIONAL_SPEED', value: 1500, reference: 1504, effect: 0.01 },
        { field: 'TOOL_WEAR', value: 100, reference: 109, effect: -0.2 },
      ],
    });
  });

  it("outOfRange checks each row's own reading; explanation is not computed unless selected", async () => {
    const fake = fakeService();
    fake.outOfRange = [
      { field: 'airTemperature', value: 27, trainingMin: 295.3, trainingMax: 304.5 },
      { field: 'processTemperature', value: 37, trainingMin: 305.7, trainingMax: 313.8 },
      { field: 'rotationalSpeed', value: 9000, trainingMin: 1168, trainingMax: 2886 },
      { field: 'torque', value: 99, trainingMin: 3.8, trainingMax: 76.6 },
      { field: 'toolWear', value: 300, trainingMin: 0, trainingMax: 251 },
    ];
    const ctx = contextFor(config, await serving(fake), silent);
    const rows = [NORMAL_READING, { ...NORMAL_READING, torque: 99 }];
    const { data, errors } = await run(
      `mutation($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { outOfRange { field value trainingMin trainingMax } } }`,
      ctx,
      { rows },
    );
    assert.equal(errors, undefined);
    assert.deepEqual(
      fake.ranged.map((r) => ({ ...r })),
      rows,
    );
    const expected = fake.outOfRange.map((o) => ({ ...o, field: o.field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() }));
    assert.deepEqual(
      data.predictBatch.map((p: any) => p.outOfRange),
      [expected, expected],
    );
    assert.equal(fake.explained.length, 0);
  });

  it('an explanation that fails is an error on that field only', async () => {
    const fake = fakeService();
    const ctx = contextFor(config, await serving(fake), silent);
    const { data, errors } = await run(`mutation($r: SensorReadingInput!) { predict(input: $r) { id explanation { power } } }`, ctx, {
      r: NORMAL_READING,
    });
    assert.equal(data, null, 'explanation is non-null, so the prediction is null');
    assert.deepEqual(errors?.[0].path, ['predict', 'explanation']);
    assert.ok(errors?.[0] instanceof GraphQLError);
  });
});
