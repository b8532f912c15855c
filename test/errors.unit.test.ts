// The error catalogue and the one formatter every GraphQL error passes through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GraphQLError } from 'graphql';
import { createErrorFormatter } from '../src/error-formatter';
import {
  badUserInput,
  ErrorCode,
  inferenceFailed,
  invalidReadings,
  modelNotReady,
  queryTooComplex,
  rateLimited,
  rateLimitUnavailable,
  serverBusy,
  type Violation,
} from '../src/errors';

describe('ErrorCode catalogue', () => {
  it('each code is spelled as its key', () => {
    for (const [key, value] of Object.entries(ErrorCode)) assert.equal(value, key);
    assert.deepEqual(Object.keys(ErrorCode).sort(), [
      'BAD_REQUEST',
      'BAD_USER_INPUT',
      'CLIENT_CLOSED_REQUEST',
      'FORBIDDEN',
      'GRAPHQL_PARSE_FAILED',
      'GRAPHQL_VALIDATION_FAILED',
      'INFERENCE_FAILED',
      'INTERNAL_SERVER_ERROR',
      'MODEL_NOT_READY',
      'MODEL_RELOAD_FAILED',
      'NOT_FOUND',
      'OPERATION_RESOLUTION_FAILURE',
      'PAYLOAD_TOO_LARGE',
      'PERSISTED_QUERY_NOT_FOUND',
      'PERSISTED_QUERY_NOT_SUPPORTED',
      'QUERY_TOO_COMPLEX',
      'RATE_LIMITED',
      'SERVER_BUSY',
      'TRUSTED_DOCUMENT_NOT_FOUND',
      'TRUSTED_DOCUMENT_REQUIRED',
      'UNAUTHENTICATED',
      'UNSUPPORTED_MEDIA_TYPE',
    ]);
  });
});

describe('error constructors', () => {
  const v = (over: Partial<Violation>): Violation => ({
    field: 'torque',
    value: -1,
    constraint: 'min',
    bound: 0,
    message: 'torque must not be less than 0',
    ...over,
  });

  it('badUserInput: BAD_USER_INPUT plus the extensions given', () => {
    const e = badUserInput('nope', { field: 'inputs', code: 'IGNORED?' });
    assert.equal(e.message, 'nope');
    assert.deepEqual(e.extensions, { code: 'IGNORED?', field: 'inputs' }, 'later extensions win, as spread order says');
    assert.deepEqual(badUserInput('plain').extensions, { code: 'BAD_USER_INPUT' });
  });

  it('invalidReadings names the first violation (with its row in a batch) and how many more there are', () => {
    const single = invalidReadings([v({})]);
    assert.equal(single.message, 'Invalid sensor reading: torque: torque must not be less than 0');
    assert.deepEqual(single.extensions, { code: 'BAD_USER_INPUT', violations: [v({})] });

    const batch = [v({ row: 4 }), v({ row: 2, field: 'toolWear' }), v({ row: 4, field: 'airTemperature' })];
    const many = invalidReadings(batch);
    assert.equal(many.message, 'Invalid sensor reading: inputs[4].torque: torque must not be less than 0 (and 2 more)');
    assert.deepEqual(many.extensions, { code: 'BAD_USER_INPUT', violations: batch, invalidRows: [4, 2] });

    const two = invalidReadings([v({ row: 0 }), v({ row: 0 })]);
    assert.equal(two.message, 'Invalid sensor reading: inputs[0].torque: torque must not be less than 0 (and 1 more)');
    assert.deepEqual(two.extensions.invalidRows, [0], 'row 0 is a row');
  });

  it('modelNotReady, serverBusy, inferenceFailed', () => {
    const notReady = modelNotReady('LOADING');
    assert.equal(notReady.message, 'The model is not ready (state: LOADING); retry shortly');
    assert.deepEqual(notReady.extensions, { code: 'MODEL_NOT_READY', state: 'LOADING' });
    const busy = serverBusy(19_990, 20_000);
    assert.equal(busy.message, 'The inference queue is full; retry shortly');
    assert.deepEqual(busy.extensions, { code: 'SERVER_BUSY', queuedRows: 19_990, maxQueueRows: 20_000 });
    const failed = inferenceFailed();
    assert.equal(failed.message, 'Inference failed for this request');
    assert.deepEqual(failed.extensions, { code: 'INFERENCE_FAILED' });
  });

  it('rateLimited: 429 with Retry-After, the message names the budget', () => {
    const info = { limit: 10, window: '15m', windowSeconds: 900, retryAfter: 7, resetAt: '2026-01-01T00:00:00.000Z' };
    const ops = rateLimited({ budget: 'operations', ...info });
    assert.equal(ops.message, 'Rate limit exceeded: 10 operations per 15m; retry after 7 s');
    const { http, ...ext } = ops.extensions as Record<string, any>;
    assert.deepEqual(ext, { code: 'RATE_LIMITED', budget: 'operations', ...info });
    assert.equal(http.status, 429);
    assert.deepEqual([...http.headers], [['retry-after', '7']]);
    assert.equal(rateLimited({ budget: 'rows', ...info }).message, 'Rate limit exceeded: 10 readings per 15m; retry after 7 s');
  });

  it('rateLimitUnavailable: 503 with Retry-After and reason STORE_UNAVAILABLE', () => {
    const e = rateLimitUnavailable(2);
    assert.equal(e.message, 'Rate limiting is unavailable; retry after 2 s');
    const { http, ...ext } = e.extensions as Record<string, any>;
    assert.deepEqual(ext, { code: 'RATE_LIMITED', reason: 'STORE_UNAVAILABLE', retryAfter: 2 });
    assert.equal(http.status, 503);
    assert.deepEqual([...http.headers], [['retry-after', '2']]);
  });

  it('queryTooComplex carries rule, limit and value', () => {
    const e = queryTooComplex('aliases', 15, 16, 'too many');
    assert.equal(e.message, 'too many');
    assert.deepEqual(e.extensions, { code: 'QUERY_TOO_COMPLEX', rule: 'aliases', limit: 15, value: 16 });
  });
});

describe('createErrorFormatter', () => {
  const located = { message: 'boom', locations: [{ line: 1, column: 3 }], path: ['predict'] };

  it('development: catalogue errors pass untouched, stack traces included', () => {
    const format = createErrorFormatter({ production: false, onInternal: () => assert.fail('not internal') });
    const formatted = { ...located, extensions: { code: 'BAD_USER_INPUT', stacktrace: ['at a'], field: 'torque' } };
    // Catalogue errors pass through unchanged (the formatter may copy the object, not alter it).
    assert.deepEqual(format(formatted, new GraphQLError('boom')), formatted);
  });

  it('production: catalogue errors keep everything but the stack trace', () => {
    const format = createErrorFormatter({ production: true, onInternal: () => assert.fail('not internal') });
    assert.deepEqual(format({ ...located, extensions: { code: 'SERVER_BUSY', stacktrace: ['at a'], queuedRows: 3 } }, null), {
      ...located,
      extensions: { code: 'SERVER_BUSY', queuedRows: 3 },
    });
  });

  it('development: an unknown error becomes INTERNAL_SERVER_ERROR, keeping its message for the developer', () => {
    const logged: unknown[] = [];
    const format = createErrorFormatter({ production: false, onInternal: (e) => logged.push(e) });
    const original = new Error('db down');
    assert.deepEqual(format({ ...located, extensions: { code: 'WEIRD', stacktrace: ['at b'] } }, original), {
      ...located,
      extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at b'] },
    });
    assert.deepEqual(format({ message: 'no extensions' }, original), {
      message: 'no extensions',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    assert.deepEqual(logged, [original, original]);
  });

  it('production: an unknown error is masked; locations and path stay when present; the log gets the original', () => {
    const logged: unknown[] = [];
    const format = createErrorFormatter({ production: true, onInternal: (e) => logged.push(e) });
    const original = new Error('password=hunter2');
    // Apollo hands resolver errors over wrapped in a GraphQLError; the log wants what was thrown.
    const wrapped = new GraphQLError('password=hunter2', { originalError: original, path: ['predict'] });
    assert.deepEqual(format({ ...located, message: 'password=hunter2', extensions: { code: 'X', secret: 1 } }, wrapped), {
      message: 'Internal server error',
      locations: located.locations,
      path: located.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    assert.deepEqual(format({ message: 'password=hunter2' }, original), {
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    assert.deepEqual(logged, [original, original]);
  });

  it('INTERNAL_SERVER_ERROR itself is treated as unknown (masked in production), and a non-string code too', () => {
    const logged: unknown[] = [];
    const format = createErrorFormatter({ production: true, onInternal: (e) => logged.push(e) });
    assert.deepEqual(format({ message: 'Cannot read properties of undefined', extensions: { code: 'INTERNAL_SERVER_ERROR' } }, null), {
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    assert.deepEqual(format({ message: 'odd', extensions: { code: 42 } }, null).message, 'Internal server error');
    assert.equal(logged.length, 2);
    assert.doesNotThrow(() => createErrorFormatter({ production: true })({ message: 'x' }, null), 'onInternal is optional');
  });
});
