import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { driftReferenceProblem, type DriftReference } from './drift';
import { NUMERIC_FIELDS, type References, type TrainingRange } from './explanation';
import { FAILURE_TYPES, INPUT_FIELDS, PRODUCT_TYPE_CODE, type FailureTypeName } from './model-io';

/** The parts of models/model.json the server relies on (training writes more; see models/README.md). */
export interface ModelManifest {
  name: string;
  version: string;
  createdAt: string;
  dataset: { sha256: string; licence: string; attribution?: string };
  onnx: { file: string; sha256: string; opset?: Record<string, number> };
  inputs: {
    name: string;
    columns: Array<{ field: string; column: string; unit: string; min?: number; max?: number }>;
  };
  outputs: {
    probabilities: { name: string; labels: Array<{ enum: FailureTypeName; label: string }> };
    reconstructionError: { name: string };
  };
  anomaly: { threshold: number; method: string };
  /**
   * A typical value of every numeric reading per product type (the per-type medians of the training
   * data, written by training): where explanations move each reading back to.
   */
  references: References;
  /**
   * Training's reference distributions for live drift (training/drift.py). Optional: a model written
   * before it existed still serves (drift then reports INSUFFICIENT_DATA); a malformed one stops the load.
   */
  drift?: DriftReference;
  metrics: {
    protocol?: string;
    perClassF1?: Partial<Record<FailureTypeName, { mean: number; std: number }>>;
    binaryF1?: { mean: number; std: number };
    macroF1?: { mean: number; std: number };
    accuracy?: { mean: number; std: number };
    /** F1 of the shipped model on the near-boundary evaluation set (models/README.md). */
    nearBoundary?: { protocol: string; perClassF1: Partial<Record<FailureTypeName, number>> };
    [key: string]: unknown;
  };
}

export class ModelLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelLoadError';
  }
}

function fail(file: string, message: string): never {
  throw new ModelLoadError(`${file}: ${message}`);
}

/**
 * Reads model.json and the ONNX file it names, and checks that they match each other and the API:
 * a truncated or swapped model file must stop start-up, not serve wrong answers.
 */
export async function loadModelArtifacts(modelDir: string): Promise<{ manifest: ModelManifest; onnx: Uint8Array }> {
  const manifestPath = path.join(modelDir, 'model.json');
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as ModelManifest;
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message;
    throw new ModelLoadError(`${manifestPath}: cannot read model manifest (${reason}); run \`npm run train\` or set MODEL_DIR`, {
      cause: err,
    });
  }
  for (const key of ['name', 'version', 'createdAt'] as const) {
    if (typeof manifest[key] !== 'string') fail(manifestPath, `"${key}" must be a string`);
  }
  if (typeof manifest.onnx?.file !== 'string' || typeof manifest.onnx.sha256 !== 'string') {
    fail(manifestPath, '"onnx.file" and "onnx.sha256" are required');
  }
  if (typeof manifest.inputs?.name !== 'string') fail(manifestPath, '"inputs.name" (the ONNX input name) is required');
  const columns = manifest.inputs.columns;
  if (!Array.isArray(columns) || columns.map((c) => c.field).join() !== INPUT_FIELDS.join()) {
    fail(manifestPath, `"inputs.columns" must list ${INPUT_FIELDS.join(', ')} in that order`);
  }
  const labels = manifest.outputs?.probabilities?.labels;
  if (!Array.isArray(labels) || labels.map((l) => l.enum).join() !== FAILURE_TYPES.join()) {
    fail(manifestPath, `"outputs.probabilities.labels" must list ${FAILURE_TYPES.join(', ')} in that order`);
  }
  if (typeof manifest.outputs.reconstructionError?.name !== 'string') {
    fail(manifestPath, '"outputs.reconstructionError.name" is required');
  }
  if (!Number.isFinite(manifest.anomaly?.threshold) || manifest.anomaly.threshold <= 0) {
    fail(manifestPath, '"anomaly.threshold" must be a positive number');
  }
  checkReferences(manifestPath, manifest);
  if (manifest.drift !== undefined) {
    const problem = driftReferenceProblem(manifest.drift);
    if (problem) fail(manifestPath, `"drift" ${problem}; recompute it with \`/usr/bin/python3 -m training.drift\``);
  }
  manifest.metrics ??= {};
  manifest.dataset ??= { sha256: 'unknown', licence: 'unknown' };

  const onnxPath = path.join(modelDir, manifest.onnx.file);
  let onnx: Uint8Array;
  try {
    onnx = await readFile(onnxPath);
  } catch (err) {
    throw new ModelLoadError(`${onnxPath}: cannot read ONNX model (${(err as Error).message})`, { cause: err });
  }
  const digest = createHash('sha256').update(onnx).digest('hex');
  if (digest !== manifest.onnx.sha256) {
    fail(
      onnxPath,
      `SHA-256 ${digest} does not match model.json (${manifest.onnx.sha256}): the file is corrupt or belongs to another model`,
    );
  }
  return { manifest, onnx };
}

/**
 * Explanations and the out-of-range check need, for every numeric input, its training range and a
 * reference per product type inside that range; a model written before training recorded them cannot
 * explain anything, so it stops start-up here rather than failing on the first `explanation`.
 */
function checkReferences(file: string, manifest: ModelManifest): void {
  for (const field of NUMERIC_FIELDS) {
    const column = manifest.inputs.columns.find((c) => c.field === field)!;
    if (!Number.isFinite(column.min) || !Number.isFinite(column.max) || column.min! > column.max!) {
      fail(file, `"inputs.columns" entry ${field} needs finite "min" <= "max" (its training range)`);
    }
  }
  const references = manifest.references as unknown;
  if (typeof references !== 'object' || references === null) {
    fail(
      file,
      `"references" is missing: it must give ${NUMERIC_FIELDS.join(', ')} for each product type ${Object.keys(PRODUCT_TYPE_CODE).join(', ')} (per-type training medians); retrain with \`npm run train\``,
    );
  }
  for (const type of Object.keys(PRODUCT_TYPE_CODE)) {
    const perType = (references as Record<string, unknown>)[type];
    for (const field of NUMERIC_FIELDS) {
      const value = (perType as Record<string, unknown> | undefined)?.[field];
      const column = manifest.inputs.columns.find((c) => c.field === field)!;
      if (typeof value !== 'number' || !(value >= column.min! && value <= column.max!)) {
        fail(
          file,
          `"references.${type}.${field}" must be a number within its training range [${column.min}, ${column.max}], got ${JSON.stringify(value)}`,
        );
      }
    }
  }
}

/** The training range of each numeric input, in model input order (checked by loadModelArtifacts). */
export function trainingEnvelope(manifest: ModelManifest): TrainingRange[] {
  return NUMERIC_FIELDS.map((field) => {
    const column = manifest.inputs.columns.find((c) => c.field === field)!;
    return { field, min: column.min!, max: column.max! };
  });
}
