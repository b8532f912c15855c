import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type ValidatorFn } from 'type-graphql';
import { batchSizeOutOfRange, invalidReadings, type Violation } from '../errors';
import { CompiledValidator } from './reading-validator';
import { SensorReadingInput } from './sensor-reading.input';

export interface SchemaOptions {
  /** Most rows one predictBatch call takes. */
  maxBatchRows: number;
  /** The resolver classes; the composition root (src/server.ts) names them. */
  resolvers: readonly Function[];
  globalMiddlewares?: Parameters<typeof buildSchema>[0]['globalMiddlewares'];
}

/**
 * Argument validation for every resolver: readings are checked against SensorReadingInput's
 * class-validator decorators; a batch reports every offending row and field in one error.
 */
export function createValidateFn(maxBatchRows: number): ValidatorFn {
  const readings = new CompiledValidator(SensorReadingInput);
  return (arg) => {
    if (Array.isArray(arg)) {
      if (arg.length > 0 && !(arg[0] instanceof SensorReadingInput)) return;
      if (arg.length < 1 || arg.length > maxBatchRows) {
        throw batchSizeOutOfRange(arg.length, maxBatchRows);
      }
      const violations: Violation[] = [];
      for (let i = 0; i < arg.length; i++) {
        const rowViolations = readings.validate(arg[i], i);
        for (const v of rowViolations) violations.push(v);
      }
      if (violations.length > 0) throw invalidReadings(violations);
    } else if (arg instanceof SensorReadingInput) {
      const violations = readings.validate(arg);
      if (violations.length > 0) throw invalidReadings(violations);
    }
  };
}

export function buildAppSchema(options: SchemaOptions): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [...options.resolvers] as [Function, ...Function[]],
    validateFn: createValidateFn(options.maxBatchRows),
    globalMiddlewares: options.globalMiddlewares,
  });
}
