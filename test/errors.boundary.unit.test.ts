// The error boundary without a server: HttpError and the constructors errors.unit does not cover, and
// the formatter's BAD_USER_INPUT path, fed with the variable coercion errors graphql-js itself raises
// (Apollo gives them the BAD_USER_INPUT code) and the variables inputErrorsPlugin remembers for them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSchema, graphql, GraphQLError, type GraphQLFormattedError } from 'graphql';
import { createErrorFormatter, inputErrorsPlugin } from '../src/error-formatter';
import {
  batchSizeOutOfRange,
  clientDisconnected,
  ErrorCode,
  forbidden,
  HttpError,
  modelReloadFailed,
  queueWaitExceeded,
  rateLimited,
} from '../src/errors';

describe('HttpError', () => {
  it('carries status, code, message, extensions and headers; both default to empty', () => {
    const bare = new HttpError(404, ErrorCode.NOT_FOUND, 'Not found: /x');
    assert.ok(bare instanceof Error);
    assert.deepEqual(
      [bare.name, bare.status, bare.code, bare.message, bare.extensions, bare.headers],
      ['HttpError', 404, 'NOT_FOUND', 'Not found: /x', {}, {}],
    );
    const full = new HttpError(429, ErrorCode.RATE_LIMITED, 'slow down', { budget: 'requests' }, { 'retry-after': '3' });
    assert.deepEqual([full.extensions, full.headers], [{ budget: 'requests' }, { 'retry-after': '3' }]);
    assert.match(String(full.stack), /^HttpError: slow down\n/);
  });
});

describe('more constructors', () => {
  it('batchSizeOutOfRange: one violation naming the bound broken, too few or too many', () => {
    const empty = batchSizeOutOfRange(0, 1_000);
    assert.equal(empty.message, 'inputs must hold 1 to 1000 readings, got 0');
    assert.deepEqual(empty.extensions, {
      code: 'BAD_USER_INPUT',
      violations: [
        { field: 'inputs', value: 0, constraint: 'arrayMinSize', bound: 1, message: 'inputs must hold 1 to 1000 readings, got 0' },
      ],
    });
    const over = batchSizeOutOfRange(11, 10);
    assert.equal(over.message, 'inputs must hold 1 to 10 readings, got 11');
    assert.deepEqual(over.extensions.violations, [
      { field: 'inputs', value: 11, constraint: 'arrayMaxSize', bound: 10, message: 'inputs must hold 1 to 10 readings, got 11' },
    ]);
  });

  it('queueWaitExceeded: SERVER_BUSY, 503 with Retry-After, the wait and the retry in the message', () => {
    const e = queueWaitExceeded(250, 2);
    assert.equal(e.message, 'The request waited more than 250 ms (MAX_QUEUE_WAIT_MS) for inference; retry after 2 s');
    const { http, ...ext } = e.extensions as Record<string, any>;
    assert.deepEqual(ext, { code: 'SERVER_BUSY', reason: 'QUEUE_WAIT', maxQueueWaitMs: 250, retryAfter: 2 });
    assert.equal(http.status, 503);
    assert.deepEqual([...http.headers], [['retry-after', '2']]);
  });

  it('rateLimited names the request budget as requests', () => {
    const e = rateLimited({
      budget: 'requests',
      limit: 600,
      window: '1m',
      windowSeconds: 60,
      retryAfter: 12,
      resetAt: '2026-01-01T00:01:00.000Z',
    });
    assert.equal(e.message, 'Rate limit exceeded: 600 requests per 1m; retry after 12 s');
    assert.equal(e.extensions.budget, 'requests');
  });

  it('clientDisconnected, forbidden, modelReloadFailed', () => {
    const gone = clientDisconnected();
    assert.equal(gone.message, 'The client disconnected before its readings were scored');
    assert.deepEqual(gone.extensions, { code: 'CLIENT_CLOSED_REQUEST' });
    const no = forbidden('reloadModel needs an admin key');
    assert.equal(no.message, 'reloadModel needs an admin key');
    assert.deepEqual(no.extensions, { code: 'FORBIDDEN' });
    const refused = modelReloadFailed('input shape [1,7] does not match [1,6]');
    assert.equal(refused.message, 'The new model was refused and the serving model is unchanged: input shape [1,7] does not match [1,6]');
    assert.deepEqual(refused.extensions, { code: 'MODEL_RELOAD_FAILED', reason: 'input shape [1,7] does not match [1,6]' });
  });
});

const schema = buildSchema(`
  enum ProductType { L M H }
  input SensorReadingInput { torque: Float! toolWear: Float! productType: ProductType }
  type Query { a: Int }
  type Mutation { predict(input: SensorReadingInput!): Int predictBatch(inputs: [SensorReadingInput!]!): Int }
`);
const PREDICT = 'mutation($input: SensorReadingInput!) { predict(input: $input) }';
const BATCH = 'mutation($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) }';
const reading = { torque: 40, toolWear: 10 };

/**
 * What Apollo would hand the formatter for a request graphql-js refuses while coercing variables: the
 * error (first of them) and its formatted form with the BAD_USER_INPUT code; `remember` runs the plugin
 * on the request first, as Apollo does before formatting.
 */
async function coercionError(query: string, variables: Record<string, unknown>, remember = true) {
  const result = await graphql({ schema, source: query, variableValues: variables });
  const error = result.errors![0];
  if (remember) {
    const hooks = await inputErrorsPlugin().requestDidStart!({} as never);
    await hooks!.didEncounterErrors!({ errors: result.errors, request: { variables } } as never);
  }
  const formatted: GraphQLFormattedError = { ...error.toJSON(), extensions: { code: 'BAD_USER_INPUT' } };
  return { error, formatted };
}

const development = createErrorFormatter({ production: false, onInternal: () => assert.fail('not internal') });
const production = createErrorFormatter({ production: true, onInternal: () => assert.fail('not internal') });

describe('createErrorFormatter: BAD_USER_INPUT always leaves with violations', () => {
  it("a coercion error gets the violation read from its message, with the value from the request's variables", async () => {
    const { error, formatted } = await coercionError(PREDICT, { input: { ...reading, torque: 'abc' } });
    assert.equal(
      formatted.message,
      'Variable "$input" got invalid value "abc" at "input.torque"; Float cannot represent non numeric value: "abc"',
    );
    assert.deepEqual(development(formatted, error), {
      ...formatted,
      extensions: {
        code: 'BAD_USER_INPUT',
        violations: [{ field: 'torque', value: 'abc', constraint: 'isNumber', message: 'torque must be a Float, got "abc"' }],
      },
    });
  });

  it('the value comes from the variables when the plugin saw the request, from the message otherwise', async () => {
    // graphql-js shows a long string whole; the value read from the variables is clipped at 200 characters.
    const long = 'x'.repeat(250);
    const clipped = `${'x'.repeat(200)}… (250 characters)`;
    const seen = await coercionError(PREDICT, { input: { ...reading, torque: long } });
    assert.equal((development(seen.formatted, seen.error).extensions!.violations as any[])[0].value, clipped);
    const unseen = await coercionError(PREDICT, { input: { ...reading, torque: long } }, false);
    assert.equal((development(unseen.formatted, unseen.error).extensions!.violations as any[])[0].value, long);
    const noVariables = { ...(await coercionError(PREDICT, { input: { ...reading, torque: long } }, false)) };
    const hooks = await inputErrorsPlugin().requestDidStart!({} as never);
    await hooks!.didEncounterErrors!({ errors: [noVariables.error], request: {} } as never);
    assert.equal(
      (development(noVariables.formatted, noVariables.error).extensions!.violations as any[])[0].value,
      long,
      'a request without variables',
    );
  });

  it('a batch row names the row and lists it in invalidRows, row 0 included', async () => {
    const row3 = await coercionError(BATCH, { inputs: [reading, reading, reading, { ...reading, toolWear: '5min' }] });
    assert.deepEqual(development(row3.formatted, row3.error).extensions, {
      code: 'BAD_USER_INPUT',
      violations: [{ row: 3, field: 'toolWear', value: '5min', constraint: 'isNumber', message: 'toolWear must be a Float, got "5min"' }],
      invalidRows: [3],
    });
    const row0 = await coercionError(BATCH, { inputs: [{ ...reading, torque: null }] });
    assert.deepEqual(development(row0.formatted, row0.error).extensions, {
      code: 'BAD_USER_INPUT',
      violations: [{ row: 0, field: 'torque', value: null, constraint: 'isDefined', message: 'torque must not be null (Float!)' }],
      invalidRows: [0],
    });
  });

  it('development keeps "did you mean"; production drops it from the message and the violation', async () => {
    const { error, formatted } = await coercionError(PREDICT, { input: { torqe: 40, torque: 40, toolWear: 10 } });
    assert.equal(
      formatted.message,
      'Variable "$input" got invalid value { torqe: 40, torque: 40, toolWear: 10 }; Field "torqe" is not defined by type "SensorReadingInput". Did you mean "torque"?',
    );
    const dev = development(formatted, error);
    assert.equal(dev.message, formatted.message);
    assert.deepEqual(dev.extensions!.violations, [
      {
        field: 'torqe',
        value: 40,
        constraint: 'whitelistValidation',
        message: 'torqe is not a field of SensorReadingInput; did you mean "torque"?',
      },
    ]);
    const prod = production({ ...formatted, extensions: { ...formatted.extensions, stacktrace: ['at x'] } }, error);
    assert.deepEqual(prod, {
      ...formatted,
      message:
        'Variable "$input" got invalid value { torqe: 40, torque: 40, toolWear: 10 }; Field "torqe" is not defined by type "SensorReadingInput".',
      extensions: {
        code: 'BAD_USER_INPUT',
        violations: [
          { field: 'torqe', value: 40, constraint: 'whitelistValidation', message: 'torqe is not a field of SensorReadingInput' },
        ],
      },
    });
  });

  it('resolver-side violations are kept as they are; production still drops suggestions and the stack', () => {
    const violations = [{ field: 'torque', value: -1, constraint: 'min', bound: 0, message: 'torque must not be less than 0' }];
    const formatted = {
      message: 'Invalid sensor reading: torque. Did you mean "torque"?',
      extensions: { code: 'BAD_USER_INPUT', violations, stacktrace: ['at y'] },
    };
    assert.deepEqual(development(formatted, new GraphQLError('x')), formatted);
    assert.deepEqual(production(formatted, new GraphQLError('x')), {
      message: 'Invalid sensor reading: torque.',
      extensions: { code: 'BAD_USER_INPUT', violations },
    });
  });

  it('a BAD_USER_INPUT that is no coercion error gets no violations; other codes are never read as coercion errors', async () => {
    const plain = { message: 'inputs must be a list', extensions: { code: 'BAD_USER_INPUT' } };
    assert.deepEqual(development(plain, null), plain);
    assert.deepEqual(production({ ...plain, message: 'nope. Did you mean "yes"?' }, null), { ...plain, message: 'nope.' });
    const { error, formatted } = await coercionError(PREDICT, { input: { ...reading, torque: 'abc' } });
    const other = { ...formatted, extensions: { code: 'BAD_REQUEST' } };
    assert.deepEqual(development(other, error), other);
  });

  it('a whole variable missing is a violation of that variable', async () => {
    const { error, formatted } = await coercionError(PREDICT, {});
    assert.deepEqual(production(formatted, error).extensions, {
      code: 'BAD_USER_INPUT',
      violations: [
        { field: 'input', value: null, constraint: 'isDefined', message: '$input is required (SensorReadingInput!) but was not provided' },
      ],
    });
  });
});
