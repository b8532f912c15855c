import { Field, Float, ObjectType } from 'type-graphql';
import { ReadingField } from './reading-field.enum';

@ObjectType({
  description: 'A reading outside the range seen in the training data: the model was never shown such a value.',
  simpleResolvers: true,
})
export class OutOfRangeReading {
  @Field(() => ReadingField, { description: 'The reading that is out of range.' })
  field!: ReadingField;

  @Field(() => Float, { description: "The reading as sent, in its field's unit (K, rpm, Nm or min)." })
  value!: number;

  @Field(() => Float, {
    description: 'Smallest value of this reading in the training data, same unit (model.json `inputs.columns[].min`).',
  })
  trainingMin!: number;

  @Field(() => Float, { description: 'Largest value of this reading in the training data, same unit (model.json `inputs.columns[].max`).' })
  trainingMax!: number;
}
