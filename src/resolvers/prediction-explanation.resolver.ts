import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { AppContext } from '../context';
import type { PredictionResult } from '../inference/inference.service';
import { Explanation } from '../schema/explanation.type';
import { OutOfRangeReading } from '../schema/out-of-range.type';
import { Prediction } from '../schema/prediction.type';

/**
 * The Prediction fields that cost something beyond the prediction itself, resolved only when a client
 * selects them. The predictions the mutations return carry their reading (PredictionResult), which is
 * where both start.
 */
@Resolver(() => Prediction)
export class PredictionExplanationResolver {
  @FieldResolver(() => Explanation, {
    description:
      'Why this prediction: temperature difference, power and strain, and one driver per numeric reading. Computed only when selected, ' +
      'from five more model rows per reading (batched with the rest of the request), and charged as 6 readings against the row rate limit instead of 1.',
  })
  explanation(@Root() prediction: PredictionResult, @Ctx() ctx: AppContext): Promise<Explanation> {
    return ctx.models.service().explain(prediction);
  }

  @FieldResolver(() => [OutOfRangeReading], {
    description:
      'The readings outside the range seen in training (model.json), with that range; empty when all are inside. ' +
      'A non-empty list means the probabilities are extrapolation (e.g. temperatures sent in °C instead of K). No model run; free.',
  })
  outOfRange(@Root() prediction: PredictionResult, @Ctx() ctx: AppContext): OutOfRangeReading[] {
    return ctx.models.service().outOfRange(prediction.reading);
  }
}
