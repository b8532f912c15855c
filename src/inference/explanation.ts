/**
 * Why a prediction came out as it did, in plain data (no GraphQL here; the schema layer exposes it):
 * the physical quantities the AI4I 2020 failure rules are written in, and one driver per numeric
 * reading, measured by putting that reading back to a typical value for the product type and asking
 * the model again. The model calls themselves are the service's; this module builds the variants and
 * reads the answers.
 */
import type { Reading } from './model-io';

/** The numeric readings, in model input order. */
export const NUMERIC_FIELDS = ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear'] as const;
export type NumericField = (typeof NUMERIC_FIELDS)[number];

export type ProductTypeCode = Reading['productType'];

/** A typical value of every numeric reading per product type (model.json `references`, per-type training medians). */
export type References = Readonly<Record<ProductTypeCode, Readonly<Record<NumericField, number>>>>;

export interface Driver {
  field: NumericField;
  /** The reading as sent. */
  value: number;
  /** The typical value for the reading's product type. */
  reference: number;
  /** failureProbability(reading) - failureProbability(reading with this field at reference). */
  effect: number;
}

export interface Explanation {
  /** Process minus air temperature (K). */
  temperatureDifference: number;
  /** Torque times angular speed (W). */
  power: number;
  /** Tool wear times torque (min·Nm). */
  strain: number;
  /** One per numeric reading, largest |effect| first. */
  drivers: Driver[];
}

/** rpm to rad/s. */
const RAD_PER_S_PER_RPM = (2 * Math.PI) / 60;

export function physicalQuantities(r: Reading): Omit<Explanation, 'drivers'> {
  return {
    temperatureDifference: r.processTemperature - r.airTemperature,
    power: r.torque * r.rotationalSpeed * RAD_PER_S_PER_RPM,
    strain: r.toolWear * r.torque,
  };
}

/** The five one-field-changed copies of `r`, in NUMERIC_FIELDS order: field i set to its reference. */
export function referenceVariants(r: Reading, references: References): Reading[] {
  const ref = references[r.productType];
  return NUMERIC_FIELDS.map((field) => ({ ...r, [field]: ref[field] }));
}

/**
 * The explanation of `r` from the model's failure probability for it and for each of its reference
 * variants (same order as `referenceVariants`).
 */
export function explanationOf(
  r: Reading,
  failureProbability: number,
  variantFailureProbabilities: readonly number[],
  references: References,
): Explanation {
  if (variantFailureProbabilities.length !== NUMERIC_FIELDS.length) {
    throw new Error(`expected ${NUMERIC_FIELDS.length} variant probabilities, got ${variantFailureProbabilities.length}`);
  }
  const ref = references[r.productType];
  const drivers = NUMERIC_FIELDS.map((field, i) => ({
    field,
    value: r[field],
    reference: ref[field],
    effect: failureProbability - variantFailureProbabilities[i],
  }));
  // Array.prototype.sort is stable: equal effects keep model input order.
  drivers.sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect));
  return { ...physicalQuantities(r), drivers };
}

/** The observed range of one numeric input in the training data (model.json `inputs.columns[].min/max`). */
export interface TrainingRange {
  field: NumericField;
  min: number;
  max: number;
}

export interface OutOfRangeReading {
  field: NumericField;
  value: number;
  trainingMin: number;
  trainingMax: number;
}

/** The readings of `r` outside the training envelope, in model input order; [] when all are inside. */
export function readingsOutOfRange(r: Reading, envelope: readonly TrainingRange[]): OutOfRangeReading[] {
  const out: OutOfRangeReading[] = [];
  for (const { field, min, max } of envelope) {
    const value = r[field];
    if (value < min || value > max) out.push({ field, value, trainingMin: min, trainingMax: max });
  }
  return out;
}
