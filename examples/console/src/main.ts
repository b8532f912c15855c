import './style.css';
import { execute, GraphQLRequestError } from '../../../client/execute';
import {
  HealthDocument,
  ModelInfoDocument,
  PredictBatchDocument,
  PredictDocument,
  type ModelInfoQuery,
  type PredictionFieldsFragment,
  type ProductType,
  type SensorReadingInput,
} from '../../../client/generated/graphql';
import { readingsFromCsv, resultsToCsv } from './csv';
import examplesFile from './examples.json';

/** Same origin when served by the API at /console/; Vite's dev server proxies /graphql to the API. */
const API = import.meta.env.VITE_GRAPHQL_URL ?? '/graphql';

interface Example {
  udi: number;
  failureType: string;
  reading: SensorReadingInput;
}
const EXAMPLES = examplesFile.examples as Example[];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}
const pct = (p: number) => `${(p * 100).toFixed(1)} %`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const num = (x: number, digits = 4) => (Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(digits)).toString());

let model: ModelInfoQuery['modelInfo'] | undefined;

// ---- errors --------------------------------------------------------------------------------------

function showError(err: unknown): void {
  const box = $('error');
  box.replaceChildren();
  if (err instanceof GraphQLRequestError) {
    for (const e of err.errors) {
      const item = h('div', { class: 'error-item' }, h('strong', { class: 'code' }, e.extensions?.code ?? `HTTP ${err.status}`), ' ', e.message);
      const violations = e.extensions?.violations ?? [];
      if (violations.length > 0) {
        item.append(
          h(
            'ul',
            { class: 'violations' },
            ...violations.map((v) =>
              h('li', {}, `${v.row === undefined ? '' : `row ${v.row + 1}: `}${v.field} = ${JSON.stringify(v.value)} — ${v.constraint}${v.bound === undefined ? '' : ` (${v.bound})`}: ${v.message}`),
            ),
          ),
        );
      }
      box.append(item);
    }
  } else {
    box.append(h('div', { class: 'error-item' }, h('strong', { class: 'code' }, 'CLIENT'), ' ', err instanceof Error ? err.message : String(err)));
  }
  box.hidden = false;
}
function clearError(): void {
  $('error').hidden = true;
}

// ---- health and model ----------------------------------------------------------------------------

async function loadHealth(): Promise<void> {
  const pill = $('health');
  try {
    const { health } = await execute(API, HealthDocument);
    pill.dataset.state = health.status.toLowerCase();
    pill.textContent = `${health.status.toLowerCase()} · server ${health.serverVersion}${health.device ? ` · ${health.device}` : ''}`;
  } catch (err) {
    pill.dataset.state = 'failed';
    pill.textContent = 'API unreachable';
    showError(err);
  }
}

async function loadModel(): Promise<void> {
  try {
    ({ modelInfo: model } = await execute(API, ModelInfoDocument));
  } catch (err) {
    $('model').textContent = 'Model information is not available.';
    return showError(err);
  }
  const m = model;
  const f1 = (s: { mean: number; std: number } | null) => (s ? `${s.mean.toFixed(3)} ± ${s.std.toFixed(3)}` : '—');
  const facts: Array<[string, string]> = [
    ['Name', m.name],
    ['Version', m.version],
    ['Trained', m.createdAt],
    ['Device', `${m.device} (available: ${m.availableProviders.join(', ')})`],
    ['Anomaly threshold', `${num(m.anomalyThreshold)} — ${m.anomalyThresholdMethod}`],
    ['Macro F1', f1(m.metrics.macroF1)],
    ['Binary F1', f1(m.metrics.binaryF1)],
    ['Batching', `≤ ${m.batching.maxBatchSize} rows/run, ≤ ${m.batching.maxBatchRows} rows/call, ${plural(m.batching.runs, "run")} so far`],
    ['Data', m.dataLicence],
  ];
  const inputs = h(
    'table',
    { class: 'compact' },
    h('thead', {}, h('tr', {}, ...['Input', 'Dataset column', 'Unit', 'Training range'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      ...m.inputs.map((i) =>
        h('tr', {}, h('td', {}, i.field), h('td', {}, i.column), h('td', {}, i.unit), h('td', {}, i.trainingMin === null ? '—' : `${i.trainingMin} … ${i.trainingMax}`)),
      ),
    ),
  );
  $('model').replaceChildren(h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])), inputs);
}

// ---- single prediction ---------------------------------------------------------------------------

function readForm(form: HTMLFormElement): SensorReadingInput {
  const data = new FormData(form);
  const n = (name: string) => {
    const raw = String(data.get(name) ?? '').trim();
    // Sent as typed so the server's own validation answers (an empty field becomes NaN -> null -> error).
    return raw === '' ? Number.NaN : Number(raw);
  };
  return {
    airTemperature: n('airTemperature'),
    processTemperature: n('processTemperature'),
    rotationalSpeed: n('rotationalSpeed'),
    torque: n('torque'),
    toolWear: n('toolWear'),
    productType: String(data.get('productType')) as ProductType,
  };
}

function renderPrediction(p: PredictionFieldsFragment): void {
  const bars = h(
    'div',
    { class: 'bars', role: 'list', 'aria-label': 'Probability of each failure type' },
    ...p.probabilities.map((x) => {
      const fill = h('div', { class: 'bar-fill' });
      fill.style.width = `${Math.max(0, Math.min(1, x.probability)) * 100}%`;
      return h(
        'div',
        { class: `bar${x.failureType === p.predictedFailureType ? ' is-top' : ''}`, role: 'listitem', 'data-type': x.failureType },
        h('span', { class: 'bar-label' }, x.label),
        h('div', { class: 'bar-track' }, fill),
        h('span', { class: 'bar-value' }, pct(x.probability)),
      );
    }),
  );
  const ratio = p.reconstructionError / p.anomalyThreshold;
  const gaugeFill = h('div', { class: 'gauge-fill' });
  gaugeFill.style.width = `${Math.min(1, ratio / 2) * 100}%`;
  const anomaly = h(
    'div',
    { class: `anomaly ${p.isAnomaly ? 'is-anomaly' : 'is-normal'}`, id: 'anomaly' },
    h('strong', {}, p.isAnomaly ? 'Anomaly: outside the training envelope' : 'Within the training envelope'),
    h('div', { class: 'gauge', title: 'Reconstruction error; the mark is the threshold' }, gaugeFill, h('div', { class: 'gauge-mark' })),
    h('span', {}, `reconstruction error ${num(p.reconstructionError)} vs threshold ${num(p.anomalyThreshold)} (${ratio.toFixed(2)}×)`),
  );
  $('result').className = '';
  $('result').replaceChildren(
    h('div', { class: `verdict ${p.predictedFailureType === 'NO_FAILURE' ? 'ok' : 'warn'}` }, h('span', { id: 'predicted-label' }, p.label), h('small', {}, `${pct(p.probability)} · P(any failure) ${pct(p.failureProbability)}`)),
    bars,
    anomaly,
    h('p', { class: 'meta' }, `model ${p.modelVersion} on ${p.device}`),
  );
}

async function predict(form: HTMLFormElement): Promise<void> {
  const button = $<HTMLButtonElement>('predict');
  button.disabled = true;
  clearError();
  try {
    const { predict: p } = await execute(API, PredictDocument, { input: readForm(form) });
    renderPrediction(p);
    void loadModel(); // batching statistics moved
  } catch (err) {
    $('result').classList.add('stale'); // the answer shown is for an earlier reading
    showError(err);
  } finally {
    button.disabled = false;
  }
}

// ---- batch from CSV ------------------------------------------------------------------------------

let downloadUrl: string | undefined;

async function runCsv(file: File): Promise<void> {
  clearError();
  const status = $('batch-status');
  const table = $<HTMLTableElement>('batch-table');
  const link = $<HTMLAnchorElement>('download');
  table.hidden = true;
  link.hidden = true;
  let readings: SensorReadingInput[];
  try {
    readings = readingsFromCsv(await file.text());
  } catch (err) {
    status.textContent = '';
    return showError(err);
  }
  // Calls of at most maxBatchRows readings each (one call for most files).
  const chunk = model?.batching.maxBatchRows ?? 1000;
  const predictions: PredictionFieldsFragment[] = [];
  try {
    for (let i = 0; i < readings.length; i += chunk) {
      status.textContent = `Scoring rows ${i + 1}–${Math.min(readings.length, i + chunk)} of ${readings.length}…`;
      const { predictBatch } = await execute(API, PredictBatchDocument, { inputs: readings.slice(i, i + chunk) });
      predictions.push(...predictBatch);
    }
  } catch (err) {
    status.textContent = 'The batch was rejected.';
    return showError(err);
  }
  const anomalies = predictions.filter((p) => p.isAnomaly).length;
  const failures = predictions.filter((p) => p.predictedFailureType !== 'NO_FAILURE').length;
  status.textContent = `${plural(predictions.length, 'reading')} scored: ${plural(failures, 'predicted failure')}, ${anomalies} ${anomalies === 1 ? 'anomaly' : 'anomalies'}.`;
  void loadModel(); // batching statistics moved
  table.replaceChildren(
    h('thead', {}, h('tr', {}, ...['#', 'Air K', 'Process K', 'rpm', 'Nm', 'Wear min', 'Type', 'Prediction', 'P', 'Anomaly'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      ...predictions.map((p, i) => {
        const r = readings[i];
        return h(
          'tr',
          { class: p.predictedFailureType === 'NO_FAILURE' ? '' : 'failure' },
          ...[String(i + 1), r.airTemperature, r.processTemperature, r.rotationalSpeed, r.torque, r.toolWear, r.productType, p.label, pct(p.probability), p.isAnomaly ? 'yes' : 'no'].map(
            (v) => h('td', {}, String(v)),
          ),
        );
      }),
    ),
  );
  table.hidden = false;
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([resultsToCsv(readings, predictions)], { type: 'text/csv' }));
  link.href = downloadUrl;
  link.download = `${file.name.replace(/\.csv$/i, '')}-predictions.csv`;
  link.hidden = false;
}

// ---- wiring --------------------------------------------------------------------------------------

function init(): void {
  const form = $<HTMLFormElement>('reading-form');
  const select = $<HTMLSelectElement>('example');
  EXAMPLES.forEach((e, i) => select.append(h('option', { value: String(i) }, `${e.failureType.toLowerCase().replace(/_/g, ' ')} — UDI ${e.udi} (${e.reading.productType})`)));
  select.addEventListener('change', () => {
    const e = EXAMPLES[Number(select.value)];
    if (!select.value || !e) return;
    for (const [k, v] of Object.entries(e.reading)) (form.elements.namedItem(k) as HTMLInputElement | HTMLSelectElement).value = String(v);
    void predict(form);
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void predict(form);
  });
  $<HTMLInputElement>('csv').addEventListener('change', (ev) => {
    const file = (ev.target as HTMLInputElement).files?.[0];
    if (file) void runCsv(file);
  });
  $('attribution').textContent = `Examples: ${examplesFile.source}`;
  void loadHealth();
  void loadModel();
}

init();
