// Variable coercion errors read back into violations (src/coercion-errors.ts), without a server: each
// sentence is the one the installed graphql-js writes for that mistake, so a change of wording upstream
// fails here first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildSchema,
  graphql,
  GraphQLObjectType,
  GraphQLInt,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLInputObjectType,
  GraphQLNonNull,
} from 'graphql';
import { coercionViolation, withoutSuggestions } from '../src/coercion-errors';

const schema = buildSchema(`
  enum ProductType { L M H }
  input SensorReadingInput { torque: Float! toolWear: Float! productType: ProductType count: Int name: String flag: Boolean id: ID history: [Float!] }
  type Query { a: Int }
  type Mutation { predict(input: SensorReadingInput!): Int predictBatch(inputs: [SensorReadingInput!]!): Int }
`);
const PREDICT = 'mutation($input: SensorReadingInput!) { predict(input: $input) }';
const BATCH = 'mutation($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) }';
const r = { torque: 40, toolWear: 10 };

/** graphql-js's message for `variables` sent to `query`. */
async function messageFor(query: string, variables: Record<string, unknown>): Promise<string> {
  const result = await graphql({ schema, source: query, variableValues: variables });
  assert.equal(result.errors?.length, 1, JSON.stringify(result.errors));
  return result.errors![0].message;
}

/** The violation for a request, with its variables (as the formatter has them) or without. */
async function violation(query: string, variables: Record<string, unknown>, opts: { hints?: boolean; withVariables?: boolean } = {}) {
  const message = await messageFor(query, variables);
  return coercionViolation(message, opts.withVariables === false ? undefined : variables, opts.hints ?? true);
}

describe('coercionViolation: one violation per graphql-js rule', () => {
  it('a wrong scalar: the GraphQL type, the class-validator constraint, the value as sent', async () => {
    assert.deepEqual(await violation(PREDICT, { input: { ...r, torque: 'abc' } }), {
      field: 'torque',
      value: 'abc',
      constraint: 'isNumber',
      message: 'torque must be a Float, got "abc"',
    });
    assert.deepEqual(await violation(PREDICT, { input: { ...r, count: 1.5 } }), {
      field: 'count',
      value: 1.5,
      constraint: 'isInt',
      message: 'count must be an Int, got 1.5',
    });
    assert.deepEqual(await violation(PREDICT, { input: { ...r, name: 5 } }), {
      field: 'name',
      value: 5,
      constraint: 'isString',
      message: 'name must be a String, got 5',
    });
    assert.deepEqual(await violation(PREDICT, { input: { ...r, flag: 'y' } }), {
      field: 'flag',
      value: 'y',
      constraint: 'isBoolean',
      message: 'flag must be a Boolean, got "y"',
    });
    assert.deepEqual(await violation(PREDICT, { input: { ...r, id: true } }), {
      field: 'id',
      value: true,
      constraint: 'isString',
      message: 'id must be an ID, got true',
    });
  });

  it('an unknown field: named by the sentence, its value from the variables, the closest name as a hint', async () => {
    const misspelt = { input: { torqe: 40, torque: 40, toolWear: 10 } };
    assert.deepEqual(await violation(PREDICT, misspelt), {
      field: 'torqe',
      value: 40,
      constraint: 'whitelistValidation',
      message: 'torqe is not a field of SensorReadingInput; did you mean "torque"?',
    });
    assert.equal((await violation(PREDICT, misspelt, { hints: false }))!.message, 'torqe is not a field of SensorReadingInput');
    assert.equal((await violation(PREDICT, misspelt, { withVariables: false }))!.value, null, 'the sentence shows the whole object only');
    const far = await violation(PREDICT, { input: { ...r, zzz: 1 } });
    assert.equal(far!.message, 'zzz is not a field of SensorReadingInput', 'no suggestion, no hint');
  });

  it('a missing required field and a null one', async () => {
    assert.deepEqual(await violation(PREDICT, { input: { torque: 40 } }), {
      field: 'toolWear',
      value: null,
      constraint: 'isDefined',
      message: 'toolWear is required (Float!) but was not provided',
    });
    assert.deepEqual(await violation(PREDICT, { input: { ...r, torque: null } }), {
      field: 'torque',
      value: null,
      constraint: 'isDefined',
      message: 'torque must not be null (Float!)',
    });
  });

  it('enums: an unknown value (with the suggestions as a hint) and a non-string', async () => {
    assert.deepEqual(await violation(PREDICT, { input: { ...r, productType: 'X' } }), {
      field: 'productType',
      value: 'X',
      constraint: 'isEnum',
      message: 'productType must be a ProductType value, got "X"; did you mean "H", "L", or "M"?',
    });
    assert.equal(
      (await violation(PREDICT, { input: { ...r, productType: 'X' } }, { hints: false }))!.message,
      'productType must be a ProductType value, got "X"',
    );
    assert.deepEqual(await violation(PREDICT, { input: { ...r, productType: 5 } }), {
      field: 'productType',
      value: 5,
      constraint: 'isEnum',
      message: 'productType must be a ProductType value (a string), got 5',
    });
  });

  it('not an object: the whole variable, or a batch row named by its index', async () => {
    assert.deepEqual(await violation(PREDICT, { input: 42 }), {
      field: 'input',
      value: 42,
      constraint: 'isObject',
      message: 'input must be an object (SensorReadingInput), got 42',
    });
    assert.deepEqual(await violation(BATCH, { inputs: [r, 42] }), {
      row: 1,
      field: 'inputs',
      value: 42,
      constraint: 'isObject',
      message: 'inputs[1] must be an object (SensorReadingInput), got 42',
    });
    assert.deepEqual(await violation(BATCH, { inputs: [r, null] }), {
      row: 1,
      field: 'inputs',
      value: null,
      constraint: 'isDefined',
      message: 'inputs[1] must not be null (SensorReadingInput!)',
    });
  });

  it('a field of a batch row: the row apart, the field after it', async () => {
    assert.deepEqual(await violation(BATCH, { inputs: [r, r, r, { ...r, toolWear: '5min' }] }), {
      row: 3,
      field: 'toolWear',
      value: '5min',
      constraint: 'isNumber',
      message: 'toolWear must be a Float, got "5min"',
    });
    assert.deepEqual(await violation(BATCH, { inputs: [{ torque: 1 }] }), {
      row: 0,
      field: 'toolWear',
      value: null,
      constraint: 'isDefined',
      message: 'toolWear is required (Float!) but was not provided',
    });
  });

  it('a whole variable missing or null', async () => {
    assert.deepEqual(await violation(PREDICT, {}), {
      field: 'input',
      value: null,
      constraint: 'isDefined',
      message: '$input is required (SensorReadingInput!) but was not provided',
    });
    assert.deepEqual(await violation(PREDICT, { input: null }), {
      field: 'input',
      value: null,
      constraint: 'isDefined',
      message: '$input must not be null (SensorReadingInput!)',
    });
  });

  it('a custom scalar that refuses a value (Expected type "X".)', async () => {
    const Day = new GraphQLScalarType({
      name: 'Day',
      parseValue: (v) => {
        if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new Error('not a day');
        return v;
      },
    });
    const custom = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: {
          on: {
            type: GraphQLInt,
            args: { filter: { type: new GraphQLNonNull(new GraphQLInputObjectType({ name: 'Filter', fields: { day: { type: Day } } })) } },
          },
        },
      }),
    });
    const result = await graphql({
      schema: custom,
      source: 'query($f: Filter!) { on(filter: $f) }',
      variableValues: { f: { day: 'May 1' } },
    });
    const message = result.errors![0].message;
    assert.equal(message, 'Variable "$f" got invalid value "May 1" at "f.day"; Expected type "Day". not a day');
    assert.deepEqual(coercionViolation(message, { f: { day: 'May 1' } }, true), {
      field: 'day',
      value: 'May 1',
      constraint: 'isValid',
      message: 'day is not a valid Day, got "May 1"',
    });
    const split = await graphql({
      schema: custom,
      source: 'query($f: Filter!) { on(filter: $f) }',
      variableValues: { f: { day: 'May; 1' } },
    });
    assert.deepEqual(coercionViolation(split.errors![0].message, undefined, true), {
      field: 'day',
      value: 'May; 1',
      constraint: 'isValid',
      message: 'day is not a valid Day, got "May; 1"',
    });
  });
});

describe('coercionViolation: values and odd sentences', () => {
  it('a value holding "; " is split where a known rule follows', async () => {
    assert.deepEqual(await violation(PREDICT, { input: { ...r, torque: 'a; b' } }, { withVariables: false }), {
      field: 'torque',
      value: 'a; b',
      constraint: 'isNumber',
      message: 'torque must be a Float, got "a; b"',
    });
  });

  it('a "; " inside the shown value never splits the sentence early, whatever the rule', async () => {
    const enumValue = await violation(PREDICT, { input: { ...r, productType: 'XL; Y' } }, { withVariables: false });
    assert.deepEqual(enumValue, {
      field: 'productType',
      value: 'XL; Y',
      constraint: 'isEnum',
      message: 'productType must be a ProductType value, got "XL; Y"',
    });
    const enumList = await violation(PREDICT, { input: { ...r, productType: ['a; b'] } }, { withVariables: false });
    assert.deepEqual([enumList!.field, enumList!.value, enumList!.constraint], ['productType', ['a; b'], 'isEnum']);
    const row = await violation(BATCH, { inputs: [r, 'a; b'] }, { withVariables: false });
    assert.deepEqual(row, {
      row: 1,
      field: 'inputs',
      value: 'a; b',
      constraint: 'isObject',
      message: 'inputs[1] must be an object (SensorReadingInput), got "a; b"',
    });
    const unknown = await violation(BATCH, { inputs: [r, { ...r, torqe: 1, name: 'a; b' }] });
    assert.deepEqual([unknown!.row, unknown!.field, unknown!.value], [1, 'torqe', 1]);
    const missing = await violation(BATCH, { inputs: [r, { torque: 1, name: 'a; b' }] });
    assert.deepEqual([missing!.row, missing!.field, missing!.constraint], [1, 'toolWear', 'isDefined']);
  });

  it('enum values of any length, with or without suggestions', async () => {
    assert.deepEqual(await violation(PREDICT, { input: { ...r, productType: 'QQQQQQQ' } }), {
      field: 'productType',
      value: 'QQQQQQQ',
      constraint: 'isEnum',
      message: 'productType must be a ProductType value, got "QQQQQQQ"',
    });
    const near = await violation(PREDICT, { input: { ...r, productType: 'LL' } });
    assert.equal(near!.message, 'productType must be a ProductType value, got "LL"; did you mean "L"?');
  });

  it('rows past 9 and lists inside a reading: every index read whole', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => (i === 11 ? { ...r, torque: 'x' } : r));
    assert.deepEqual(await violation(BATCH, { inputs: rows }), {
      row: 11,
      field: 'torque',
      value: 'x',
      constraint: 'isNumber',
      message: 'torque must be a Float, got "x"',
    });
    assert.deepEqual(await violation(PREDICT, { input: { ...r, history: [1, 2, 'x'] } }), {
      field: 'history.2',
      value: 'x',
      constraint: 'isNumber',
      message: 'history.2 must be a Float, got "x"',
    });
  });

  it('values from the variables: non-finite numbers spelled, long strings clipped at 200, shown ones at 80', async () => {
    const inf = await violation(PREDICT, { input: { ...r, torque: Infinity } });
    assert.deepEqual([inf!.value, inf!.message], ['Infinity', 'torque must be a Float, got Infinity']);
    const nan = await violation(PREDICT, { input: { ...r, torque: -Infinity } });
    assert.equal(nan!.value, '-Infinity');
    const long = 'y'.repeat(201);
    const clipped = await violation(PREDICT, { input: { ...r, torque: long } });
    assert.equal(clipped!.value, `${'y'.repeat(200)}… (201 characters)`);
    assert.equal(clipped!.message, `torque must be a Float, got "${'y'.repeat(79)}… (203 characters)`);
    const exact = await violation(PREDICT, { input: { ...r, torque: 'z'.repeat(200) } });
    assert.equal(exact!.value, 'z'.repeat(200), 'exactly 200 is kept');
    const shown78 = await violation(PREDICT, { input: { ...r, torque: 'w'.repeat(78) } });
    assert.equal(shown78!.message, `torque must be a Float, got "${'w'.repeat(78)}"`, '80 characters shown, quotes included');
    const list = await violation(PREDICT, { input: { ...r, torque: [1, 2] } });
    assert.deepEqual(list!.value, [1, 2], 'anything else as sent');
  });

  it('values read from the sentence when the variables are not at hand', async () => {
    const num = await violation(PREDICT, { input: { ...r, count: 1.5 } }, { withVariables: false });
    assert.equal(num!.value, 1.5, 'JSON-readable: parsed');
    const list = await violation(PREDICT, { input: { ...r, torque: [1, 2] } }, { withVariables: false });
    assert.deepEqual(list!.value, [1, 2]);
    const obj = await violation(PREDICT, { input: 42 }, { withVariables: false });
    assert.equal(obj!.value, 42);
    const inf = await violation(PREDICT, { input: { ...r, torque: Infinity } }, { withVariables: false });
    assert.equal(inf!.value, 'Infinity', 'not JSON: the printed text');
    const long = await violation(
      PREDICT,
      { input: { torque: 1, toolWear: 2, productType: 5, name: 'n'.repeat(300) } },
      { withVariables: false },
    );
    assert.equal(long!.field, 'productType');
    assert.equal(long!.value, 5);
    const other = coercionViolation(
      'Variable "$input" got invalid value { a: 1 }; Float cannot represent non numeric value: x',
      undefined,
      true,
    );
    assert.equal(other!.value, '{ a: 1 }');
    const big = `{ ${'k: 1, '.repeat(40)}}`;
    const clippedShown = coercionViolation(
      `Variable "$input" got invalid value ${big}; Float cannot represent non numeric value: x`,
      undefined,
      true,
    );
    assert.equal(clippedShown!.value, `${big.slice(0, 200)}… (${big.length} characters)`);
  });

  it('variables without the variable, or without the path, give null', () => {
    const message = 'Variable "$input" got invalid value "abc" at "input.torque"; Float cannot represent non numeric value: "abc"';
    assert.equal(coercionViolation(message, { other: 1 }, true)!.value, 'abc', 'the variable absent: read from the sentence');
    assert.equal(coercionViolation(message, { input: { speed: 1 } }, true)!.value, null, 'the path absent');
    assert.equal(coercionViolation(message, { input: null }, true)!.value, null);
    assert.equal(coercionViolation(message, { input: 'flat' }, true)!.value, null);
    assert.equal(coercionViolation(message, { input: { torque: undefined } }, true)!.value, null);
    const inherited = Object.create({ torque: 'from the prototype' });
    assert.equal(coercionViolation(message, { input: inherited }, true)!.value, null, 'own properties only');
  });

  it('a rule it does not know: isValid with the sentence, suggestions only with hints', () => {
    const message = 'Variable "$input" got invalid value 3 at "input.torque"; Something new. Did you mean "x"?';
    assert.deepEqual(coercionViolation(message, undefined, true), {
      field: 'torque',
      value: 3,
      constraint: 'isValid',
      message: 'torque: Something new. Did you mean "x"?',
    });
    assert.equal(coercionViolation(message, undefined, false)!.message, 'torque: Something new.');
  });

  it('a path that names another variable stays part of the shown value', () => {
    const v = coercionViolation(
      'Variable "$input" got invalid value "s" at "other.torque"; Float cannot represent non numeric value: "s"',
      undefined,
      true,
    );
    assert.deepEqual(v, {
      field: 'input',
      value: '"s" at "other.torque"',
      constraint: 'isNumber',
      message: 'input must be a Float, got "s" at "other.torque"',
    });
  });

  it('anything that is not a coercion sentence gives undefined', () => {
    assert.equal(coercionViolation('Cannot query field "x" on type "Query".', undefined, true), undefined);
    assert.equal(coercionViolation('Variable "$input" got invalid value 3', undefined, true), undefined, 'no "; "');
    assert.equal(coercionViolation('Variable "$input" of required type "X!" was not provided', undefined, true), undefined, 'no final dot');
    assert.equal(coercionViolation('xVariable "$input" got invalid value 3; Float cannot represent x', undefined, true), undefined);
  });
});

describe('withoutSuggestions', () => {
  it("removes graphql-js's trailing suggestion, with or without the space before it, and nothing else", () => {
    assert.equal(withoutSuggestions('Unknown field. Did you mean "torque"?'), 'Unknown field.');
    assert.equal(withoutSuggestions('Unknown field.Did you mean "a" or "b"?'), 'Unknown field.');
    assert.equal(withoutSuggestions('Did you mean "a"? Then say so.'), 'Did you mean "a"? Then say so.');
    assert.equal(withoutSuggestions('Did you mean?'), 'Did you mean?', 'nothing suggested');
    assert.equal(withoutSuggestions('plain'), 'plain');
  });
});
