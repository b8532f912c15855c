import type { Logger } from 'pino';
import type { Config } from '../../src/config';
import type { AppContext } from '../../src/context';
import type { BatcherStats } from '../../src/inference/batcher';
import type { Explanation, OutOfRangeReading } from '../../src/inference/explanation';
import type { PredictionCall, PredictionResult, InferenceService } from '../../src/inference/inference.service';
import type { ModelHost } from '../../src/inference/model-host';
import { FAILURE_TYPES, type FailureTypeName, type Reading } from '../../src/inference/model-io';
import type { ModelManifest } from '../../src/inference/model-manifest';

// A stand-in for the inference service, for resolvers executed in-process without a model: it records
// what the resolvers hand it and answers with values a test chooses.

const LABELS: Record<FailureTypeName, string> = {
  NO_FAILURE: 'No Failure',
  HEAT_DISSIPATION_FAILURE: 'Heat Dissipation Failure',
  POWER_FAILURE: 'Power Failure',
  OVERSTRAIN_FAILURE: 'Overstrain Failure',
  TOOL_WEAR_FAILURE: 'Tool Wear Failure',
  RANDOM_FAILURES: 'Random Failures',
};

/** A model.json with every optional part present and values no default could produce. */
export function fullManifest(): ModelManifest {
  return {
    name: 'unit-model',
    version: '9.1.0+0123456789ab',
    createdAt: '2026-03-04T05:06:07Z',
    dataset: { sha256: 'd'.repeat(64), licence: 'CC BY 4.0', attribution: 'S. Matzka, AI4I 2020' },
    onnx: { file: 'model.onnx', sha256: 'e'.repeat(64) },
    inputs: {
      name: 'readings',
      columns: [
        { field: 'airTemperature', column: 'Air temperature [K]', unit: 'K', min: 295.3, max: 304.5 },
        { field: 'toolWear', column: 'Tool wear [min]', unit: 'min', min: 0, max: 251 },
        { field: 'productType', column: 'Type', unit: 'category' },
      ],
    },
    outputs: {
      probabilities: { name: 'probabilities', labels: FAILURE_TYPES.map((t) => ({ enum: t, label: LABELS[t] })) },
      reconstructionError: { name: 'reconstruction_error' },
    },
    anomaly: { threshold: 0.0421, method: '99th percentile of normal rows' },
    references: {
      L: { airTemperature: 300.1, processTemperature: 310.1, rotationalSpeed: 1504, torque: 40, toolWear: 109 },
      M: { airTemperature: 300.1, processTemperature: 310, rotationalSpeed: 1503, torque: 40.2, toolWear: 106 },
      H: { airTemperature: 299.8, processTemperature: 309.9, rotationalSpeed: 1500, torque: 40.3, toolWear: 107 },
    },
    drift: {
      rows: 10_000,
      psiEpsilon: 1e-4,
      fields: [],
      classMix: {
        NO_FAILURE: 0.9,
        HEAT_DISSIPATION_FAILURE: 0.03,
        POWER_FAILURE: 0.025,
        OVERSTRAIN_FAILURE: 0.02,
        TOOL_WEAR_FAILURE: 0.015,
        RANDOM_FAILURES: 0.01,
      },
      anomalyRate: 0.013,
    },
    metrics: {
      protocol: 'five stratified 80/20 splits',
      perClassF1: { NO_FAILURE: { mean: 0.99, std: 0.001 }, POWER_FAILURE: { mean: 0.95, std: 0.02 } },
      binaryF1: { mean: 0.89, std: 0.012 },
      macroF1: { mean: 0.65, std: 0.005 },
      accuracy: { mean: 0.993, std: 0.0002 },
      nearBoundary: { protocol: 'rows within 2 % of a rule threshold', perClassF1: { POWER_FAILURE: 0.81, OVERSTRAIN_FAILURE: 0.77 } },
    },
  };
}

/** A model.json with only what every model has: no attribution, drift reference or optional metrics. */
export function bareManifest(): ModelManifest {
  const { drift: _drift, ...full } = fullManifest();
  return {
    ...full,
    version: '1.0.0+bare',
    dataset: { sha256: 'f'.repeat(64), licence: 'CC0' },
    metrics: {},
  };
}

/** A prediction for `reading`, predicting `type`, with every field distinct from the others. */
export function predictionFor(reading: Reading, type: FailureTypeName, id: string, manifest = fullManifest()): PredictionResult {
  const probabilities = FAILURE_TYPES.map((t, i) => ({
    failureType: t,
    label: LABELS[t],
    probability: t === type ? 0.75 : 0.05 - i / 1000,
  }));
  return {
    id,
    reading,
    predictedFailureType: type,
    label: LABELS[type],
    probability: 0.75,
    failureProbability: 1 - probabilities[0].probability,
    probabilities,
    reconstructionError: 0.0123 + reading.torque / 1e4,
    anomalyThreshold: manifest.anomaly.threshold,
    isAnomaly: reading.torque > 60,
    device: 'cpu',
    modelVersion: manifest.version,
  };
}

export interface FakeService {
  service: InferenceService;
  predicted: Array<{ readings: Reading[]; signal: unknown; call: PredictionCall | undefined }>;
  /** What each call answered. */
  answered: PredictionResult[][];
  explained: PredictionResult[];
  ranged: Reading[];
  /** Makes the prediction for each reading (by position in its call); NO_FAILURE when unset. */
  predict?: (reading: Reading, index: number) => FailureTypeName;
  explanation?: Explanation;
  outOfRange?: OutOfRangeReading[];
}

export function fakeService(manifest: ModelManifest = fullManifest(), stats: Partial<BatcherStats> = {}): FakeService {
  let next = 0;
  const fake: FakeService = { predicted: [], answered: [], explained: [], ranged: [], service: undefined as never };
  const answer = (readings: Reading[]) => {
    const results = readings.map((r, i) => predictionFor(r, fake.predict?.(r, i) ?? 'NO_FAILURE', `p-${next++}`, manifest));
    fake.answered.push(results);
    return results;
  };
  const service = {
    manifest,
    device: 'cpu',
    closed: false,
    stats: (): BatcherStats => ({
      runs: 12,
      rows: 30,
      failedRuns: 0,
      queuedRows: 4,
      meanRowsPerRun: 2.5,
      dropped: { disconnected: 0, deadline: 0 },
      ...stats,
    }),
    async predict(reading: Reading, signal: unknown, call?: PredictionCall) {
      fake.predicted.push({ readings: [reading], signal, call });
      return answer([reading])[0];
    },
    async predictMany(readings: Reading[], signal: unknown, call?: PredictionCall) {
      fake.predicted.push({ readings: [...readings], signal, call });
      return answer(readings);
    },
    async explain(prediction: PredictionResult) {
      fake.explained.push(prediction);
      if (!fake.explanation) throw new Error('no explanation set');
      return fake.explanation;
    },
    outOfRange(reading: Reading) {
      fake.ranged.push(reading);
      return fake.outOfRange ?? [];
    },
    reportServed() {},
    logPredictions() {},
    tapPredictions() {},
    async close() {
      service.closed = true;
    },
  };
  fake.service = service as unknown as InferenceService;
  return fake;
}

/** What a resolver gets for one request: the given host and config, no limiter, no tracing. */
export function contextFor(config: Config, models: ModelHost, log: Logger, overrides: Partial<AppContext> = {}): AppContext {
  return {
    config,
    models,
    log,
    requestId: 'req-1',
    clientId: 'ip:127.0.0.1',
    apiKeyHash: undefined,
    limiter: undefined,
    budgets: [],
    trace: { errorCodes: [], written: false },
    ...overrides,
  };
}
