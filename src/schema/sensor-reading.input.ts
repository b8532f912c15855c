import { IsEnum, IsNumber, IsPositive, Max, Min } from 'class-validator';
import { Field, Float, InputType } from 'type-graphql';
import { ProductType } from './product-type.enum';

const FINITE = { allowNaN: false, allowInfinity: false } as const;

/**
 * One reading of the milling machine. The validators reject only the physically impossible (the single
 * statement of those rules: the server enforces them from this metadata); possible but unusual readings
 * are accepted and flagged by `Prediction.isAnomaly`.
 */
@InputType({ description: 'One set of process readings for a part run, in SI-style units.' })
export class SensorReadingInput {
  @Field(() => Float, { description: 'Ambient air temperature in kelvin (K). Must be above 0 K and at most 1,000 K.' })
  @IsNumber(FINITE)
  @IsPositive()
  @Max(1_000)
  airTemperature!: number;

  @Field(() => Float, { description: 'Process temperature in kelvin (K). Must be above 0 K and at most 1,000 K.' })
  @IsNumber(FINITE)
  @IsPositive()
  @Max(1_000)
  processTemperature!: number;

  @Field(() => Float, { description: 'Spindle rotational speed in revolutions per minute (rpm), 0 to 100,000.' })
  @IsNumber(FINITE)
  @Min(0)
  @Max(100_000)
  rotationalSpeed!: number;

  @Field(() => Float, { description: 'Torque in newton-metres (Nm), 0 to 10,000.' })
  @IsNumber(FINITE)
  @Min(0)
  @Max(10_000)
  torque!: number;

  @Field(() => Float, { description: 'Tool wear as minutes of use (min), 0 to 100,000.' })
  @IsNumber(FINITE)
  @Min(0)
  @Max(100_000)
  toolWear!: number;

  @Field(() => ProductType, { description: 'Product quality variant: L, M or H.' })
  @IsEnum(ProductType)
  productType!: ProductType;
}
