/**
 * One error shape: every BAD_USER_INPUT carries `extensions.violations` ({ row?, field, value,
 * constraint, message }), whether graphql-js rejected a variable before any resolver ran or a resolver
 * rejected a reading. Each case's full response is also shown in docs/api.md ("Input errors, case by
 * case"); this suite checks the documentation against the live server so it cannot drift.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { coercionViolation } from '../src/coercion-errors';
import { CASES, PREDICT, reading } from './helpers/error-cases';
import { startServer, type GqlResponse, type TestServer } from './helpers/server';

/** The response as a client sees it, without the development-only stack traces. */
function comparable(r: GqlResponse): { status: number; body: unknown } {
  const errors = r.body.errors?.map((e) => {
    const { stacktrace: _dropped, ...extensions } = e.extensions ?? {};
    return { ...e, extensions };
  });
  return { status: r.status, body: { ...r.body, errors } };
}

/** The `<!-- error-case: id -->` blocks of docs/api.md: the documented status line and response body. */
function documentedCases(): Map<string, { status: number; body: unknown }> {
  const doc = readFileSync('docs/api.md', 'utf8');
  const cases = new Map<string, { status: number; body: unknown }>();
  for (const m of doc.matchAll(/<!-- error-case: ([\w-]+) -->\n[^\n]*?HTTP (\d{3})[^\n]*\n```json\n([\s\S]*?)\n```/g)) {
    cases.set(m[1], { status: Number(m[2]), body: JSON.parse(m[3]) });
  }
  return cases;
}

for (const executor of ['jit', 'graphql-js']) {
  describe(`one error shape for BAD_USER_INPUT (GRAPHQL_EXECUTOR=${executor})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ GRAPHQL_EXECUTOR: executor, RATE_LIMIT_ENABLED: 'false' });
    });
    after(() => server.close());

    for (const c of CASES) {
      it(`${c.id}: every error carries violations naming the field and the rule`, async () => {
        const r = await server.gql(c.query, c.variables);
        assert.equal(r.status, c.status);
        const errors = r.body.errors ?? [];
        assert.ok(errors.length > 0);
        for (const e of errors) {
          assert.equal(e.extensions?.code, 'BAD_USER_INPUT', e.message);
          // What docs/api.md's console.table(err.errors[0].extensions?.violations) prints.
          assert.ok(Array.isArray(e.extensions?.violations) && e.extensions.violations.length > 0, e.message);
          for (const v of e.extensions.violations)
            assert.deepEqual(
              Object.keys(v)
                .filter((k) => ['field', 'value', 'constraint', 'message'].includes(k))
                .sort(),
              ['constraint', 'field', 'message', 'value'],
            );
        }
        assert.deepEqual(
          errors.flatMap((e) => e.extensions!.violations),
          c.violations,
        );
        const rows = c.violations.flatMap((v) => ((v as { row?: number }).row === undefined ? [] : [(v as { row: number }).row]));
        if (rows.length > 0) assert.deepEqual([...new Set(errors.flatMap((e) => e.extensions!.invalidRows ?? []))], rows);
      });
    }

    it('docs/api.md shows each case with the response the server gives', async () => {
      const documented = documentedCases();
      assert.deepEqual([...documented.keys()].sort(), CASES.map((c) => c.id).sort());
      for (const c of CASES) assert.deepEqual(comparable(await server.gql(c.query, c.variables)), documented.get(c.id), c.id);
    });

    it('leaves an inline literal of the wrong type a document error (GRAPHQL_VALIDATION_FAILED, no violations)', async () => {
      const r = await server.gql(
        'mutation { predict(input: { airTemperature: "hot", processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 1, productType: L }) { label } }',
      );
      assert.equal(r.status, 400);
      assert.equal(r.body.errors?.[0].extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
      assert.equal(r.body.errors?.[0].extensions?.violations, undefined);
    });
  });
}

describe('BAD_USER_INPUT in production', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'allow', RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => server.close());

  it('keeps the violations but no "did you mean" (field names of the schema) anywhere in the answer', async () => {
    const r = await server.gql(PREDICT, { input: reading({ torqe: 40 }) });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors?.[0].extensions, {
      code: 'BAD_USER_INPUT',
      violations: [{ field: 'torqe', value: 40, constraint: 'whitelistValidation', message: 'torqe is not a field of SensorReadingInput' }],
    });
    assert.doesNotMatch(JSON.stringify(r.body), /did you mean/i);
    const enumError = await server.gql(PREDICT, { input: reading({ productType: 'X' }) });
    assert.equal(enumError.body.errors?.[0].extensions?.violations[0].constraint, 'isEnum');
    assert.doesNotMatch(JSON.stringify(enumError.body), /did you mean/i);
  });

  it('hides suggestions in document (validation) errors too, as Apollo does with hideSchemaDetailsFromClientErrors', async () => {
    const r = await server.gql('{ helth { status } }');
    assert.equal(r.body.errors?.[0].extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.doesNotMatch(JSON.stringify(r.body), /did you mean/i);
  });
});

describe('coercionViolation (reading graphql-js sentences)', () => {
  it('reads the value from the sentence when the variables are not at hand', () => {
    assert.deepEqual(
      coercionViolation(
        'Variable "$inputs" got invalid value true at "inputs[12].torque"; Float cannot represent non numeric value: true',
        undefined,
        true,
      ),
      {
        row: 12,
        field: 'torque',
        value: true,
        constraint: 'isNumber',
        message: 'torque must be a Float, got true',
      },
    );
  });

  it('names a whole batch row (null, not an object) by its index', () => {
    const message =
      'Variable "$inputs" got invalid value null at "inputs[1]"; Expected non-nullable type "SensorReadingInput!" not to be null.';
    assert.deepEqual(coercionViolation(message, { inputs: [{}, null] }, true), {
      row: 1,
      field: 'inputs',
      value: null,
      constraint: 'isDefined',
      message: 'inputs[1] must not be null (SensorReadingInput!)',
    });
  });

  it('is not fooled by "; " or a fake path inside the offending string', () => {
    const sent = 'x; Field "a" at "input.b"';
    const message = `Variable "$input" got invalid value ${JSON.stringify(sent)} at "input.torque"; Float cannot represent non numeric value: ${JSON.stringify(sent)}`;
    const v = coercionViolation(message, { input: { torque: sent } }, true);
    assert.deepEqual(
      { field: v?.field, value: v?.value, constraint: v?.constraint },
      { field: 'torque', value: sent, constraint: 'isNumber' },
    );
  });

  it('spells non-finite numbers and clips huge strings so the answer stays readable', () => {
    const inf = coercionViolation(
      'Variable "$input" got invalid value Infinity at "input.airTemperature"; Float cannot represent non numeric value: Infinity',
      { input: { airTemperature: Infinity } },
      true,
    );
    assert.equal(inf?.value, 'Infinity');
    const huge = '9'.repeat(100_000);
    const v = coercionViolation(
      `Variable "$input" got invalid value "${huge}" at "input.torque"; Float cannot represent non numeric value: "${huge}"`,
      { input: { torque: huge } },
      true,
    );
    assert.ok(typeof v?.value === 'string' && v.value.length < 300 && v.value.startsWith('999'));
    assert.ok(v!.message.length < 200);
  });

  it('takes the value of an unknown own key such as __proto__ without touching the prototype', () => {
    const input = JSON.parse('{"__proto__": {"isAdmin": true}}');
    const v = coercionViolation(
      'Variable "$input" got invalid value { __proto__: { isAdmin: true } }; Field "__proto__" is not defined by type "SensorReadingInput".',
      { input },
      true,
    );
    assert.deepEqual(v, {
      field: '__proto__',
      value: { isAdmin: true },
      constraint: 'whitelistValidation',
      message: '__proto__ is not a field of SensorReadingInput',
    });
  });

  it('returns undefined for a message that is no variable coercion error', () => {
    assert.equal(coercionViolation('inputs must hold 1 to 1000 readings, got 0', undefined, true), undefined);
  });
});
