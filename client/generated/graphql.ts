/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** How a part run fails, as the AI4I 2020 failure-mode flags define it. */
export type FailureType =
  /** Too little temperature difference between process and air at low speed. */
  | 'HEAT_DISSIPATION_FAILURE'
  /** The run completes without failure. */
  | 'NO_FAILURE'
  /** Tool wear x torque beyond what the product variant tolerates. */
  | 'OVERSTRAIN_FAILURE'
  /** Mechanical power (torque x angular speed) too low or too high. */
  | 'POWER_FAILURE'
  /** Failure independent of the readings (0.1 % of runs). */
  | 'RANDOM_FAILURES'
  /** The tool fails at the end of its life (random between about 200 and 240 min). */
  | 'TOOL_WEAR_FAILURE';

/** Product quality variant of the part being machined (low, medium, high). */
export type ProductType =
  /** High quality variant (10 %). */
  | 'H'
  /** Low quality variant (60 % of the training data). */
  | 'L'
  /** Medium quality variant (30 %). */
  | 'M';

/** One set of process readings for a part run, in SI-style units. */
export type SensorReadingInput = {
  /** Ambient air temperature in kelvin (K). Must be above 0 K and at most 1,000 K. */
  airTemperature: number;
  /** Process temperature in kelvin (K). Must be above 0 K and at most 1,000 K. */
  processTemperature: number;
  /** Product quality variant: L, M or H. */
  productType: ProductType;
  /** Spindle rotational speed in revolutions per minute (rpm), 0 to 100,000. */
  rotationalSpeed: number;
  /** Tool wear as minutes of use (min), 0 to 100,000. */
  toolWear: number;
  /** Torque in newton-metres (Nm), 0 to 10,000. */
  torque: number;
};

/** Lifecycle state of the inference service. */
export type ServiceStatus =
  /** The drain is over and the model session is being released; the process is about to exit. */
  | 'CLOSING'
  /** Shutdown has begun: readiness is false so no new traffic is routed here; requests already sent are still answered. */
  | 'DRAINING'
  /** The model could not be loaded; the process is about to exit. */
  | 'FAILED'
  /** The model is being loaded; predictions get MODEL_NOT_READY. */
  | 'LOADING'
  /** The model is loaded and serving. */
  | 'READY';

export type HealthQueryVariables = Exact<{ [key: string]: never; }>;


export type HealthQuery = { health: { status: ServiceStatus, modelLoaded: boolean, device: string | null, uptimeSeconds: number, serverVersion: string, modelVersion: string | null } };

export type ModelInfoQueryVariables = Exact<{ [key: string]: never; }>;


export type ModelInfoQuery = { modelInfo: { name: string, version: string, createdAt: string, datasetSha256: string, dataLicence: string, anomalyThreshold: number, anomalyThresholdMethod: string, device: string, availableProviders: Array<string>, inputs: Array<{ field: string, column: string, unit: string, trainingMin: number | null, trainingMax: number | null }>, failureTypes: Array<{ failureType: FailureType, label: string, f1: { mean: number, std: number } | null }>, metrics: { protocol: string, binaryF1: { mean: number, std: number } | null, macroF1: { mean: number, std: number } | null, accuracy: { mean: number, std: number } | null }, batching: { maxBatchSize: number, maxBatchWaitMs: number, maxQueueRows: number, maxBatchRows: number, queuedRows: number, runs: number, rows: number, meanRowsPerRun: number } } };

export type PredictBatchMutationVariables = Exact<{
  inputs: Array<SensorReadingInput> | SensorReadingInput;
}>;


export type PredictBatchMutation = { predictBatch: Array<{ predictedFailureType: FailureType, label: string, probability: number, failureProbability: number, reconstructionError: number, anomalyThreshold: number, isAnomaly: boolean, device: string, modelVersion: string, probabilities: Array<{ failureType: FailureType, label: string, probability: number }> }> };

export type PredictMutationVariables = Exact<{
  input: SensorReadingInput;
}>;


export type PredictMutation = { predict: { predictedFailureType: FailureType, label: string, probability: number, failureProbability: number, reconstructionError: number, anomalyThreshold: number, isAnomaly: boolean, device: string, modelVersion: string, probabilities: Array<{ failureType: FailureType, label: string, probability: number }> } };

export type PredictionFieldsFragment = { predictedFailureType: FailureType, label: string, probability: number, failureProbability: number, reconstructionError: number, anomalyThreshold: number, isAnomaly: boolean, device: string, modelVersion: string, probabilities: Array<{ failureType: FailureType, label: string, probability: number }> };

export type RateLimitQueryVariables = Exact<{ [key: string]: never; }>;


export type RateLimitQuery = { rateLimit: { enabled: boolean, available: boolean, identifiedBy: string, store: string, windowSeconds: number, limit: number, used: number, remaining: number, rowsLimit: number, rowsUsed: number, rowsRemaining: number, resetAt: string | null } };

export const PredictionFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"PredictionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Prediction"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"predictedFailureType"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"probability"}},{"kind":"Field","name":{"kind":"Name","value":"failureProbability"}},{"kind":"Field","name":{"kind":"Name","value":"probabilities"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"failureType"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"probability"}}]}},{"kind":"Field","name":{"kind":"Name","value":"reconstructionError"}},{"kind":"Field","name":{"kind":"Name","value":"anomalyThreshold"}},{"kind":"Field","name":{"kind":"Name","value":"isAnomaly"}},{"kind":"Field","name":{"kind":"Name","value":"device"}},{"kind":"Field","name":{"kind":"Name","value":"modelVersion"}}]}}]} as unknown as DocumentNode<PredictionFieldsFragment, unknown>;
export const HealthDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Health"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"health"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"modelLoaded"}},{"kind":"Field","name":{"kind":"Name","value":"device"}},{"kind":"Field","name":{"kind":"Name","value":"uptimeSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"serverVersion"}},{"kind":"Field","name":{"kind":"Name","value":"modelVersion"}}]}}]}}]} as unknown as DocumentNode<HealthQuery, HealthQueryVariables>;
export const ModelInfoDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ModelInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"modelInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"datasetSha256"}},{"kind":"Field","name":{"kind":"Name","value":"dataLicence"}},{"kind":"Field","name":{"kind":"Name","value":"inputs"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"column"}},{"kind":"Field","name":{"kind":"Name","value":"unit"}},{"kind":"Field","name":{"kind":"Name","value":"trainingMin"}},{"kind":"Field","name":{"kind":"Name","value":"trainingMax"}}]}},{"kind":"Field","name":{"kind":"Name","value":"failureTypes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"failureType"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"f1"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mean"}},{"kind":"Field","name":{"kind":"Name","value":"std"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"anomalyThreshold"}},{"kind":"Field","name":{"kind":"Name","value":"anomalyThresholdMethod"}},{"kind":"Field","name":{"kind":"Name","value":"metrics"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"protocol"}},{"kind":"Field","name":{"kind":"Name","value":"binaryF1"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mean"}},{"kind":"Field","name":{"kind":"Name","value":"std"}}]}},{"kind":"Field","name":{"kind":"Name","value":"macroF1"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mean"}},{"kind":"Field","name":{"kind":"Name","value":"std"}}]}},{"kind":"Field","name":{"kind":"Name","value":"accuracy"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mean"}},{"kind":"Field","name":{"kind":"Name","value":"std"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"device"}},{"kind":"Field","name":{"kind":"Name","value":"availableProviders"}},{"kind":"Field","name":{"kind":"Name","value":"batching"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"maxBatchSize"}},{"kind":"Field","name":{"kind":"Name","value":"maxBatchWaitMs"}},{"kind":"Field","name":{"kind":"Name","value":"maxQueueRows"}},{"kind":"Field","name":{"kind":"Name","value":"maxBatchRows"}},{"kind":"Field","name":{"kind":"Name","value":"queuedRows"}},{"kind":"Field","name":{"kind":"Name","value":"runs"}},{"kind":"Field","name":{"kind":"Name","value":"rows"}},{"kind":"Field","name":{"kind":"Name","value":"meanRowsPerRun"}}]}}]}}]}}]} as unknown as DocumentNode<ModelInfoQuery, ModelInfoQueryVariables>;
export const PredictBatchDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"PredictBatch"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SensorReadingInput"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"predictBatch"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"inputs"},"value":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"PredictionFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"PredictionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Prediction"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"predictedFailureType"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"probability"}},{"kind":"Field","name":{"kind":"Name","value":"failureProbability"}},{"kind":"Field","name":{"kind":"Name","value":"probabilities"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"failureType"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"probability"}}]}},{"kind":"Field","name":{"kind":"Name","value":"reconstructionError"}},{"kind":"Field","name":{"kind":"Name","value":"anomalyThreshold"}},{"kind":"Field","name":{"kind":"Name","value":"isAnomaly"}},{"kind":"Field","name":{"kind":"Name","value":"device"}},{"kind":"Field","name":{"kind":"Name","value":"modelVersion"}}]}}]} as unknown as DocumentNode<PredictBatchMutation, PredictBatchMutationVariables>;
export const PredictDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Predict"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SensorReadingInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"predict"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"PredictionFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"PredictionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Prediction"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"predictedFailureType"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"probability"}},{"kind":"Field","name":{"kind":"Name","value":"failureProbability"}},{"kind":"Field","name":{"kind":"Name","value":"probabilities"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"failureType"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"probability"}}]}},{"kind":"Field","name":{"kind":"Name","value":"reconstructionError"}},{"kind":"Field","name":{"kind":"Name","value":"anomalyThreshold"}},{"kind":"Field","name":{"kind":"Name","value":"isAnomaly"}},{"kind":"Field","name":{"kind":"Name","value":"device"}},{"kind":"Field","name":{"kind":"Name","value":"modelVersion"}}]}}]} as unknown as DocumentNode<PredictMutation, PredictMutationVariables>;
export const RateLimitDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"RateLimit"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"rateLimit"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"available"}},{"kind":"Field","name":{"kind":"Name","value":"identifiedBy"}},{"kind":"Field","name":{"kind":"Name","value":"store"}},{"kind":"Field","name":{"kind":"Name","value":"windowSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"limit"}},{"kind":"Field","name":{"kind":"Name","value":"used"}},{"kind":"Field","name":{"kind":"Name","value":"remaining"}},{"kind":"Field","name":{"kind":"Name","value":"rowsLimit"}},{"kind":"Field","name":{"kind":"Name","value":"rowsUsed"}},{"kind":"Field","name":{"kind":"Name","value":"rowsRemaining"}},{"kind":"Field","name":{"kind":"Name","value":"resetAt"}}]}}]}}]} as unknown as DocumentNode<RateLimitQuery, RateLimitQueryVariables>;