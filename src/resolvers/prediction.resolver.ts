import { Arg, Ctx, Mutation, Resolver, type ResolverData } from 'type-graphql';
import type { AppContext } from '../context';
import { batchSizeOutOfRange, invalidReadings, type Violation } from '../errors';
import type { PredictionCall } from '../inference/inference.service';
import { traceIdOf } from '../observability/tracing';
import { Prediction } from '../schema/prediction.type';
import { CompiledValidator } from '../schema/reading-validator';
import { SensorReadingInput } from '../schema/sensor-reading.input';

/** SensorReadingInput's class-validator rules, checked by compiled predicates (class-validator only for a row that fails). */
const readings = new CompiledValidator(SensorReadingInput);

/** `predict`'s input: one reading's rules; every broken rule in one BAD_USER_INPUT error. */
function validateReading(input: SensorReadingInput): void {
  const violations = readings.validate(input);
  if (violations.length > 0) throw invalidReadings(violations);
}

/**
 * `predictBatch`'s inputs: 1 to MAX_BATCH_ROWS rows (the limit read at start, from the request's config),
 * then every row's rules; one error names every offending row and field.
 */
function validateBatch(inputs: SensorReadingInput[], _type: unknown, { context }: ResolverData): void {
  const { maxBatchRows } = (context as AppContext).config.limits;
  if (inputs.length < 1 || inputs.length > maxBatchRows) throw batchSizeOutOfRange(inputs.length, maxBatchRows);
  const violations: Violation[] = [];
  for (let i = 0; i < inputs.length; i++) {
    for (const v of readings.validate(inputs[i], i)) violations.push(v);
  }
  if (violations.length > 0) throw invalidReadings(violations);
}

@Resolver(() => Prediction)
export class PredictionResolver {
  @Mutation(() => Prediction, {
    description: 'Predicts the failure type of one reading and whether it is an anomaly. Concurrent calls share ONNX runs.',
  })
  predict(
    @Arg('input', () => SensorReadingInput, { description: 'The reading to score.', validateFn: validateReading })
    input: SensorReadingInput,
    @Ctx() ctx: AppContext,
  ): Promise<Prediction> {
    return ctx.models.service().predict(input, ctx.signal, predictionCall(ctx));
  }

  @Mutation(() => [Prediction], {
    description:
      'Predicts many readings at once (1 to MAX_BATCH_ROWS rows, default 1,000); results are in input order. An invalid row rejects the whole batch.',
  })
  predictBatch(
    @Arg('inputs', () => [SensorReadingInput], { description: 'The readings to score, in order.', validateFn: validateBatch })
    inputs: SensorReadingInput[],
    @Ctx() ctx: AppContext,
  ): Promise<Prediction[]> {
    return ctx.models.service().predictMany(inputs, ctx.signal, predictionCall(ctx));
  }
}

/** The ids the prediction log records with this call's rows, and its trace handle when tracing is on. */
function predictionCall(ctx: AppContext): PredictionCall {
  const trace = ctx.spans ?? undefined;
  return { requestId: ctx.requestId, trace, traceId: trace && traceIdOf(trace) };
}
