/**
 * The input mistakes a client makes most, each with the violations the server must answer with
 * (server defaults: MAX_BATCH_ROWS=1000). Used by test/error-shape.test.ts; docs/api.md shows each.
 */
import { NORMAL_READING } from './server';

export const PREDICT = 'mutation Predict($input: SensorReadingInput!) { predict(input: $input) { label } }';
export const BATCH = 'mutation PredictBatch($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { label } }';

/** A normal reading with fields replaced (undefined: the field removed). */
export const reading = (patch: Record<string, unknown>) => {
  const input: Record<string, unknown> = { ...NORMAL_READING, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete input[k];
  return input;
};

export interface Case {
  /** Its anchor in docs/api.md: `<!-- error-case: id -->` followed by a json block of the response. */
  id: string;
  /** The mistake, as docs/api.md names it. */
  what: string;
  query: string;
  variables?: Record<string, unknown>;
  status: number;
  violations: unknown[];
}

export const CASES: Case[] = [
  {
    id: 'unknown-field',
    what: 'A misspelt field name: `torqe` instead of `torque`',
    query: PREDICT,
    variables: { input: reading({ torqe: 40, torque: undefined }) },
    status: 400,
    // graphql-js reports the missing field and the unknown one as two errors; both have the shape.
    violations: [
      { field: 'torque', value: null, constraint: 'isDefined', message: 'torque is required (Float!) but was not provided' },
      {
        field: 'torqe',
        value: 40,
        constraint: 'whitelistValidation',
        message: 'torqe is not a field of SensorReadingInput; did you mean "torque"?',
      },
    ],
  },
  {
    id: 'string-for-number',
    what: 'A string for a number: `"torque": "abc"`',
    query: PREDICT,
    variables: { input: reading({ torque: 'abc' }) },
    status: 400,
    violations: [{ field: 'torque', value: 'abc', constraint: 'isNumber', message: 'torque must be a Float, got "abc"' }],
  },
  {
    id: 'missing-field',
    what: 'A missing field: no `toolWear`',
    query: PREDICT,
    variables: { input: reading({ toolWear: undefined }) },
    status: 400,
    violations: [
      { field: 'toolWear', value: null, constraint: 'isDefined', message: 'toolWear is required (Float!) but was not provided' },
    ],
  },
  {
    id: 'null-for-non-null',
    what: '`null` for a required number: `"airTemperature": null`',
    query: PREDICT,
    variables: { input: reading({ airTemperature: null }) },
    status: 400,
    violations: [{ field: 'airTemperature', value: null, constraint: 'isDefined', message: 'airTemperature must not be null (Float!)' }],
  },
  {
    id: 'unknown-enum-value',
    what: 'An unknown enum value: `"productType": "X"`',
    query: PREDICT,
    variables: { input: reading({ productType: 'X' }) },
    status: 400,
    violations: [
      {
        field: 'productType',
        value: 'X',
        constraint: 'isEnum',
        message: 'productType must be a ProductType value, got "X"; did you mean "H", "L", or "M"?',
      },
    ],
  },
  {
    id: 'reading-not-an-object',
    what: 'A number where the reading should be: `"input": 42`',
    query: PREDICT,
    variables: { input: 42 },
    status: 400,
    violations: [{ field: 'input', value: 42, constraint: 'isObject', message: 'input must be an object (SensorReadingInput), got 42' }],
  },
  {
    id: 'variable-not-provided',
    what: 'No variables at all: `{}`',
    query: PREDICT,
    variables: {},
    status: 400,
    violations: [
      { field: 'input', value: null, constraint: 'isDefined', message: '$input is required (SensorReadingInput!) but was not provided' },
    ],
  },
  {
    id: 'batch-row-wrong-type',
    what: 'A wrong type in one batch row: `inputs[3].rotationalSpeed` is `"1500rpm"`',
    query: BATCH,
    variables: { inputs: [NORMAL_READING, NORMAL_READING, NORMAL_READING, reading({ rotationalSpeed: '1500rpm' })] },
    status: 400,
    violations: [
      {
        row: 3,
        field: 'rotationalSpeed',
        value: '1500rpm',
        constraint: 'isNumber',
        message: 'rotationalSpeed must be a Float, got "1500rpm"',
      },
    ],
  },
  {
    id: 'empty-batch',
    what: 'An empty batch: `"inputs": []`',
    query: BATCH,
    variables: { inputs: [] },
    status: 200,
    violations: [
      { field: 'inputs', value: 0, constraint: 'arrayMinSize', bound: 1, message: 'inputs must hold 1 to 1000 readings, got 0' },
    ],
  },
  {
    id: 'oversized-batch',
    what: 'An oversized batch: 1,001 readings (`MAX_BATCH_ROWS` is 1,000)',
    query: BATCH,
    variables: { inputs: Array.from({ length: 1001 }, () => NORMAL_READING) },
    status: 200,
    violations: [
      { field: 'inputs', value: 1001, constraint: 'arrayMaxSize', bound: 1000, message: 'inputs must hold 1 to 1000 readings, got 1001' },
    ],
  },
  {
    id: 'physical-bounds',
    what: 'Physically impossible readings: `inputs[1].torque` is -5, `inputs[2].airTemperature` is 0 K',
    query: BATCH,
    variables: { inputs: [NORMAL_READING, reading({ torque: -5 }), reading({ airTemperature: 0 })] },
    status: 200,
    violations: [
      { row: 1, field: 'torque', value: -5, constraint: 'min', bound: 0, message: 'torque must not be less than 0' },
      {
        row: 2,
        field: 'airTemperature',
        value: 0,
        constraint: 'isPositive',
        bound: 0,
        message: 'airTemperature must be a positive number',
      },
    ],
  },
];
