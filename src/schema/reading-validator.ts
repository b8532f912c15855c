import { getMetadataStorage, validateSync, type ValidationError } from 'class-validator';
import type { Violation } from '../violation';

type Check = (value: unknown) => boolean;
interface Rule {
  field: string;
  constraint: string;
  bound?: number | string;
  check: Check;
}

/**
 * Turns one class-validator constraint into a plain predicate, for the constraint kinds whose
 * semantics are simple enough to restate exactly; anything else returns undefined and keeps the
 * class on class-validator for every row.
 */
function compileRule(name: string | undefined, constraints: unknown[] | undefined): Omit<Rule, 'field'> | undefined {
  // Stryker disable next-line ArrayDeclaration: equivalent, where constraints are missing (isPositive, a bare isNumber) a string c[0] sets no option either
  const c = constraints ?? [];
  switch (name) {
    case 'min':
      return { constraint: name, bound: c[0] as number, check: (v) => typeof v === 'number' && v >= (c[0] as number) };
    case 'max':
      return { constraint: name, bound: c[0] as number, check: (v) => typeof v === 'number' && v <= (c[0] as number) };
    case 'isPositive':
      return { constraint: name, bound: 0, check: (v) => typeof v === 'number' && v > 0 };
    case 'isNumber': {
      const opts = (c[0] ?? {}) as { allowNaN?: boolean; allowInfinity?: boolean; maxDecimalPlaces?: number };
      if (opts.maxDecimalPlaces !== undefined) return undefined;
      return {
        constraint: name,
        bound: opts.allowInfinity ? undefined : 'finite',
        check: (v) =>
          typeof v === 'number' && (opts.allowNaN || !Number.isNaN(v)) && (opts.allowInfinity || (v !== Infinity && v !== -Infinity)),
      };
    }
    case 'isEnum': {
      const allowed = Object.keys(c[0] as object).map((k) => (c[0] as Record<string, unknown>)[k]);
      return { constraint: name, bound: allowed.join('|'), check: (v) => allowed.includes(v) };
    }
    // Stryker disable next-line ConditionalExpression: equivalent, an empty default also ends in undefined
    default:
      return undefined;
  }
}

/**
 * Validates instances of a class-validator-decorated class. The decorators stay the single statement
 * of the rules: this reads their metadata, checks valid rows with compiled predicates (class-validator's
 * own `validateSync` costs about 5 µs a row, which dominates a 1,000-row batch), and hands any row that
 * fails to `validateSync` so the messages are class-validator's. A property test keeps both in step.
 */
export class CompiledValidator {
  private readonly rules: Rule[] | undefined;
  private readonly bounds = new Map<string, number | string | undefined>();

  constructor(target: new () => object) {
    // Stryker disable next-line StringLiteral,BooleanLiteral: equivalent, schema name and group flags matter only to validation groups, which no input class uses
    const metadata = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
    const rules: Rule[] = [];
    let compilable = metadata.length > 0;
    for (const m of metadata) {
      const rule = m.type === 'customValidation' && !m.each && !m.validateIf ? compileRule(m.name, m.constraints) : undefined;
      if (!rule) {
        compilable = false;
        continue;
      }
      rules.push({ field: m.propertyName, ...rule });
      this.bounds.set(`${m.propertyName}.${rule.constraint}`, rule.bound);
    }
    this.rules = compilable ? rules : undefined;
  }

  /** True when every row is checked by compiled predicates (false: class-validator checks every row). */
  get compiled(): boolean {
    return this.rules !== undefined;
  }

  /** The violations of one object, each with field, value, constraint, bound and message; [] if valid. */
  validate(object: object, row?: number): Violation[] {
    if (this.rules && this.rules.every((r) => r.check((object as Record<string, unknown>)[r.field]))) return [];
    return validateSync(object, { forbidUnknownValues: false }).flatMap((e) => this.toViolations(e, row));
  }

  private toViolations(error: ValidationError, row: number | undefined): Violation[] {
    return Object.entries(error.constraints ?? {}).map(([constraint, message]) => {
      const bound = this.bounds.get(`${error.property}.${constraint}`);
      return {
        ...(row === undefined ? {} : { row }),
        field: error.property,
        // JSON has no Infinity/NaN: spell them so the client sees what it sent.
        value: typeof error.value === 'number' && !Number.isFinite(error.value) ? String(error.value) : error.value,
        constraint,
        ...(bound === undefined ? {} : { bound }),
        message,
      };
    });
  }
}
