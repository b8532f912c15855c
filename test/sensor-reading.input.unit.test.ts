// Input validation: every physical bound of SensorReadingInput pinned from both sides, and the
// compiled validator checked against class-validator on other decorator combinations than the one
// SensorReadingInput happens to use (each compiled predicate on its own).
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { IsEnum, IsInt, IsNumber, IsPositive, Max, Min, ValidateIf, validateSync } from 'class-validator';
import { lexicographicSortSchema, printType, type GraphQLInputObjectType } from 'graphql';
import { CompiledValidator } from '../src/schema/reading-validator';
import { SensorReadingInput } from '../src/schema/sensor-reading.input';
import { buildSchema as buildAppSchemaFor } from '../src/server';

const VALID = { airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 100, productType: 'L' };
const reading = (overrides: Record<string, unknown>) => Object.assign(new SensorReadingInput(), VALID, overrides);

/** The largest double below / smallest above x: "just inside" and "just outside" with nothing in between. */
const below = (x: number) => (x === 0 ? -Number.MIN_VALUE : x - Math.abs(x) * Number.EPSILON);
const above = (x: number) => (x === 0 ? Number.MIN_VALUE : x + Math.abs(x) * Number.EPSILON);

// field, lowest accepted (or the exclusive bound), highest accepted, constraint broken below / above.
const BOUNDS = [
  { field: 'airTemperature', low: { value: 0, inclusive: false, constraint: 'isPositive' }, high: 1_000 },
  { field: 'processTemperature', low: { value: 0, inclusive: false, constraint: 'isPositive' }, high: 1_000 },
  { field: 'rotationalSpeed', low: { value: 0, inclusive: true, constraint: 'min' }, high: 100_000 },
  { field: 'torque', low: { value: 0, inclusive: true, constraint: 'min' }, high: 10_000 },
  { field: 'toolWear', low: { value: 0, inclusive: true, constraint: 'min' }, high: 100_000 },
] as const;

describe('SensorReadingInput bounds, each field from both sides', () => {
  const validator = new CompiledValidator(SensorReadingInput);

  for (const { field, low, high } of BOUNDS) {
    it(`${field}: ${low.inclusive ? '>=' : '>'} ${low.value} and <= ${high}`, () => {
      const insideLow = low.inclusive ? low.value : above(low.value);
      const outsideLow = low.inclusive ? below(low.value) : low.value;
      for (const value of [insideLow, high, below(high)]) {
        assert.deepEqual(validator.validate(reading({ [field]: value })), [], `${field}=${value} must pass`);
      }
      const lowV = validator.validate(reading({ [field]: outsideLow }), 3);
      assert.deepEqual(
        lowV.map(({ row, field: f, value, constraint, bound }) => ({ row, f, value, constraint, bound })),
        [{ row: 3, f: field, value: outsideLow, constraint: low.constraint, bound: 0 }],
        `${field}=${outsideLow} must fail`,
      );
      assert.match(lowV[0].message, new RegExp(`^${field} must `));
      const highV = validator.validate(reading({ [field]: above(high) }));
      assert.deepEqual(
        highV.map(({ row, field: f, constraint, bound }) => ({ row, f, constraint, bound })),
        [{ row: undefined, f: field, constraint: 'max', bound: high }],
        `${field}=${above(high)} must fail`,
      );
      assert.ok(!('row' in highV[0]), 'no row key for a single reading');
      assert.equal(highV[0].message, `${field} must not be greater than ${high}`);
      for (const bad of [NaN, Infinity, -Infinity]) {
        const v = validator.validate(reading({ [field]: bad }));
        const isNumber = v.find((x) => x.constraint === 'isNumber');
        assert.deepEqual(
          { ...isNumber, message: undefined },
          { field, value: String(bad), constraint: 'isNumber', bound: 'finite', message: undefined },
          `${field}=${bad}`,
        );
      }
      const text = validator.validate(reading({ [field]: '300' }));
      assert.ok(
        text.some((x) => x.constraint === 'isNumber' && x.value === '300'),
        `${field}="300" is not a number`,
      );
      const nothing = validator.validate(reading({ [field]: null }));
      assert.ok(nothing.length > 0 && nothing.every((x) => x.value === null), `${field}=null`);
    });
  }

  it('productType: L, M and H only', () => {
    for (const t of ['L', 'M', 'H']) assert.deepEqual(validator.validate(reading({ productType: t })), []);
    for (const t of ['X', 'l', '', 'LM', 0, null]) {
      const v = validator.validate(reading({ productType: t }));
      assert.deepEqual(
        v.map(({ field, value, constraint, bound }) => ({ field, value, constraint, bound })),
        [{ field: 'productType', value: t, constraint: 'isEnum', bound: 'L|M|H' }],
        `productType=${String(t)}`,
      );
    }
  });

  it('reports every broken rule of a reading, in field order', () => {
    const v = validator.validate(reading({ airTemperature: 0, torque: 10_001, productType: 'Q' }), 0);
    assert.deepEqual(
      v.map((x) => [x.row, x.field, x.constraint]),
      [
        [0, 'airTemperature', 'isPositive'],
        [0, 'torque', 'max'],
        [0, 'productType', 'isEnum'],
      ],
    );
  });

  it('the schema states the bounds the validator enforces (committed schema.graphql)', async () => {
    const schema = await buildAppSchemaFor();
    const printed = printType(lexicographicSortSchema(schema).getType('SensorReadingInput') as GraphQLInputObjectType);
    const committed = readFileSync('schema.graphql', 'utf8');
    assert.ok(committed.includes(printed), `schema.graphql lacks:\n${printed}`);
  });
});

// Small classes with one decorator combination each.
class OnlyMin {
  @Min(0) x!: unknown;
}
class OnlyMax {
  @Max(10) x!: unknown;
}
class OnlyPositive {
  @IsPositive() x!: unknown;
}
class PlainNumber {
  @IsNumber() x!: unknown;
}
class NaNAllowed {
  @IsNumber({ allowNaN: true, allowInfinity: false }) x!: unknown;
}
class InfinityAllowed {
  @IsNumber({ allowNaN: false, allowInfinity: true }) x!: unknown;
}
enum Colour {
  Red = 'r',
  Green = 'g',
}
class OnlyEnum {
  @IsEnum(Colour) x!: unknown;
}
class WithDecimals {
  @IsNumber({ maxDecimalPlaces: 1 }) x!: unknown;
}
class WithInt {
  @IsInt() @Min(0) x!: unknown;
}
class WithEach {
  @Min(0, { each: true }) x!: unknown;
}
class WithCondition {
  @ValidateIf((o: { y?: number }) => o.y === 1) @Min(0) x!: unknown;
  y?: number;
}
class Undecorated {
  x!: unknown;
}

const VALUES: unknown[] = [
  0,
  -0,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  1,
  -1,
  9.99,
  10,
  10.000001,
  11,
  2.5,
  2.55,
  NaN,
  Infinity,
  -Infinity,
  '5',
  '',
  null,
  undefined,
  true,
  'r',
  'g',
  'Red',
  'b',
  [1],
  {},
];

describe('CompiledValidator agrees with class-validator for each compiled constraint', () => {
  for (const [cls, compiled] of [
    [OnlyMin, true],
    [OnlyMax, true],
    [OnlyPositive, true],
    [PlainNumber, true],
    [NaNAllowed, true],
    [InfinityAllowed, true],
    [OnlyEnum, true],
    [WithDecimals, false],
    [WithInt, false],
    [WithEach, false],
    [WithCondition, false],
  ] as const) {
    it(`${cls.name} (${compiled ? 'compiled' : 'left to class-validator'})`, () => {
      const validator = new CompiledValidator(cls as new () => object);
      assert.equal(validator.compiled, compiled);
      for (const value of VALUES) {
        for (const y of [0, 1]) {
          const obj = Object.assign(new (cls as new () => { x: unknown; y?: number })(), { x: value, y });
          let expected;
          try {
            expected = validateSync(obj, { forbidUnknownValues: false });
          } catch (err) {
            // class-validator's maxDecimalPlaces throws on numbers printed without a point (5e-324):
            // the compiled validator must hand such a class to it unchanged, throw included.
            assert.throws(() => validator.validate(obj), { message: (err as Error).message });
            continue;
          }
          const got = validator.validate(obj);
          assert.deepEqual(
            got.map((v) => [v.field, v.constraint, v.message]),
            expected.flatMap((e) => Object.entries(e.constraints ?? {}).map(([c, m]) => [e.property, c, m])),
            `${cls.name} x=${String(value)} y=${y}`,
          );
        }
      }
    });
  }

  it('names the bound of each compiled constraint, and none where a rule has none', () => {
    const bound = (cls: new () => object, x: unknown) => validatorFor(cls).validate(Object.assign(new cls(), { x }))[0];
    assert.equal(bound(OnlyMin, -1).bound, 0);
    assert.equal(bound(OnlyMax, 11).bound, 10);
    assert.equal(bound(OnlyPositive, 0).bound, 0);
    assert.equal(bound(PlainNumber, NaN).bound, 'finite');
    assert.equal(bound(NaNAllowed, Infinity).bound, 'finite');
    assert.equal(bound(OnlyEnum, 'b').bound, 'r|g');
    const unbounded = bound(InfinityAllowed, NaN);
    assert.equal(unbounded.constraint, 'isNumber');
    assert.ok(!('bound' in unbounded), 'an isNumber that allows Infinity has no finite bound');
    const notCompiled = bound(WithInt, 1.5);
    assert.equal(notCompiled.constraint, 'isInt');
    assert.ok(!('bound' in notCompiled));
    assert.equal(bound(WithInt, -1).bound, 0, 'rules that compile keep their bound when the class falls back');
  });

  it('a class with no rules is left to class-validator, which finds nothing wrong', () => {
    const validator = new CompiledValidator(Undecorated);
    assert.equal(validator.compiled, false);
    assert.deepEqual(validator.validate(Object.assign(new Undecorated(), { x: NaN })), []);
  });
});

const cache = new Map<Function, CompiledValidator>();
function validatorFor(cls: new () => object): CompiledValidator {
  if (!cache.has(cls)) cache.set(cls, new CompiledValidator(cls));
  return cache.get(cls)!;
}
