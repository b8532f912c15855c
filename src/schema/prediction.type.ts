import { Field, Float, ID, ObjectType } from 'type-graphql';
import { FailureType } from './failure-type.enum';

@ObjectType({ description: 'Probability of one failure type.', simpleResolvers: true })
export class FailureProbability {
  @Field(() => FailureType, { description: 'The failure type.' })
  failureType!: FailureType;

  @Field(() => String, { description: 'Human-readable name, e.g. "Power Failure".' })
  label!: string;

  @Field(() => Float, { description: 'Probability of this type, 0 to 1 (unitless).' })
  probability!: number;
}

@ObjectType({ description: 'What the models say about one sensor reading.', simpleResolvers: true })
export class Prediction {
  @Field(() => ID, {
    description:
      "This prediction's id: a UUIDv7 (RFC 9562), time-ordered and unique across processes and replicas. The prediction log (PREDICTION_LOG) records it, so later ground truth can be joined to the prediction by id.",
  })
  id!: string;

  @Field(() => FailureType, { description: 'The most probable failure type (NO_FAILURE when none).' })
  predictedFailureType!: FailureType;

  @Field(() => String, { description: 'Human-readable name of the predicted type, e.g. "No Failure".' })
  label!: string;

  @Field(() => Float, { description: 'Probability of the predicted type, 0 to 1.' })
  probability!: number;

  @Field(() => Float, { description: 'Probability that the run fails in any way: 1 - P(NO_FAILURE), 0 to 1.' })
  failureProbability!: number;

  @Field(() => [FailureProbability], { description: 'All six failure types with their probabilities, in FailureType order.' })
  probabilities!: FailureProbability[];

  @Field(() => Float, { description: "VAE reconstruction error of the reading (mean squared error in the model's standardised units)." })
  reconstructionError!: number;

  @Field(() => Float, { description: 'Reconstruction error above which a reading counts as an anomaly (same units).' })
  anomalyThreshold!: number;

  @Field(() => Boolean, {
    description:
      'True when the reading lies outside the envelope the model was trained on (reconstructionError > anomalyThreshold): treat the failure probabilities with caution.',
  })
  isAnomaly!: boolean;

  @Field(() => String, { description: 'Execution provider that ran the model: "cpu" or "cuda".' })
  device!: string;

  @Field(() => String, { description: 'Version of the model that answered (semver+content hash).' })
  modelVersion!: string;
}
