import type { PredictionFieldsFragment, ProductType, SensorReadingInput } from '../../../client/generated/graphql';

/** Our field names, with the AI4I 2020 dataset's own column names accepted as aliases. */
const COLUMNS: Record<keyof SensorReadingInput, string[]> = {
  airTemperature: ['airtemperature', 'air temperature [k]', 'air temperature'],
  processTemperature: ['processtemperature', 'process temperature [k]', 'process temperature'],
  rotationalSpeed: ['rotationalspeed', 'rotational speed [rpm]', 'rotational speed'],
  torque: ['torque', 'torque [nm]'],
  toolWear: ['toolwear', 'tool wear [min]', 'tool wear'],
  productType: ['producttype', 'type', 'product type'],
};
export const FIELDS = Object.keys(COLUMNS) as Array<keyof SensorReadingInput>;
const PRODUCT_TYPES: ProductType[] = ['L', 'M', 'H'];

/** RFC 4180-style parsing: quoted fields, doubled quotes, CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const src = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((cell) => cell.trim() !== ''));
}

/** Readings from a CSV; throws an Error naming the first bad header, row or cell. */
export function readingsFromCsv(text: string): SensorReadingInput[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new Error('The CSV file is empty.');
  const names = header.map((h) => h.trim().toLowerCase());
  const index = {} as Record<keyof SensorReadingInput, number>;
  const missing: string[] = [];
  for (const field of FIELDS) {
    index[field] = names.findIndex((n) => COLUMNS[field].includes(n));
    if (index[field] < 0) missing.push(field);
  }
  if (missing.length > 0) {
    const found = header.map((h) => JSON.stringify(h.trim())).join(', ');
    const expected = FIELDS.map(
      (f) =>
        `${f} (or ${COLUMNS[f]
          .slice(1)
          .map((c) => JSON.stringify(c))
          .join(' / ')})`,
    ).join(', ');
    throw new Error(`The CSV header lacks ${missing.join(', ')}. Found: ${found}. Expected: ${expected}; names are case-insensitive.`);
  }
  if (rows.length === 0) throw new Error('The CSV file has a header but no readings.');
  return rows.map((cells, r) => {
    const number = (field: Exclude<keyof SensorReadingInput, 'productType'>): number => {
      const raw = (cells[index[field]] ?? '').trim();
      const value = Number(raw);
      if (raw === '' || !Number.isFinite(value)) throw new Error(`Row ${r + 1}: ${field} "${raw}" is not a number.`);
      return value;
    };
    const productType = (cells[index.productType] ?? '').trim().toUpperCase() as ProductType;
    if (!PRODUCT_TYPES.includes(productType)) throw new Error(`Row ${r + 1}: productType "${productType}" is not L, M or H.`);
    return {
      airTemperature: number('airTemperature'),
      processTemperature: number('processTemperature'),
      rotationalSpeed: number('rotationalSpeed'),
      torque: number('torque'),
      toolWear: number('toolWear'),
      productType,
    };
  });
}

function cell(value: string | number | boolean): string {
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Readings and their predictions as one CSV (readings first, then every prediction field). */
export function resultsToCsv(readings: SensorReadingInput[], predictions: PredictionFieldsFragment[]): string {
  const types = predictions[0]?.probabilities.map((p) => p.failureType) ?? [];
  const header = [
    ...FIELDS,
    'predictedFailureType',
    'label',
    'probability',
    'failureProbability',
    ...types.map((t) => `p_${t}`),
    'reconstructionError',
    'anomalyThreshold',
    'isAnomaly',
    'modelVersion',
  ];
  const lines = predictions.map((p, i) =>
    [
      ...FIELDS.map((f) => readings[i][f]),
      p.predictedFailureType,
      p.label,
      p.probability,
      p.failureProbability,
      ...p.probabilities.map((x) => x.probability),
      p.reconstructionError,
      p.anomalyThreshold,
      p.isAnomaly,
      p.modelVersion,
    ]
      .map(cell)
      .join(','),
  );
  return `${[header.join(','), ...lines].join('\n')}\n`;
}
