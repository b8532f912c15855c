import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { AppContext } from '../context';
import { Prediction } from '../schema/prediction.type';
import { SensorReadingInput } from '../schema/sensor-reading.input';

@Resolver(() => Prediction)
export class PredictionResolver {
  @Mutation(() => Prediction, {
    description: 'Predicts the failure type of one reading and whether it is an anomaly. Concurrent calls share ONNX runs.',
  })
  predict(
    @Arg('input', () => SensorReadingInput, { description: 'The reading to score.' }) input: SensorReadingInput,
    @Ctx() ctx: AppContext,
  ): Promise<Prediction> {
    return ctx.models.service().predict(input, ctx.signal);
  }

  @Mutation(() => [Prediction], {
    description:
      'Predicts many readings at once (1 to MAX_BATCH_ROWS rows, default 1,000); results are in input order. An invalid row rejects the whole batch.',
  })
  predictBatch(
    @Arg('inputs', () => [SensorReadingInput], { description: 'The readings to score, in order.' }) inputs: SensorReadingInput[],
    @Ctx() ctx: AppContext,
  ): Promise<Prediction[]> {
    return ctx.models.service().predictMany(inputs, ctx.signal);
  }
}
