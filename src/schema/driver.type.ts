import { Field, Float, ObjectType } from 'type-graphql';
import { ReadingField } from './reading-field.enum';

@ObjectType({
  description: 'How much one reading pushes the failure probability, measured by moving it back to a typical value.',
  simpleResolvers: true,
})
export class Driver {
  @Field(() => ReadingField, { description: 'The reading this driver is about.' })
  field!: ReadingField;

  @Field(() => Float, { description: "The reading as sent, in its field's unit (K, rpm, Nm or min)." })
  value!: number;

  @Field(() => Float, {
    description:
      "A typical value of this reading for the reading's product type, in the same unit: the median of the training data for that type (model.json `references`).",
  })
  reference!: number;

  @Field(() => Float, {
    description:
      'failureProbability of the reading minus failureProbability of the same reading with this field at `reference` (unitless, -1 to 1). Positive: this value raises the failure probability; 0: no influence at this point.',
  })
  effect!: number;
}
