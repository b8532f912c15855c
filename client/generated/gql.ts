/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation ExplainBatch($inputs: [SensorReadingInput!]!) {\n  predictBatch(inputs: $inputs) {\n    ...PredictionFields\n    explanation {\n      ...ExplanationFields\n    }\n  }\n}": typeof types.ExplainBatchDocument,
    "mutation ExplainPrediction($input: SensorReadingInput!) {\n  predict(input: $input) {\n    ...PredictionFields\n    explanation {\n      ...ExplanationFields\n    }\n  }\n}": typeof types.ExplainPredictionDocument,
    "fragment ExplanationFields on Explanation {\n  temperatureDifference\n  power\n  strain\n  drivers {\n    field\n    value\n    reference\n    effect\n  }\n}": typeof types.ExplanationFieldsFragmentDoc,
    "query Health {\n  health {\n    status\n    modelLoaded\n    device\n    uptimeSeconds\n    serverVersion\n    modelVersion\n  }\n}": typeof types.HealthDocument,
    "query ModelHealth {\n  modelInfo {\n    version\n    drift {\n      windowRows\n      windowSize\n      minRows\n      rowsSeen\n      psiModerate\n      psiSignificant\n      fields {\n        field\n        psi\n        status\n      }\n      anomalyRate\n      trainingAnomalyRate\n      classMix {\n        failureType\n        live\n        training\n      }\n    }\n    shadow {\n      version\n      rowsCompared\n      agreement\n      anomalyAgreement\n      meanAbsProbabilityDelta\n      disagreements {\n        primary\n        shadow\n        rows\n      }\n    }\n  }\n}": typeof types.ModelHealthDocument,
    "query ModelInfo {\n  modelInfo {\n    name\n    version\n    createdAt\n    datasetSha256\n    dataLicence\n    inputs {\n      field\n      column\n      unit\n      trainingMin\n      trainingMax\n    }\n    failureTypes {\n      failureType\n      label\n      f1 {\n        mean\n        std\n      }\n      nearBoundaryF1\n    }\n    anomalyThreshold\n    anomalyThresholdMethod\n    metrics {\n      protocol\n      nearBoundaryProtocol\n      binaryF1 {\n        mean\n        std\n      }\n      macroF1 {\n        mean\n        std\n      }\n      accuracy {\n        mean\n        std\n      }\n    }\n    device\n    availableProviders\n    batching {\n      maxBatchSize\n      maxBatchWaitMs\n      maxQueueRows\n      maxBatchRows\n      queuedRows\n      runs\n      rows\n      meanRowsPerRun\n    }\n  }\n}": typeof types.ModelInfoDocument,
    "mutation PredictBatch($inputs: [SensorReadingInput!]!) {\n  predictBatch(inputs: $inputs) {\n    ...PredictionFields\n  }\n}": typeof types.PredictBatchDocument,
    "mutation Predict($input: SensorReadingInput!) {\n  predict(input: $input) {\n    ...PredictionFields\n  }\n}": typeof types.PredictDocument,
    "fragment PredictionFields on Prediction {\n  predictedFailureType\n  label\n  probability\n  failureProbability\n  probabilities {\n    failureType\n    label\n    probability\n  }\n  reconstructionError\n  anomalyThreshold\n  isAnomaly\n  device\n  modelVersion\n  outOfRange {\n    field\n    value\n    trainingMin\n    trainingMax\n  }\n}": typeof types.PredictionFieldsFragmentDoc,
    "query RateLimit {\n  rateLimit {\n    enabled\n    available\n    identifiedBy\n    store\n    windowSeconds\n    limit\n    used\n    remaining\n    rowsLimit\n    rowsUsed\n    rowsRemaining\n    resetAt\n  }\n}": typeof types.RateLimitDocument,
};
const documents: Documents = {
    "mutation ExplainBatch($inputs: [SensorReadingInput!]!) {\n  predictBatch(inputs: $inputs) {\n    ...PredictionFields\n    explanation {\n      ...ExplanationFields\n    }\n  }\n}": types.ExplainBatchDocument,
    "mutation ExplainPrediction($input: SensorReadingInput!) {\n  predict(input: $input) {\n    ...PredictionFields\n    explanation {\n      ...ExplanationFields\n    }\n  }\n}": types.ExplainPredictionDocument,
    "fragment ExplanationFields on Explanation {\n  temperatureDifference\n  power\n  strain\n  drivers {\n    field\n    value\n    reference\n    effect\n  }\n}": types.ExplanationFieldsFragmentDoc,
    "query Health {\n  health {\n    status\n    modelLoaded\n    device\n    uptimeSeconds\n    serverVersion\n    modelVersion\n  }\n}": types.HealthDocument,
    "query ModelHealth {\n  modelInfo {\n    version\n    drift {\n      windowRows\n      windowSize\n      minRows\n      rowsSeen\n      psiModerate\n      psiSignificant\n      fields {\n        field\n        psi\n        status\n      }\n      anomalyRate\n      trainingAnomalyRate\n      classMix {\n        failureType\n        live\n        training\n      }\n    }\n    shadow {\n      version\n      rowsCompared\n      agreement\n      anomalyAgreement\n      meanAbsProbabilityDelta\n      disagreements {\n        primary\n        shadow\n        rows\n      }\n    }\n  }\n}": types.ModelHealthDocument,
    "query ModelInfo {\n  modelInfo {\n    name\n    version\n    createdAt\n    datasetSha256\n    dataLicence\n    inputs {\n      field\n      column\n      unit\n      trainingMin\n      trainingMax\n    }\n    failureTypes {\n      failureType\n      label\n      f1 {\n        mean\n        std\n      }\n      nearBoundaryF1\n    }\n    anomalyThreshold\n    anomalyThresholdMethod\n    metrics {\n      protocol\n      nearBoundaryProtocol\n      binaryF1 {\n        mean\n        std\n      }\n      macroF1 {\n        mean\n        std\n      }\n      accuracy {\n        mean\n        std\n      }\n    }\n    device\n    availableProviders\n    batching {\n      maxBatchSize\n      maxBatchWaitMs\n      maxQueueRows\n      maxBatchRows\n      queuedRows\n      runs\n      rows\n      meanRowsPerRun\n    }\n  }\n}": types.ModelInfoDocument,
    "mutation PredictBatch($inputs: [SensorReadingInput!]!) {\n  predictBatch(inputs: $inputs) {\n    ...PredictionFields\n  }\n}": types.PredictBatchDocument,
    "mutation Predict($input: SensorReadingInput!) {\n  predict(input: $input) {\n    ...PredictionFields\n  }\n}": types.PredictDocument,
    "fragment PredictionFields on Prediction {\n  predictedFailureType\n  label\n  probability\n  failureProbability\n  probabilities {\n    failureType\n    label\n    probability\n  }\n  reconstructionError\n  anomalyThreshold\n  isAnomaly\n  device\n  modelVersion\n  outOfRange {\n    field\n    value\n    trainingMin\n    trainingMax\n  }\n}": types.PredictionFieldsFragmentDoc,
    "query RateLimit {\n  rateLimit {\n    enabled\n    available\n    identifiedBy\n    store\n    windowSeconds\n    limit\n    used\n    remaining\n    rowsLimit\n    rowsUsed\n    rowsRemaining\n    resetAt\n  }\n}": types.RateLimitDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ExplainBatch($inputs: [SensorReadingInput!]!) {\n  predictBatch(inputs: $inputs) {\n    ...PredictionFields\n    explanation {\n      ...ExplanationFields\n    }\n  }\n}"): (typeof documents)["mutation ExplainBatch($inputs: [SensorReadingInput!]!) {\n  predictBatch(inputs: $inputs) {\n    ...PredictionFields\n    explanation {\n      ...ExplanationFields\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ExplainPrediction($input: SensorReadingInput!) {\n  predict(input: $input) {\n    ...PredictionFields\n    explanation {\n      ...ExplanationFields\n    }\n  }\n}"): (typeof documents)["mutation ExplainPrediction($input: SensorReadingInput!) {\n  predict(input: $input) {\n    ...PredictionFields\n    explanation {\n      ...ExplanationFields\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment ExplanationFields on Explanation {\n  temperatureDifference\n  power\n  strain\n  drivers {\n    field\n    value\n    reference\n    effect\n  }\n}"): (typeof documents)["fragment ExplanationFields on Explanation {\n  temperatureDifference\n  power\n  strain\n  drivers {\n    field\n    value\n    reference\n    effect\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Health {\n  health {\n    status\n    modelLoaded\n    device\n    uptimeSeconds\n    serverVersion\n    modelVersion\n  }\n}"): (typeof documents)["query Health {\n  health {\n    status\n    modelLoaded\n    device\n    uptimeSeconds\n    serverVersion\n    modelVersion\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ModelHealth {\n  modelInfo {\n    version\n    drift {\n      windowRows\n      windowSize\n      minRows\n      rowsSeen\n      psiModerate\n      psiSignificant\n      fields {\n        field\n        psi\n        status\n      }\n      anomalyRate\n      trainingAnomalyRate\n      classMix {\n        failureType\n        live\n        training\n      }\n    }\n    shadow {\n      version\n      rowsCompared\n      agreement\n      anomalyAgreement\n      meanAbsProbabilityDelta\n      disagreements {\n        primary\n        shadow\n        rows\n      }\n    }\n  }\n}"): (typeof documents)["query ModelHealth {\n  modelInfo {\n    version\n    drift {\n      windowRows\n      windowSize\n      minRows\n      rowsSeen\n      psiModerate\n      psiSignificant\n      fields {\n        field\n        psi\n        status\n      }\n      anomalyRate\n      trainingAnomalyRate\n      classMix {\n        failureType\n        live\n        training\n      }\n    }\n    shadow {\n      version\n      rowsCompared\n      agreement\n      anomalyAgreement\n      meanAbsProbabilityDelta\n      disagreements {\n        primary\n        shadow\n        rows\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ModelInfo {\n  modelInfo {\n    name\n    version\n    createdAt\n    datasetSha256\n    dataLicence\n    inputs {\n      field\n      column\n      unit\n      trainingMin\n      trainingMax\n    }\n    failureTypes {\n      failureType\n      label\n      f1 {\n        mean\n        std\n      }\n      nearBoundaryF1\n    }\n    anomalyThreshold\n    anomalyThresholdMethod\n    metrics {\n      protocol\n      nearBoundaryProtocol\n      binaryF1 {\n        mean\n        std\n      }\n      macroF1 {\n        mean\n        std\n      }\n      accuracy {\n        mean\n        std\n      }\n    }\n    device\n    availableProviders\n    batching {\n      maxBatchSize\n      maxBatchWaitMs\n      maxQueueRows\n      maxBatchRows\n      queuedRows\n      runs\n      rows\n      meanRowsPerRun\n    }\n  }\n}"): (typeof documents)["query ModelInfo {\n  modelInfo {\n    name\n    version\n    createdAt\n    datasetSha256\n    dataLicence\n    inputs {\n      field\n      column\n      unit\n      trainingMin\n      trainingMax\n    }\n    failureTypes {\n      failureType\n      label\n      f1 {\n        mean\n        std\n      }\n      nearBoundaryF1\n    }\n    anomalyThreshold\n    anomalyThresholdMethod\n    metrics {\n      protocol\n      nearBoundaryProtocol\n      binaryF1 {\n        mean\n        std\n      }\n      macroF1 {\n        mean\n        std\n      }\n      accuracy {\n        mean\n        std\n      }\n    }\n    device\n    availableProviders\n    batching {\n      maxBatchSize\n      maxBatchWaitMs\n      maxQueueRows\n      maxBatchRows\n      queuedRows\n      runs\n      rows\n      meanRowsPerRun\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation PredictBatch($inputs: [SensorReadingInput!]!) {\n  predictBatch(inputs: $inputs) {\n    ...PredictionFields\n  }\n}"): (typeof documents)["mutation PredictBatch($inputs: [SensorReadingInput!]!) {\n  predictBatch(inputs: $inputs) {\n    ...PredictionFields\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Predict($input: SensorReadingInput!) {\n  predict(input: $input) {\n    ...PredictionFields\n  }\n}"): (typeof documents)["mutation Predict($input: SensorReadingInput!) {\n  predict(input: $input) {\n    ...PredictionFields\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment PredictionFields on Prediction {\n  predictedFailureType\n  label\n  probability\n  failureProbability\n  probabilities {\n    failureType\n    label\n    probability\n  }\n  reconstructionError\n  anomalyThreshold\n  isAnomaly\n  device\n  modelVersion\n  outOfRange {\n    field\n    value\n    trainingMin\n    trainingMax\n  }\n}"): (typeof documents)["fragment PredictionFields on Prediction {\n  predictedFailureType\n  label\n  probability\n  failureProbability\n  probabilities {\n    failureType\n    label\n    probability\n  }\n  reconstructionError\n  anomalyThreshold\n  isAnomaly\n  device\n  modelVersion\n  outOfRange {\n    field\n    value\n    trainingMin\n    trainingMax\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query RateLimit {\n  rateLimit {\n    enabled\n    available\n    identifiedBy\n    store\n    windowSeconds\n    limit\n    used\n    remaining\n    rowsLimit\n    rowsUsed\n    rowsRemaining\n    resetAt\n  }\n}"): (typeof documents)["query RateLimit {\n  rateLimit {\n    enabled\n    available\n    identifiedBy\n    store\n    windowSeconds\n    limit\n    used\n    remaining\n    rowsLimit\n    rowsUsed\n    rowsRemaining\n    resetAt\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;