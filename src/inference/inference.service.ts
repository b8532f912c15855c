import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { InferenceDevice } from '../config';
import { inferenceFailed } from '../errors';
import type { Prediction } from '../schema/prediction.type';
import { RowBatcher, type BatcherStats } from './batcher';
import { loadModelArtifacts, ModelLoadError, type ModelManifest } from './model-manifest';
import type { FailureType } from '../schema/failure-type.enum';
import { decodePredictions, INPUT_WIDTH, packReadings, type DecodeOptions, type ModelOutputs, type Reading } from './model-io';

export type { ModelOutputs, Reading } from './model-io';

export interface InferenceServiceOptions {
  modelDir: string;
  device: InferenceDevice;
  threads?: number;
  maxBatchSize?: number;
  maxBatchWaitMs?: number;
  maxQueueRows?: number;
  /** Told about each failed run (the caller only sees INFERENCE_FAILED). */
  onRunError?: (err: unknown) => void;
}

export type LiveDevice = 'cpu' | 'cuda';


/**
 * The one ONNX session of the process and the batcher in front of it.
 * Created loaded (`create`), or not at all.
 */
export class InferenceService {
  private readonly batcher: RowBatcher<Reading, Prediction>;
  private readonly decode: DecodeOptions<FailureType>;
  private closed = false;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly manifest: ModelManifest,
    readonly device: LiveDevice,
    private readonly options: InferenceServiceOptions,
  ) {
    this.decode = {
      labels: manifest.outputs.probabilities.labels,
      anomalyThreshold: manifest.anomaly.threshold,
      device,
      modelVersion: manifest.version,
    };
    this.batcher = new RowBatcher<Reading, Prediction>({
      runBatch: (rows) => this.runBatch(rows),
      maxBatchSize: options.maxBatchSize,
      maxWaitMs: options.maxBatchWaitMs,
      maxQueueRows: options.maxQueueRows,
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

  predict(reading: Reading): Promise<Prediction> {
    return this.batcher.load(reading);
  }

  predictMany(readings: readonly Reading[]): Promise<Prediction[]> {
    return this.batcher.loadAll(readings);
  }

  stats(): BatcherStats {
    return this.batcher.stats();
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }

  private async runBatch(rows: readonly Reading[]): Promise<Prediction[]> {
    let outputs: ModelOutputs;
    try {
      outputs = await this.runModel(packReadings(rows), rows.length);
    } catch (err) {
      this.options.onRunError?.(err);
      throw inferenceFailed();
    }
    return decodePredictions(outputs, rows.length, this.decode);
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
