import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { DriftStatusName } from '../inference/drift';
import { FailureType } from './failure-type.enum';
import { ReadingField } from './reading-field.enum';

export const DriftStatus = {
  INSUFFICIENT_DATA: 'INSUFFICIENT_DATA',
  NONE: 'NONE',
  MODERATE: 'MODERATE',
  SIGNIFICANT: 'SIGNIFICANT',
} as const satisfies Record<DriftStatusName, DriftStatusName>;
export type DriftStatus = (typeof DriftStatus)[keyof typeof DriftStatus];

registerEnumType(DriftStatus, {
  name: 'DriftStatus',
  description: 'How far the live readings of one field moved from training, by PSI (thresholds DRIFT_PSI_MODERATE, DRIFT_PSI_SIGNIFICANT).',
  valuesConfig: {
    INSUFFICIENT_DATA: {
      description: 'Fewer than DRIFT_MIN_ROWS rows in the window (or drift off, or a model without a drift reference).',
    },
    NONE: { description: 'PSI below DRIFT_PSI_MODERATE (default 0.1).' },
    MODERATE: { description: 'PSI from DRIFT_PSI_MODERATE up to DRIFT_PSI_SIGNIFICANT (default 0.25).' },
    SIGNIFICANT: { description: 'PSI at or above DRIFT_PSI_SIGNIFICANT.' },
  },
});

@ObjectType({ description: 'Drift of one reading over the window.', simpleResolvers: true })
export class FieldDrift {
  @Field(() => ReadingField, { description: 'The reading.' })
  field!: ReadingField;

  @Field(() => Float, { description: 'Population Stability Index against the training bins (docs/monitoring.md).' })
  psi!: number;

  @Field(() => DriftStatus, { description: 'The verdict for this PSI and window size.' })
  status!: DriftStatus;
}

@ObjectType({ description: 'One predicted failure type: its share of the drift window and of training.', simpleResolvers: true })
export class ClassShare {
  @Field(() => FailureType, { description: 'The predicted failure type.' })
  failureType!: FailureType;

  @Field(() => Float, { description: 'Share of the rows in the window predicted as this type (0 with an empty window).' })
  live!: number;

  @Field(() => Float, {
    description: 'Share of this type among the training labels (model.json drift.classMix; 0 without a drift reference).',
  })
  training!: number;
}

@ObjectType({
  description: 'Input drift of the served readings against the training data, over a sliding window (per process, summed over workers).',
  simpleResolvers: true,
})
export class Drift {
  @Field(() => Int, { description: 'Rows in the window now (at most DRIFT_WINDOW_ROWS, none older than DRIFT_WINDOW_MAX_AGE).' })
  windowRows!: number;

  @Field(() => Int, { description: 'The most rows the window holds (DRIFT_WINDOW_ROWS).' })
  windowSize!: number;

  @Field(() => Int, { description: 'Rows the window needs before a field gets a verdict other than INSUFFICIENT_DATA (DRIFT_MIN_ROWS).' })
  minRows!: number;

  @Field(() => Float, { description: 'PSI from which a field is MODERATE (DRIFT_PSI_MODERATE).' })
  psiModerate!: number;

  @Field(() => Float, { description: 'PSI from which a field is SIGNIFICANT (DRIFT_PSI_SIGNIFICANT).' })
  psiSignificant!: number;

  @Field(() => Int, { description: 'Rows counted since start.' })
  rowsSeen!: number;

  @Field(() => [FieldDrift], { description: 'One entry per numeric reading.' })
  fields!: FieldDrift[];

  @Field(() => Float, { description: 'Share of the window flagged isAnomaly.' })
  anomalyRate!: number;

  @Field(() => Float, { description: 'Share of normal training readings flagged isAnomaly (model.json drift.anomalyRate).' })
  trainingAnomalyRate!: number;

  @Field(() => [ClassShare], {
    description: 'Predicted failure types in the window next to the training class mix, one entry per type in model output order.',
  })
  classMix!: ClassShare[];
}
