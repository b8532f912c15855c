/**
 * Picks a few real rows of each failure type from data/ai4i2020.csv for the operator console's
 * "pick an example" list, and writes examples/console/src/examples.json (committed, with attribution).
 * Deterministic: the first rows of each type in file order, labelled with the dataset's single-label
 * form (PWF, HDF, TWF, OSF, RNF, first match wins; see data/README.md).
 *
 *   npx tsc -p src/scripts/tsconfig.json && node dist/src/scripts/console-examples.js
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

const root = path.resolve(__dirname, '..', '..', '..');
const [header, ...lines] = readFileSync(path.join(root, 'data', 'ai4i2020.csv'), 'utf8')
  .trim()
  .split('\n');
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
const out = {
  source:
    'AI4I 2020 Predictive Maintenance Dataset, S. Matzka, UCI Machine Learning Repository, 2020, https://doi.org/10.24432/C5HS5C. Licence: CC BY 4.0. Rows copied unchanged (UDI = row id); failureType is the single-label form of the failure flags (see data/README.md).',
  examples,
};
const target = path.join(root, 'examples', 'console', 'src', 'examples.json');
writeFileSync(target, `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`wrote ${path.relative(root, target)} (${examples.length} rows)\n`);
