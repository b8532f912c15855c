// The compiled validator answers a valid object by itself: class-validator is only consulted for the
// objects a compiled predicate refuses. A predicate that wrongly refuses would give the same answer
// (class-validator then decides), only slower, so the fast path is observed directly: after the
// validator is built, a rule that fails every value is added to the class's metadata. class-validator
// sees that rule; the compiled predicates, read once at construction, do not.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Equals, IsEnum, IsNumber, IsPositive, Max, Min } from 'class-validator';
import { CompiledValidator } from '../src/schema/reading-validator';

enum Colour {
  Red = 'r',
  Green = 'g',
}

function probe(decorate: PropertyDecorator, validValues: unknown[]) {
  class Probe {
    x!: unknown;
  }
  decorate(Probe.prototype, 'x');
  const validator = new CompiledValidator(Probe);
  Equals('never')(Probe.prototype, 'x');
  return { validator, validValues, make: (x: unknown) => Object.assign(new Probe(), { x }) };
}

describe('CompiledValidator fast path: valid objects never reach class-validator', () => {
  const cases = {
    'Min(0)': probe(Min(0), [0, 5, 1e308]),
    'Max(10)': probe(Max(10), [10, -3, -1e308]),
    'IsPositive()': probe(IsPositive(), [Number.MIN_VALUE, 1, 1e308]),
    'IsNumber()': probe(IsNumber(), [0, -0.5, 1e308]),
    'IsNumber({ allowNaN: true })': probe(IsNumber({ allowNaN: true }), [NaN, 1]),
    'IsNumber({ allowInfinity: true })': probe(IsNumber({ allowInfinity: true }), [Infinity, -Infinity, 1]),
    'IsEnum(Colour)': probe(IsEnum(Colour), ['r', 'g']),
  };
  for (const [name, { validator, validValues, make }] of Object.entries(cases)) {
    it(name, () => {
      assert.equal(validator.compiled, true);
      for (const value of validValues) assert.deepEqual(validator.validate(make(value)), [], `${name}: ${String(value)}`);
      // The probe works: an object the compiled rules refuse goes to class-validator, which sees the added rule.
      const refused = validator.validate(make('not valid for any of them'));
      assert.ok(
        refused.some((v) => v.constraint === 'equals'),
        JSON.stringify(refused),
      );
    });
  }
});
