import type { OutOfRangeReading } from '../inference/explanation';
import type { FailureTypeName, Reading } from '../inference/model-io';
import { uuidv7Time } from './uuidv7';

/**
 * Which model wrote a record. The serving model writes `primary`; a shadow model scoring the same
 * reading appends `shadow` records with its own modelVersion under the same prediction id, so a
 * consumer joins the two by id.
 */
export type PredictionRole = 'primary' | 'shadow';

/** What the log needs of one served prediction (the service's PredictionResult has all of it). */
export interface LoggedPrediction {
  readonly id: string;
  readonly reading: Reading;
  readonly predictedFailureType: FailureTypeName | string;
  readonly probabilities: ReadonlyArray<{ failureType: string; probability: number }>;
  readonly reconstructionError: number;
  readonly isAnomaly: boolean;
  readonly modelVersion: string;
}

/**
 * The predictions of one call (a predict, a predictBatch, or a shadow model's run over the same rows),
 * as appended: references only. Records are built from it when the buffer is written, off the request path.
 */
export interface PredictionLogEntry {
  requestId: string;
  role: PredictionRole;
  rows: readonly LoggedPrediction[];
  /** The serving model's range check for these rows (the readings outside the training envelope). */
  outOfRange: (reading: Reading) => readonly OutOfRangeReading[];
  /** Filled once requests are traced. */
  traceId?: string;
}

/** One line of the file log, one entry of the stream. Never API keys, never client addresses. */
export interface PredictionRecord {
  id: string;
  /** When the prediction was made (the time inside its UUIDv7), ISO 8601 UTC. */
  time: string;
  requestId: string;
  role: PredictionRole;
  modelVersion: string;
  reading: Reading;
  predictedFailureType: string;
  /** The six failure types' probabilities, by FailureType name. */
  probabilities: Record<string, number>;
  reconstructionError: number;
  isAnomaly: boolean;
  /** The reading fields outside the training envelope; empty when all are inside. */
  outOfRange: string[];
  traceId?: string;
}

export function toRecord(entry: PredictionLogEntry, row: LoggedPrediction): PredictionRecord {
  const probabilities: Record<string, number> = {};
  for (const p of row.probabilities) probabilities[p.failureType] = p.probability;
  const r = row.reading;
  const record: PredictionRecord = {
    id: row.id,
    time: new Date(uuidv7Time(row.id)).toISOString(),
    requestId: entry.requestId,
    role: entry.role,
    modelVersion: row.modelVersion,
    // Copied field by field: the input object may carry nothing else, but the log's shape must not depend on it.
    reading: {
      airTemperature: r.airTemperature,
      processTemperature: r.processTemperature,
      rotationalSpeed: r.rotationalSpeed,
      torque: r.torque,
      toolWear: r.toolWear,
      productType: r.productType,
    },
    predictedFailureType: row.predictedFailureType,
    probabilities,
    reconstructionError: row.reconstructionError,
    isAnomaly: row.isAnomaly,
    outOfRange: entry.outOfRange(r).map((o) => o.field),
  };
  if (entry.traceId !== undefined) record.traceId = entry.traceId;
  return record;
}
