/** One broken rule of one field (of one row, for predictBatch). */
export interface Violation {
  /** Index in `predictBatch(inputs:)`; absent for `predict`. */
  row?: number;
  field: string;
  value: unknown;
  /** class-validator constraint name, e.g. `min`, `max`, `isPositive`. */
  constraint: string;
  /** The limit the value broke, when the rule has one. */
  bound?: number | string;
  message: string;
}
