import type { ReadingField, SensorReadingInput } from '../../../client/generated/graphql';

export type NumericField = Exclude<keyof SensorReadingInput, 'productType'>;

/**
 * The physical bounds of each reading, mirrored from the class-validator decorators on
 * src/schema/sensor-reading.input.ts (modelInfo publishes training ranges, not these). The page checks
 * them before sending so every broken field is shown at once; the server stays the authority, and the
 * browser test compares this table with the decorators' metadata so the two cannot drift apart.
 */
export interface FieldSpec {
  field: NumericField;
  enumName: ReadingField;
  label: string;
  unit: string;
  min: number;
  /** true for @IsPositive (value must be above `min`), false for @Min (at least `min`). */
  minExclusive: boolean;
  max: number;
  /** A kelvin reading: a value far below the training range is probably in °C. */
  kelvin: boolean;
}

export const FIELD_SPECS: FieldSpec[] = [
  {
    field: 'airTemperature',
    enumName: 'AIR_TEMPERATURE',
    label: 'Air temperature',
    unit: 'K',
    min: 0,
    minExclusive: true,
    max: 1_000,
    kelvin: true,
  },
  {
    field: 'processTemperature',
    enumName: 'PROCESS_TEMPERATURE',
    label: 'Process temperature',
    unit: 'K',
    min: 0,
    minExclusive: true,
    max: 1_000,
    kelvin: true,
  },
  {
    field: 'rotationalSpeed',
    enumName: 'ROTATIONAL_SPEED',
    label: 'Rotational speed',
    unit: 'rpm',
    min: 0,
    minExclusive: false,
    max: 100_000,
    kelvin: false,
  },
  { field: 'torque', enumName: 'TORQUE', label: 'Torque', unit: 'Nm', min: 0, minExclusive: false, max: 10_000, kelvin: false },
  { field: 'toolWear', enumName: 'TOOL_WEAR', label: 'Tool wear', unit: 'min', min: 0, minExclusive: false, max: 100_000, kelvin: false },
];

export const specByEnum = (name: ReadingField): FieldSpec => FIELD_SPECS.find((s) => s.enumName === name)!;
export const specByField = (field: string): FieldSpec | undefined => FIELD_SPECS.find((s) => s.field === field);

/** One problem with one field found in the page, worded like the server's violations. */
export interface FieldProblem {
  field: NumericField;
  value: string;
  constraint: 'isDefined' | 'isNumber' | 'isPositive' | 'min' | 'max';
  message: string;
}

/** Every problem of the raw form values (not only the first): empty, not a number, out of bounds. */
export function checkReading(raw: Record<NumericField, string>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const s of FIELD_SPECS) {
    const text = raw[s.field].trim();
    const value = Number(text);
    if (text === '') problems.push({ field: s.field, value: text, constraint: 'isDefined', message: `${s.field} is required` });
    else if (!Number.isFinite(value))
      problems.push({ field: s.field, value: text, constraint: 'isNumber', message: `${s.field} must be a number` });
    else if (s.minExclusive && value <= s.min)
      problems.push({ field: s.field, value: text, constraint: 'isPositive', message: `${s.field} must be above ${s.min} ${s.unit}` });
    else if (!s.minExclusive && value < s.min)
      problems.push({ field: s.field, value: text, constraint: 'min', message: `${s.field} must be at least ${s.min} ${s.unit}` });
    else if (value > s.max)
      problems.push({
        field: s.field,
        value: text,
        constraint: 'max',
        message: `${s.field} must be at most ${s.max.toLocaleString('en')} ${s.unit}`,
      });
  }
  return problems;
}

/** A units hint for a kelvin reading that looks like degrees Celsius (AI4I temperatures are ~295-315 K). */
export function celsiusHint(spec: FieldSpec, value: number): string | undefined {
  if (!spec.kelvin || value >= 200 || value <= -273.15) return undefined;
  return `looks like °C; add 273.15 (${value} °C = ${Number((value + 273.15).toFixed(2))} K)`;
}
