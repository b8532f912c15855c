import { Field, Float, Int, ObjectType } from 'type-graphql';
import { FailureType } from './failure-type.enum';

@ObjectType({ description: 'Rows on which the primary and the shadow model predicted different failure types.', simpleResolvers: true })
export class ShadowDisagreement {
  @Field(() => FailureType, { description: "The primary model's predicted failure type (the answer callers got)." })
  primary!: FailureType;

  @Field(() => FailureType, { description: "The shadow model's predicted failure type for the same rows." })
  shadow!: FailureType;

  @Field(() => Int, { description: 'Compared rows with this pair of answers.' })
  rows!: number;
}

@ObjectType({
  description:
    'The shadow model (SHADOW_MODEL_DIR): scored on a sample of live rows after the primary answered, never returned to callers. Statistics cover the current primary/shadow pair (they start again when either model changes), summed over every worker.',
  simpleResolvers: true,
})
export class ShadowInfo {
  @Field(() => String, { description: "The shadow model's version." })
  version!: string;

  @Field(() => Int, { description: 'Rows scored by both models and compared.' })
  rowsCompared!: number;

  @Field(() => Float, { description: 'Share of compared rows with the same predictedFailureType (1 before the first row).' })
  agreement!: number;

  @Field(() => Float, { description: 'Share of compared rows with the same isAnomaly (1 before the first row).' })
  anomalyAgreement!: number;

  @Field(() => Float, {
    description: 'Mean over compared rows of the mean absolute difference of the six class probabilities (0 before the first row).',
  })
  meanAbsProbabilityDelta!: number;

  @Field(() => [ShadowDisagreement], { description: 'Pairs of differing answers, most rows first; only pairs that differ.' })
  disagreements!: ShadowDisagreement[];
}
