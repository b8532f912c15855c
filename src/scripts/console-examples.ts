/**
 * Picks a few real rows of each failure type from data/ai4i2020.csv for the operator console's
 * "pick an example" list, and writes examples/console/src/examples.json (committed, with attribution).
 * Deterministic: the first rows of each type in file order, labelled with the dataset's single-label
 * form (PWF, HDF, TWF, OSF, RNF, first match wins; see data/README.md).
 *
 *   npx tsc -p src/scripts/tsconfig.json && node dist/src/scripts/console-examples.js [root]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PER_TYPE = 3;
const ORDER = [
  ['PWF', 'POWER_FAILURE'],
  ['HDF', 'HEAT_DISSIPATION_FAILURE'],
  ['TWF', 'TOOL_WEAR_FAILURE'],
  ['OSF', 'OVERSTRAIN_FAILURE'],
  ['RNF', 'RANDOM_FAILURES'],
] as const;

export const SOURCE =
  'AI4I 2020 Predictive Maintenance Dataset, S. Matzka, UCI Machine Learning Repository, 2020, https://doi.org/10.24432/C5HS5C. Licence: CC BY 4.0. Rows copied unchanged (UDI = row id); failureType is the single-label form of the failure flags (see data/README.md).';

/** The console's examples from the dataset's CSV text: up to PER_TYPE rows per label, NO_FAILURE first. */
export function consoleExamples(csv: string): { source: string; examples: unknown[] } {
  const [header, ...lines] = csv.trim().split('\n');
  const cols = header.split(',');
  const at = (name: string) => cols.indexOf(name);
  const picked = new Map<string, unknown[]>();
  for (const line of lines) {
    const v = line.split(',');
    const label = ORDER.find(([flag]) => v[at(flag)] === '1')?.[1] ?? 'NO_FAILURE';
    const list = picked.get(label) ?? [];
    if (list.length >= PER_TYPE) continue;
    list.push({
      udi: Number(v[at('UDI')]),
      failureType: label,
      reading: {
        airTemperature: Number(v[at('Air temperature [K]')]),
        processTemperature: Number(v[at('Process temperature [K]')]),
        rotationalSpeed: Number(v[at('Rotational speed [rpm]')]),
        torque: Number(v[at('Torque [Nm]')]),
        toolWear: Number(v[at('Tool wear [min]')]),
        productType: v[at('Type')],
      },
    });
    picked.set(label, list);
  }
  const examples = ['NO_FAILURE', ...ORDER.map(([, label]) => label)].flatMap((label) => picked.get(label) ?? []);
  return { source: SOURCE, examples };
}

/** Reads `root`/data/ai4i2020.csv, writes `root`/examples/console/src/examples.json; says what it wrote. */
export function writeConsoleExamples(root: string): string {
  const out = consoleExamples(readFileSync(path.join(root, 'data', 'ai4i2020.csv'), 'utf8'));
  const target = path.join(root, 'examples', 'console', 'src', 'examples.json');
  writeFileSync(target, `${JSON.stringify(out, null, 2)}\n`);
  return `wrote ${path.relative(root, target)} (${out.examples.length} rows)\n`;
}

/** The root the command line names (`[root]`), by default the repository this script was built in. */
export function scriptRoot(arg: string | undefined): string {
  return path.resolve(arg ?? path.join(__dirname, '..', '..', '..'));
}

if (require.main === module) process.stdout.write(writeConsoleExamples(scriptRoot(process.argv[2])));
