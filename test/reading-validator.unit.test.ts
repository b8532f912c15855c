import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateSync } from 'class-validator';
import { CompiledValidator } from '../src/schema/reading-validator';
import { SensorReadingInput } from '../src/schema/sensor-reading.input';

const FIELDS = ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear'] as const;
const SPECIAL = [
  0,
  -0,
  1e-300,
  -1e-300,
  1,
  -1,
  1000,
  1000.0001,
  999.999,
  100000,
  100000.5,
  10000,
  10000.01,
  1e308,
  -1e308,
  NaN,
  Infinity,
  -Infinity,
  300,
  1500,
  40,
  200,
];

function reading(overrides: Partial<Record<keyof SensorReadingInput, unknown>> = {}): SensorReadingInput {
  return Object.assign(new SensorReadingInput(), {
    airTemperature: 300,
    processTemperature: 310,
    rotationalSpeed: 1500,
    torque: 40,
    toolWear: 100,
    productType: 'L',
    ...overrides,
  });
}

describe('CompiledValidator', () => {
  const validator = new CompiledValidator(SensorReadingInput);

  it('compiles every rule of SensorReadingInput (no per-row class-validator call for valid rows)', () => {
    assert.equal(validator.compiled, true);
  });

  it('agrees with class-validator on edge values of every field', () => {
    for (const field of FIELDS) {
      for (const value of SPECIAL) {
        const r = reading({ [field]: value });
        const expected = validateSync(r).length === 0;
        assert.equal(validator.validate(r).length === 0, expected, `${field}=${value}`);
      }
    }
    for (const productType of ['L', 'M', 'H', 'X', 'l', '', 0, undefined]) {
      const r = reading({ productType: productType as never });
      assert.equal(validator.validate(r).length === 0, validateSync(r).length === 0, `productType=${String(productType)}`);
    }
  });

  it('agrees with class-validator on 5,000 random readings', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 5000; i++) {
      const r = reading(
        Object.fromEntries(FIELDS.map((f) => [f, rand() < 0.2 ? SPECIAL[Math.floor(rand() * SPECIAL.length)] : (rand() - 0.1) * 12000])),
      );
      assert.equal(validator.validate(r).length === 0, validateSync(r).length === 0, JSON.stringify(r));
    }
  });

  it('reports field, value, constraint, bound, row and class-validator message for each violation', () => {
    const violations = validator.validate(reading({ airTemperature: -5, rotationalSpeed: 200000 }), 7);
    assert.deepEqual(
      violations.map(({ row, field, value, constraint, bound }) => ({ row, field, value, constraint, bound })),
      [
        { row: 7, field: 'airTemperature', value: -5, constraint: 'isPositive', bound: 0 },
        { row: 7, field: 'rotationalSpeed', value: 200000, constraint: 'max', bound: 100000 },
      ],
    );
    assert.equal(violations[1].message, 'rotationalSpeed must not be greater than 100000');
  });

  it('spells non-finite values so JSON can carry them', () => {
    const [v] = validator.validate(reading({ torque: Infinity })).filter((x) => x.constraint === 'max');
    assert.equal(v.value, 'Infinity');
  });
});
