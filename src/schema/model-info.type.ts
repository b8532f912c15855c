import { Field, Float, Int, ObjectType } from 'type-graphql';
import { Drift } from './drift.type';
import { FailureType } from './failure-type.enum';
import { ShadowInfo } from './shadow.type';

@ObjectType({ description: 'One input the model reads, with its unit and the range seen in training.', simpleResolvers: true })
export class ModelInput {
  @Field(() => String, { description: 'Field name in SensorReadingInput, e.g. "torque".' })
  field!: string;

  @Field(() => String, { description: 'Column name in the AI4I 2020 dataset, e.g. "Torque [Nm]".' })
  column!: string;

  @Field(() => String, { description: 'Unit: "K", "rpm", "Nm", "min", or "category" for the product type.' })
  unit!: string;

  @Field(() => Float, { nullable: true, description: 'Smallest value in the training rows (in the unit above); null for categories.' })
  trainingMin!: number | null;

  @Field(() => Float, { nullable: true, description: 'Largest value in the training rows (in the unit above); null for categories.' })
  trainingMax!: number | null;
}

@ObjectType({ description: 'Mean and standard deviation of a metric over the held-out splits.', simpleResolvers: true })
export class MetricSummary {
  @Field(() => Float, { description: 'Mean over the evaluation splits (0 to 1).' })
  mean!: number;

  @Field(() => Float, { description: 'Standard deviation over the evaluation splits.' })
  std!: number;
}

@ObjectType({ description: 'A failure type the model predicts, with its held-out F1 score.', simpleResolvers: true })
export class FailureTypeInfo {
  @Field(() => FailureType, { description: 'The failure type (model output column order).' })
  failureType!: FailureType;

  @Field(() => String, { description: 'Human-readable name.' })
  label!: string;

  @Field(() => MetricSummary, { nullable: true, description: 'F1 score on held-out rows; null when model.json has none.' })
  f1!: MetricSummary | null;

  @Field(() => Float, {
    nullable: true,
    description:
      "F1 of the shipped model on the near-boundary evaluation set (readings near the failure rules' thresholds); null for classes that set does not hold or when model.json has none.",
  })
  nearBoundaryF1!: number | null;
}

@ObjectType({ description: 'Held-out evaluation metrics recorded in model.json at training time.', simpleResolvers: true })
export class ModelMetrics {
  @Field(() => String, { description: 'How the metrics were measured (splits, seeds).' })
  protocol!: string;

  @Field(() => String, {
    nullable: true,
    description: 'How the near-boundary F1 scores (failureTypes.nearBoundaryF1) were measured; null when model.json has none.',
  })
  nearBoundaryProtocol!: string | null;

  @Field(() => MetricSummary, { nullable: true, description: 'F1 of "any failure" versus "no failure".' })
  binaryF1!: MetricSummary | null;

  @Field(() => MetricSummary, { nullable: true, description: 'Six-class macro-averaged F1.' })
  macroF1!: MetricSummary | null;

  @Field(() => MetricSummary, { nullable: true, description: 'Six-class accuracy.' })
  accuracy!: MetricSummary | null;
}

@ObjectType({ description: 'How predictions are coalesced into ONNX runs, and what that achieved so far.', simpleResolvers: true })
export class BatchingInfo {
  @Field(() => Int, { description: 'Most rows in one ONNX run (MAX_BATCH_SIZE).' })
  maxBatchSize!: number;

  @Field(() => Int, { description: 'Extra wait to gather rows before a run, in milliseconds (MAX_BATCH_WAIT_MS).' })
  maxBatchWaitMs!: number;

  @Field(() => Int, { description: 'Most rows queued or running before SERVER_BUSY (MAX_QUEUE_ROWS).' })
  maxQueueRows!: number;

  @Field(() => Int, { description: 'Most rows one predictBatch call accepts (MAX_BATCH_ROWS).' })
  maxBatchRows!: number;

  @Field(() => Int, { description: 'Rows queued or running right now.' })
  queuedRows!: number;

  @Field(() => Float, { description: 'ONNX runs since start.' })
  runs!: number;

  @Field(() => Float, { description: 'Rows inferred since start.' })
  rows!: number;

  @Field(() => Float, { description: 'Mean rows per ONNX run since start (0 before the first run).' })
  meanRowsPerRun!: number;
}

@ObjectType({ description: 'What model is loaded, how it was trained and evaluated, and how it runs.', simpleResolvers: true })
export class ModelInfo {
  @Field(() => String, { description: 'Model name.' })
  name!: string;

  @Field(() => String, { description: 'Model version: semver plus a content hash of the ONNX file.' })
  version!: string;

  @Field(() => String, { description: 'When the model was trained (ISO 8601).' })
  createdAt!: string;

  @Field(() => String, { description: 'SHA-256 of the training dataset file.' })
  datasetSha256!: string;

  @Field(() => String, { description: 'Licence and attribution of the training data.' })
  dataLicence!: string;

  @Field(() => [ModelInput], { description: 'Inputs in the order the model reads them, with units and training ranges.' })
  inputs!: ModelInput[];

  @Field(() => [FailureTypeInfo], { description: 'The failure types, in model output order.' })
  failureTypes!: FailureTypeInfo[];

  @Field(() => Float, { description: 'Reconstruction error above which isAnomaly is true.' })
  anomalyThreshold!: number;

  @Field(() => String, { description: 'How the anomaly threshold was chosen.' })
  anomalyThresholdMethod!: string;

  @Field(() => ModelMetrics, { description: 'Held-out metrics from training.' })
  metrics!: ModelMetrics;

  @Field(() => String, { description: 'Execution provider running the model: "cpu" or "cuda".' })
  device!: string;

  @Field(() => [String], { description: 'Execution providers this build of onnxruntime-node offers.' })
  availableProviders!: string[];

  @Field(() => BatchingInfo, { description: 'Micro-batching settings and statistics.' })
  batching!: BatchingInfo;

  @Field(() => Drift, { description: 'Input drift of the served readings against training (costs no rate-limit budget, like modelInfo).' })
  drift!: Drift;

  @Field(() => ShadowInfo, {
    nullable: true,
    description: 'The shadow model compared with this one on live rows, and how they agree; null when none is loaded (SHADOW_MODEL_DIR).',
  })
  shadow!: ShadowInfo | null;
}
