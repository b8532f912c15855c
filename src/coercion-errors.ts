/**
 * Variable coercion errors as violations. graphql-js (and graphql-jit, which copies its wording) rejects
 * a variable that does not fit its type before any resolver runs, and reports it only as a sentence:
 *
 *   Variable "$input" got invalid value "abc" at "input.torque"; Float cannot represent non numeric value: "abc"
 *
 * The path and the broken rule are in that sentence and nowhere else (graphql-js keeps no structured
 * path on the error), so this reads them back out of it, and takes the offending value from the
 * request's own variables where the formatter has them (see `rememberVariables`).
 */
import type { Violation } from './violation';

type Segment = string | number;

interface Parsed {
  variable: string;
  /** Path inside the variable, e.g. [3, 'torque'] for "inputs[3].torque". */
  path: Segment[];
  /** graphql-js's `inspect` of the offending value (what the sentence shows). */
  shown: string | undefined;
  /** What went wrong, after the "; ". */
  inner: string;
}

const WHOLE_VARIABLE = /^Variable "\$(\w+)" of (?:required|non-null) type "([^"]+)" (was not provided|must not be null)\.$/;
const GOT_INVALID = /^Variable "\$(\w+)" got invalid value /;
const AT_PATH = / at "(\w+)((?:\.\w+|\[\d+\])*)"$/;

interface Rule {
  pattern: RegExp;
  /** Field name the rule names itself (unknown / missing field), appended to the path. */
  namesField?: boolean;
  constraint: (m: RegExpMatchArray) => string;
  message: (field: string, m: RegExpMatchArray, shown: string | undefined, hints: boolean) => string;
}

/** GraphQL scalar → the class-validator constraint name the physical-bound violations use for the same rule. */
const SCALAR_CONSTRAINTS: Record<string, string> = {
  Float: 'isNumber',
  Int: 'isInt',
  String: 'isString',
  Boolean: 'isBoolean',
  ID: 'isString',
};

const article = (word: string) => (/^[AEIOU]/.test(word) ? 'an' : 'a');
const got = (shown: string | undefined) => (shown === undefined ? '' : `, got ${clip(shown, 80)}`);
/** "did you mean" wording from graphql-js's own suggestion list, outside production only. */
const hint = (suggestion: string | undefined, hints: boolean) => (hints && suggestion ? `; did you mean ${suggestion}?` : '');

/**
 * What graphql-js says after the "; ", most specific first. Unknown and missing fields name the field
 * in the sentence; the others name it in the path.
 */
const RULES: Rule[] = [
  {
    pattern: /^Field "(\w+)" is not defined by type "(\w+)"\.(?: Did you mean (.+)\?)?$/,
    namesField: true,
    // class-validator's name for a property the class does not declare (forbidNonWhitelisted).
    constraint: () => 'whitelistValidation',
    // graphql-js lists the closest names first; the first is the "did you mean".
    message: (field, m, _shown, hints) => `${field} is not a field of ${m[2]}${hint(m[3]?.match(/"\w+"/)?.[0], hints)}`,
  },
  {
    pattern: /^Field "(\w+)" of required type "([^"]+)" was not provided\.$/,
    namesField: true,
    constraint: () => 'isDefined',
    message: (field, m) => `${field} is required (${m[2]}) but was not provided`,
  },
  {
    pattern: /^Expected non-nullable type "([^"]+)" not to be null\.$/,
    constraint: () => 'isDefined',
    message: (field, m) => `${field} must not be null (${m[1]})`,
  },
  {
    pattern: /^Expected type "(\w+)" to be an object\.$/,
    constraint: () => 'isObject',
    message: (field, m, shown) => `${field} must be an object (${m[1]})${got(shown)}`,
  },
  {
    pattern: /^(Float|Int|String|Boolean|ID) cannot represent /,
    constraint: (m) => SCALAR_CONSTRAINTS[m[1]],
    message: (field, m, shown) => `${field} must be ${article(m[1])} ${m[1]}${got(shown)}`,
  },
  {
    pattern: /^Value (".*") does not exist in "(\w+)" enum\.(?: Did you mean (?:the enum value )?(.+)\?)?$/,
    constraint: () => 'isEnum',
    message: (field, m, shown, hints) => `${field} must be a ${m[2]} value${got(shown)}${hint(m[3], hints)}`,
  },
  {
    pattern: /^Enum "(\w+)" cannot represent non-string value: /,
    constraint: () => 'isEnum',
    message: (field, m, shown) => `${field} must be a ${m[1]} value (a string)${got(shown)}`,
  },
  {
    pattern: /^Expected type "(\w+)"\./,
    constraint: () => 'isValid',
    message: (field, m, shown) => `${field} is not a valid ${m[1]}${got(shown)}`,
  },
];

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** ".torque" / "[3].torque" (graphql-js's printPathArray) back into segments. */
function parsePath(printed: string): Segment[] {
  const path: Segment[] = [];
  for (const m of printed.matchAll(/\.(\w+)|\[(\d+)\]/g)) path.push(m[1] ?? Number(m[2]));
  return path;
}

/** Splits "…got invalid value <shown>[ at "<path>"]; <inner>" where <shown> may itself hold "; ". */
function parseGotInvalid(message: string): Parsed | undefined {
  const start = GOT_INVALID.exec(message);
  if (!start) return undefined;
  const rest = message.slice(start[0].length);
  let fallback: Parsed | undefined;
  for (let i = rest.indexOf('; '); i !== -1; i = rest.indexOf('; ', i + 1)) {
    let shown = rest.slice(0, i);
    const inner = rest.slice(i + 2);
    let path: Segment[] = [];
    const at = AT_PATH.exec(shown);
    if (at && at[1] === start[1]) {
      path = parsePath(at[2]);
      shown = shown.slice(0, at.index);
    }
    const parsed = { variable: start[1], path, shown, inner };
    if (RULES.some((r) => r.pattern.test(inner))) return parsed;
    fallback ??= parsed;
  }
  return fallback;
}

function valueAt(root: unknown, path: Segment[]): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<Segment, unknown>)[segment];
  }
  return value;
}

/** The value as the client sent it, readable in JSON: non-finite numbers spelled, long strings clipped. */
function presentable(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return clip(value, 200);
  return value;
}

/** Reads graphql-js's `inspect` output back for primitives; anything else stays the printed text. */
function fromShown(shown: string | undefined): unknown {
  if (shown === undefined) return null;
  try {
    return JSON.parse(shown);
  } catch {
    return clip(shown, 200);
  }
}

/**
 * The violation a variable coercion error stands for, or undefined when the message is not one.
 * `variables` are the request's (exact values); without them the value is read from the sentence.
 * `hints` adds graphql-js's "did you mean" suggestions (off in production: they reveal the schema).
 */
export function coercionViolation(message: string, variables: Record<string, unknown> | undefined, hints: boolean): Violation | undefined {
  const whole = WHOLE_VARIABLE.exec(message);
  if (whole) {
    const [, variable, type, what] = whole;
    return {
      field: variable,
      value: null,
      constraint: 'isDefined',
      message:
        what === 'was not provided' ? `$${variable} is required (${type}) but was not provided` : `$${variable} must not be null (${type})`,
    };
  }
  const parsed = parseGotInvalid(message);
  if (!parsed) return undefined;
  const rule = RULES.find((r) => r.pattern.test(parsed.inner));
  const match = rule ? parsed.inner.match(rule.pattern)! : undefined;
  const path = rule?.namesField ? [...parsed.path, match![1]] : parsed.path;
  // A list variable's first index is the row (predictBatch's inputs[3]); the field is what follows.
  const row = typeof path[0] === 'number' ? path[0] : undefined;
  const fieldPath = path.filter((s, i) => !(i === 0 && typeof s === 'number'));
  const field = fieldPath.length > 0 ? fieldPath.join('.') : parsed.variable;
  // A whole batch row (null, not an object) is named inputs[1] in the message; its field stays `inputs`.
  const subject = row !== undefined && fieldPath.length === 0 ? `${parsed.variable}[${row}]` : field;
  const fromVariables = variables !== undefined && Object.hasOwn(variables, parsed.variable);
  const value = fromVariables ? presentable(valueAt(variables[parsed.variable], path)) : rule?.namesField ? null : fromShown(parsed.shown);
  const shown = rule?.namesField ? undefined : parsed.shown;
  return {
    ...(row === undefined ? {} : { row }),
    field,
    value,
    constraint: rule ? rule.constraint(match!) : 'isValid',
    message: rule ? rule.message(subject, match!, shown, hints) : `${subject}: ${hints ? parsed.inner : withoutSuggestions(parsed.inner)}`,
  };
}

/** Apollo's own wording for suggestions, removed from messages in production as its plugin does for validation. */
export function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, '');
}
