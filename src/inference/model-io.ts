/**
 * The model's tensor layout and how its outputs become predictions, in one place and free of
 * GraphQL/type-graphql imports, so the server, the benchmark's bare reference and the tests encode
 * readings and decode results identically.
 */

/** Input columns, in the order the model reads them (`readings`: float32 [N, 6]). */
export const INPUT_FIELDS = ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear', 'productType'] as const;

export const INPUT_WIDTH = INPUT_FIELDS.length;

/** The model's numeric encoding of the product type (input column 6). */
export const PRODUCT_TYPE_CODE: Readonly<Record<'L' | 'M' | 'H', number>> = { L: 0, M: 1, H: 2 };

/** The model's output columns (model.json `outputs.probabilities.labels`), in order; column 0 is "no failure". */
export const FAILURE_TYPES = [
  'NO_FAILURE',
  'HEAT_DISSIPATION_FAILURE',
  'POWER_FAILURE',
  'OVERSTRAIN_FAILURE',
  'TOOL_WEAR_FAILURE',
  'RANDOM_FAILURES',
] as const;

export type FailureTypeName = (typeof FAILURE_TYPES)[number];

export interface Reading {
  airTemperature: number;
  processTemperature: number;
  rotationalSpeed: number;
  torque: number;
  toolWear: number;
  productType: 'L' | 'M' | 'H';
}

/** Raw model outputs for a batch of rows (row-major). */
export interface ModelOutputs {
  probabilities: Float32Array;
  reconstructionError: Float32Array;
}

/** Packs readings row-major into the model's input tensor data. */
export function packReadings(rows: readonly Reading[]): Float32Array {
  const input = new Float32Array(rows.length * INPUT_WIDTH);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const o = i * INPUT_WIDTH;
    input[o] = r.airTemperature;
    input[o + 1] = r.processTemperature;
    input[o + 2] = r.rotationalSpeed;
    input[o + 3] = r.torque;
    input[o + 4] = r.toolWear;
    input[o + 5] = PRODUCT_TYPE_CODE[r.productType];
  }
  return input;
}

export interface PredictionShape<E extends string> {
  predictedFailureType: E;
  label: string;
  probability: number;
  failureProbability: number;
  probabilities: Array<{ failureType: E; label: string; probability: number }>;
  reconstructionError: number;
  anomalyThreshold: number;
  isAnomaly: boolean;
  device: string;
  modelVersion: string;
}

export interface DecodeOptions<E extends string> {
  /** Output columns in order, with their enum names; column 0 is "no failure". */
  labels: ReadonlyArray<{ enum: E; label: string }>;
  anomalyThreshold: number;
  device: string;
  modelVersion: string;
}

/** Turns `count` rows of model outputs into predictions (the GraphQL `Prediction` shape). */
export function decodePredictions<E extends string>(outputs: ModelOutputs, count: number, o: DecodeOptions<E>): PredictionShape<E>[] {
  const classes = o.labels.length;
  const { probabilities: probs, reconstructionError: errors } = outputs;
  // Stryker disable next-line ArrayDeclaration: equivalent, the length only pre-sizes an array every index of which is assigned
  const predictions = new Array<PredictionShape<E>>(count);
  for (let row = 0; row < count; row++) {
    const base = row * classes;
    let best = 0;
    // Stryker disable next-line ArrayDeclaration: equivalent, as above
    const probabilities = new Array(classes);
    for (let c = 0; c < classes; c++) {
      if (probs[base + c] > probs[base + best]) best = c;
      probabilities[c] = { failureType: o.labels[c].enum, label: o.labels[c].label, probability: probs[base + c] };
    }
    const reconstructionError = errors[row];
    predictions[row] = {
      predictedFailureType: o.labels[best].enum,
      label: o.labels[best].label,
      probability: probs[base + best],
      failureProbability: Math.max(0, 1 - probs[base]),
      probabilities,
      reconstructionError,
      anomalyThreshold: o.anomalyThreshold,
      // NaN (never expected) must not read as "normal".
      isAnomaly: !(reconstructionError <= o.anomalyThreshold),
      device: o.device,
      modelVersion: o.modelVersion,
    };
  }
  return predictions;
}
