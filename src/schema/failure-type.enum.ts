import { registerEnumType } from 'type-graphql';
import type { FailureTypeName } from '../inference/model-io';

/**
 * Declaration order is the model's output column order (models/model.json `outputs.probabilities.labels`).
 * An enum-like object rather than a TS enum: its values are the inference layer's plain strings, so
 * predictions pass from src/inference to GraphQL unmapped, and `satisfies` keeps the two lists equal.
 */
export const FailureType = {
  NO_FAILURE: 'NO_FAILURE',
  HEAT_DISSIPATION_FAILURE: 'HEAT_DISSIPATION_FAILURE',
  POWER_FAILURE: 'POWER_FAILURE',
  OVERSTRAIN_FAILURE: 'OVERSTRAIN_FAILURE',
  TOOL_WEAR_FAILURE: 'TOOL_WEAR_FAILURE',
  RANDOM_FAILURES: 'RANDOM_FAILURES',
} as const satisfies { [K in FailureTypeName]: K };
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

registerEnumType(FailureType, {
  name: 'FailureType',
  description: 'How a part run fails, as the AI4I 2020 failure-mode flags define it.',
  valuesConfig: {
    NO_FAILURE: { description: 'The run completes without failure.' },
    HEAT_DISSIPATION_FAILURE: { description: 'Too little temperature difference between process and air at low speed.' },
    POWER_FAILURE: { description: 'Mechanical power (torque x angular speed) too low or too high.' },
    OVERSTRAIN_FAILURE: { description: 'Tool wear x torque beyond what the product variant tolerates.' },
    TOOL_WEAR_FAILURE: { description: 'The tool fails at the end of its life (random between about 200 and 240 min).' },
    RANDOM_FAILURES: { description: 'Failure independent of the readings (0.1 % of runs).' },
  },
});
