import { registerEnumType } from 'type-graphql';

/** Declaration order is the model's output column order (models/model.json `outputs.probabilities.labels`). */
export enum FailureType {
  NO_FAILURE = 'NO_FAILURE',
  HEAT_DISSIPATION_FAILURE = 'HEAT_DISSIPATION_FAILURE',
  POWER_FAILURE = 'POWER_FAILURE',
  OVERSTRAIN_FAILURE = 'OVERSTRAIN_FAILURE',
  TOOL_WEAR_FAILURE = 'TOOL_WEAR_FAILURE',
  RANDOM_FAILURES = 'RANDOM_FAILURES',
}

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
