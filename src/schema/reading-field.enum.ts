import { registerEnumType } from 'type-graphql';
import type { NumericField } from '../inference/explanation';

/**
 * The numeric readings of a SensorReadingInput, as explanations and range checks name them. The values
 * are the input field names the inference layer uses, so GraphQL turns them into these enum names on
 * the way out without a mapping step; `satisfies` and the check below keep both lists complete.
 */
export const ReadingField = {
  AIR_TEMPERATURE: 'airTemperature',
  PROCESS_TEMPERATURE: 'processTemperature',
  ROTATIONAL_SPEED: 'rotationalSpeed',
  TORQUE: 'torque',
  TOOL_WEAR: 'toolWear',
} as const satisfies Record<string, NumericField>;
export type ReadingField = (typeof ReadingField)[keyof typeof ReadingField];

// Compile-time: every numeric field has an enum name.
// Stryker disable next-line BooleanLiteral: the check is the type; the value is never read
const everyFieldNamed: [Exclude<NumericField, ReadingField>] extends [never] ? true : never = true;
void everyFieldNamed;

registerEnumType(ReadingField, {
  name: 'ReadingField',
  description: 'A numeric reading of SensorReadingInput.',
  valuesConfig: {
    AIR_TEMPERATURE: { description: 'airTemperature: ambient air temperature (K).' },
    PROCESS_TEMPERATURE: { description: 'processTemperature: process temperature (K).' },
    ROTATIONAL_SPEED: { description: 'rotationalSpeed: spindle speed (rpm).' },
    TORQUE: { description: 'torque: torque (Nm).' },
    TOOL_WEAR: { description: 'toolWear: tool wear (min).' },
  },
});
