import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { InferenceDevice } from '../config';
import { inferenceFailed } from '../errors';
import type { PredictionLog } from '../prediction-log/prediction-log';
import { uuidv7 } from '../prediction-log/uuidv7';
import { RowBatcher, type BatcherHooks, type BatcherStats, type Cancellation } from './batcher';
import type { DriftMonitor } from './drift';
import {
  explanationOf,
  readingsOutOfRange,
  referenceVariants,
  type Explanation,
  type OutOfRangeReading,
  type TrainingRange,
} from './explanation';
import { checkGolden } from './model-check';
import {
  decodePredictions,
  INPUT_WIDTH,
  packReadings,
  type DecodeOptions,
  type FailureTypeName,
  type ModelOutputs,
  type PredictionShape,
  type Reading,
} from './model-io';
import { loadModelArtifacts, ModelLoadError, trainingEnvelope, type ModelManifest } from './model-manifest';

export type { ModelOutputs, Reading } from './model-io';

/**
 * What the service answers for one reading: the prediction, plus the reading it answers (not part of
 * the prediction's fields; explanations and the range check start from it).
 */
export interface PredictionResult extends PredictionShape<FailureTypeName> {
  /** UUIDv7, minted when the row's run finished: time-ordered, unique across processes. */
  readonly id: string;
  readonly reading: Reading;
}

export interface InferenceServiceOptions {
  modelDir: string;
  device: InferenceDevice;
  threads?: number;
  maxBatchSize?: number;
  maxBatchWaitMs?: number;
  maxQueueRows?: number;
  /** Longest a row may wait for a run (ms) before its call gets SERVER_BUSY. Default 1,000. */
  maxQueueWaitMs?: number;
  /** Queue and run observers (metrics); see BatcherHooks. */
  hooks?: BatcherHooks;
  /** Told about each failed run (the caller only sees INFERENCE_FAILED). */
  onRunError?: (err: unknown) => void;
  /** Where served predictions are recorded (PREDICTION_LOG); calls that name their request are logged. */
  predictionLog?: PredictionLog;
}

export type LiveDevice = 'cpu' | 'cuda';

/** Who asked for a prediction: the ids the prediction log records, and the caller's opaque trace handle. */
export interface PredictionCall {
  requestId?: string;
  traceId?: string;
  trace?: unknown;
}

/** Sees every live row a run answered, with its prediction (a shadow model's sampler). Must not throw. */
export type PredictionTap = (rows: readonly Reading[], predictions: readonly PredictionResult[]) => void;

/**
 * The one ONNX session of the process and the batcher in front of it.
 * Created loaded (`create`), or not at all.
 */
export class InferenceService {
  private readonly batcher: RowBatcher<Reading, PredictionResult>;
  private readonly decode: DecodeOptions<FailureTypeName>;
  private readonly envelope: TrainingRange[];
  private released = false;
  /** Told about every answered row (drift); explanation variants never reach it. */
  private served: DriftMonitor | undefined;
  private log: PredictionLog | undefined;
  /** The range check the prediction log applies to this service's rows, bound once. */
  private readonly rangeCheck = (reading: Reading): OutOfRangeReading[] => this.outOfRange(reading);
  private tap: PredictionTap | undefined;
  /** Explanations' reference variants: rows the model runs that no caller sent (kept from the tap). */
  private readonly variants = new WeakSet<Reading>();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly manifest: ModelManifest,
    readonly device: LiveDevice,
    private readonly options: InferenceServiceOptions,
  ) {
    this.log = options.predictionLog;
    this.decode = {
      labels: manifest.outputs.probabilities.labels,
      anomalyThreshold: manifest.anomaly.threshold,
      device,
      modelVersion: manifest.version,
    };
    this.envelope = trainingEnvelope(manifest);
    this.batcher = new RowBatcher<Reading, PredictionResult>({
      runBatch: (rows) => this.runBatch(rows),
      maxBatchSize: options.maxBatchSize,
      maxWaitMs: options.maxBatchWaitMs,
      maxQueueRows: options.maxQueueRows,
      maxQueueWaitMs: options.maxQueueWaitMs,
      hooks: options.hooks,
      runInfo: { modelVersion: manifest.version, device },
    });
  }

  static async create(options: InferenceServiceOptions): Promise<InferenceService> {
    const { manifest, onnx } = await loadModelArtifacts(options.modelDir);
    const { session, device } = await openSession(onnx, options);
    const inputName = manifest.inputs.name;
    const wanted = [manifest.outputs.probabilities.name, manifest.outputs.reconstructionError.name];
    if (!session.inputNames.includes(inputName) || wanted.some((n) => !session.outputNames.includes(n))) {
      await session.release();
      throw new ModelLoadError(
        `model.onnx has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]; model.json expects input ${inputName} and outputs ${wanted.join(', ')}`,
      );
    }
    const service = new InferenceService(session, manifest, device, options);
    // A first run proves the graph executes on this provider before the server says it is ready.
    await service.runModel(new Float32Array(INPUT_WIDTH).fill(1), 1);
    return service;
  }

  /** Available execution providers of this onnxruntime-node build. */
  static availableProviders(): string[] {
    return ort.listSupportedBackends().map((b) => b.name);
  }

  /**
   * Scores one reading; `signal` (the client went away) takes it out of the queue if it has not run.
   * Every answered row is counted for drift; a call with a `requestId` is also appended to the
   * prediction log (when PREDICTION_LOG is on); `call.trace` is handed to the tracing hooks.
   */
  predict(reading: Reading, signal?: Cancellation, call?: PredictionCall): Promise<PredictionResult> {
    const answer = this.batcher.load(reading, signal, call?.trace);
    const log = call?.requestId === undefined ? undefined : this.log;
    if (this.served === undefined && log === undefined) return answer;
    return answer.then((p) => {
      this.served?.recordOne(p);
      log?.append({ requestId: call!.requestId!, traceId: call!.traceId, role: 'primary', rows: [p], outOfRange: this.rangeCheck });
      return p;
    });
  }

  /** Scores every reading in one model version, or fails whole; counted, logged and traced like `predict`. */
  predictMany(readings: readonly Reading[], signal?: Cancellation, call?: PredictionCall): Promise<PredictionResult[]> {
    const answers = this.batcher.loadAll(readings, signal, call?.trace);
    const log = call?.requestId === undefined ? undefined : this.log;
    if (this.served === undefined && log === undefined) return answers;
    return answers.then((rows) => {
      this.served?.record(rows);
      log?.append({ requestId: call!.requestId!, traceId: call!.traceId, role: 'primary', rows, outOfRange: this.rangeCheck });
      return rows;
    });
  }

  /**
   * Appends the calls that name their request to `log` from now on (set by ModelHost when this service
   * serves, so a promoted shadow logs too; a replaced service keeps logging the calls it still finishes).
   */
  logPredictions(log: PredictionLog | undefined): void {
    this.log = log;
  }

  /** Counts every answered row into `monitor` from now on (set by ModelHost when this service serves). */
  reportServed(monitor: DriftMonitor | undefined): void {
    this.served = monitor;
  }

  /** Compares this session's outputs with golden.json in the model directory (a reload's acceptance test). */
  checkGolden(): Promise<void> {
    return checkGolden(this, path.join(this.options.modelDir, 'golden.json'));
  }

  /**
   * Why `prediction` came out as it did. Its reading's five reference variants join the same batcher
   * queue as ordinary rows, so the explanations asked for in one turn of the event loop (every row of a
   * predictBatch) share ONNX runs instead of costing one run each.
   */
  async explain(prediction: PredictionResult): Promise<Explanation> {
    const { reading } = prediction;
    const rows = referenceVariants(reading, this.manifest.references);
    // Marked even with no tap yet: a shadow's tap installed while they wait must not take them for live rows.
    for (const row of rows) this.variants.add(row);
    const variants = await this.batcher.loadAll(rows);
    return explanationOf(
      reading,
      prediction.failureProbability,
      variants.map((v) => v.failureProbability),
      this.manifest.references,
    );
  }

  /** The readings outside the training envelope (model.json column min/max); no model run. */
  outOfRange(reading: Reading): OutOfRangeReading[] {
    return readingsOutOfRange(reading, this.envelope);
  }

  stats(): BatcherStats {
    return this.batcher.stats();
  }

  /** Hands every later run's live rows and predictions to `tap` (undefined: stop). */
  tapPredictions(tap: PredictionTap | undefined): void {
    this.tap = tap;
  }

  /** Resolves once no row is waiting or running on this session. */
  idle(): Promise<void> {
    return this.batcher.idle();
  }

  /** Runs the model on `count` rows packed row-major in `input`. */
  async runModel(input: Float32Array, count: number): Promise<ModelOutputs> {
    const feeds = { [this.manifest.inputs.name]: new ort.Tensor('float32', input, [count, INPUT_WIDTH]) };
    const out = await this.session.run(feeds);
    const probabilities = out[this.manifest.outputs.probabilities.name].data as Float32Array;
    const reconstructionError = out[this.manifest.outputs.reconstructionError.name].data as Float32Array;
    if (probabilities.length !== count * this.decode.labels.length || reconstructionError.length !== count) {
      throw new Error(`model returned ${probabilities.length} probabilities and ${reconstructionError.length} errors for ${count} rows`);
    }
    return { probabilities, reconstructionError };
  }

  /** Lets every queued and running row finish on this session, then releases it (a replaced model). */
  async retire(): Promise<void> {
    await this.batcher.idle();
    await this.close();
  }

  /** True once the ONNX session is released. */
  get closed(): boolean {
    return this.released;
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }

  private async runBatch(rows: readonly Reading[]): Promise<PredictionResult[]> {
    let outputs: ModelOutputs;
    try {
      outputs = await this.runModel(packReadings(rows), rows.length);
    } catch (err) {
      this.options.onRunError?.(err);
      throw inferenceFailed();
    }
    // In place: a 1,000-row batch should not copy its predictions to add one property.
    const predictions = decodePredictions(outputs, rows.length, this.decode).map((p, i) =>
      Object.assign(p, { id: uuidv7(), reading: rows[i] }),
    );
    if (this.tap) this.tapLive(this.tap, rows, predictions);
    return predictions;
  }

  private tapLive(tap: PredictionTap, rows: readonly Reading[], predictions: PredictionResult[]): void {
    let live = rows;
    let answered: readonly PredictionResult[] = predictions;
    if (rows.some((r) => this.variants.has(r))) {
      live = rows.filter((r) => !this.variants.has(r));
      answered = predictions.filter((p) => !this.variants.has(p.reading));
    }
    try {
      if (live.length > 0) tap(live, answered);
    } catch (err) {
      // The tap is an observer: its failure must never fail the callers of this run.
      this.options.onRunError?.(err);
    }
  }
}

function cudaProviderInstalled(): boolean {
  try {
    const binding = require.resolve(`onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`);
    return existsSync(path.join(path.dirname(binding), 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

async function openSession(
  onnx: Uint8Array,
  options: InferenceServiceOptions,
): Promise<{ session: ort.InferenceSession; device: LiveDevice }> {
  // Stryker disable next-line ObjectLiteral: equivalent in results (onnxruntime's defaults differ only in thread counts)
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  // In auto mode, skip the CUDA attempt when its provider libraries were never installed: onnxruntime
  // would only print a load error on every start.
  if (options.device === 'cuda' || (options.device === 'auto' && cudaProviderInstalled())) {
    try {
      const session = await ort.InferenceSession.create(onnx, { ...base, executionProviders: ['cuda'] });
      return { session, device: 'cuda' };
    } catch (err) {
      if (options.device === 'cuda') {
        throw new ModelLoadError(
          `INFERENCE_DEVICE=cuda but the CUDA execution provider cannot start (${(err as Error).message}); install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a host with CUDA 12 and cuDNN 9, or use INFERENCE_DEVICE=auto`,
          { cause: err },
        );
      }
    }
  }
  try {
    // Stryker disable next-line ObjectLiteral,ArrayDeclaration: equivalent in results (no providers listed means the CPU; see base)
    const session = await ort.InferenceSession.create(onnx, { ...base, executionProviders: ['cpu'] });
    return { session, device: 'cpu' };
  } catch (err) {
    throw new ModelLoadError(`model.onnx cannot be loaded by onnxruntime (${(err as Error).message})`, { cause: err });
  }
}
