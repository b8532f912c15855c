import './style.css';
import { execute, GraphQLRequestError, type GraphQLErrorPayload } from '../../../client/execute';
import {
  ExplainPredictionDocument,
  HealthDocument,
  ModelHealthDocument,
  ModelInfoDocument,
  PredictBatchDocument,
  type ExplanationFieldsFragment,
  type ModelHealthQuery,
  type ModelInfoQuery,
  type PredictionFieldsFragment,
  type ProductType,
  type SensorReadingInput,
} from '../../../client/generated/graphql';
import { readingsFromCsv, resultsToCsv } from './csv';
import examplesFile from './examples.json';
import { celsiusHint, checkReading, FIELD_SPECS, specByEnum, specByField, type FieldProblem, type NumericField } from './fields';

/** Same origin when served by the API at /console/; Vite's dev server proxies /graphql to the API. */
const API = import.meta.env.VITE_GRAPHQL_URL ?? '/graphql';

interface Example {
  udi: number;
  failureType: string;
  reading: SensorReadingInput;
}
const EXAMPLES = examplesFile.examples as Example[];
type Violation = NonNullable<NonNullable<GraphQLErrorPayload['extensions']>['violations']>[number];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}
const pct = (p: number) => `${(p * 100).toFixed(1)} %`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const num = (x: number, digits = 4) => (Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(digits)).toString());
/** "0.42×", "3.1×", "39,120×": the anomaly score as a multiple of the threshold. */
const multiple = (r: number) => `${r < 10 ? Number(r.toPrecision(2)) : Math.round(r).toLocaleString('en')}×`;

let model: ModelInfoQuery['modelInfo'] | undefined;

// ---- errors and field highlighting --------------------------------------------------------------

function violationText(v: Violation): string {
  return `${v.row === undefined ? '' : `row ${v.row + 1}: `}${v.field} = ${JSON.stringify(v.value)} — ${v.constraint}${v.bound === undefined ? '' : ` (${v.bound})`}: ${v.message}`;
}

/** Every error of the response, each with every violation it carries. */
function showError(err: unknown): void {
  const box = $('error');
  box.replaceChildren();
  if (err instanceof GraphQLRequestError) {
    for (const e of err.errors) {
      const item = h(
        'div',
        { class: 'error-item' },
        h('strong', { class: 'code' }, e.extensions?.code ?? `HTTP ${err.status}`),
        ' ',
        e.message,
      );
      const violations = e.extensions?.violations ?? [];
      if (violations.length > 0) item.append(h('ul', { class: 'violations' }, ...violations.map((v) => h('li', {}, violationText(v)))));
      box.append(item);
    }
  } else {
    box.append(
      h('div', { class: 'error-item' }, h('strong', { class: 'code' }, 'CLIENT'), ' ', err instanceof Error ? err.message : String(err)),
    );
  }
  box.hidden = false;
}

/** The page's own check found problems: nothing was sent. */
function showProblems(problems: FieldProblem[]): void {
  $('error').replaceChildren(
    h(
      'div',
      { class: 'error-item' },
      h('strong', { class: 'code' }, 'NOT SENT'),
      ` ${plural(problems.length, 'field')} to fix before the reading can be scored:`,
      h(
        'ul',
        { class: 'violations' },
        ...problems.map((p) => h('li', {}, `${p.field} = ${JSON.stringify(p.value)} — ${p.constraint}: ${p.message}`)),
      ),
    ),
  );
  $('error').hidden = false;
}

function clearError(): void {
  $('error').hidden = true;
}

function formInput(field: string): HTMLInputElement | undefined {
  const el = $<HTMLFormElement>('reading-form').elements.namedItem(field);
  return el instanceof HTMLInputElement ? el : undefined;
}

function markField(field: string, message: string): void {
  const input = formInput(field);
  if (!input) return;
  input.classList.add('invalid');
  input.setAttribute('aria-invalid', 'true');
  input.title = message;
}

function unmarkField(input: HTMLInputElement): void {
  input.classList.remove('invalid');
  input.removeAttribute('aria-invalid');
  input.removeAttribute('title');
}

function clearMarks(): void {
  for (const s of FIELD_SPECS) {
    const input = formInput(s.field);
    if (input) unmarkField(input);
  }
}

/** Highlights the form fields the server's violations name (single-reading violations carry no row). */
function markViolations(err: unknown): void {
  if (!(err instanceof GraphQLRequestError)) return;
  for (const e of err.errors) for (const v of e.extensions?.violations ?? []) if (v.row === undefined) markField(v.field, v.message);
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
    // The provider the session runs on; onnxruntime's list of providers it was built with says nothing
    // about what this machine can use (it names cuda and tensorrt on CPU-only hosts).
    ['Provider', m.device],
    ['Anomaly threshold', `${num(m.anomalyThreshold)} — ${m.anomalyThresholdMethod}`],
    ['Macro F1', f1(m.metrics.macroF1)],
    ['Binary F1', f1(m.metrics.binaryF1)],
    ['Batching', `≤ ${m.batching.maxBatchSize} rows/run, ≤ ${m.batching.maxBatchRows} rows/call, ${plural(m.batching.runs, 'run')} so far`],
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
        h(
          'tr',
          {},
          h('td', {}, i.field),
          h('td', {}, i.column),
          h('td', {}, i.unit),
          h('td', {}, i.trainingMin === null ? '—' : `${i.trainingMin} … ${i.trainingMax}`),
        ),
      ),
    ),
  );
  $('model').replaceChildren(
    h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-fact': k }, v)])),
    h('div', { class: 'table-scroll' }, inputs),
  );
  void loadModelHealth(); // predictions and batches refresh the model panel: drift and shadow moved too
}

// ---- model health: drift and shadow --------------------------------------------------------------

type DriftInfo = ModelHealthQuery['modelInfo']['drift'];
type ShadowInfo = NonNullable<ModelHealthQuery['modelInfo']['shadow']>;

const STATUS_TEXT: Record<DriftInfo['fields'][number]['status'], string> = {
  INSUFFICIENT_DATA: 'insufficient data',
  NONE: 'no drift',
  MODERATE: 'moderate drift',
  SIGNIFICANT: 'significant drift',
};
const failureLabel = (t: string) => model?.failureTypes.find((f) => f.failureType === t)?.label ?? t;
const psiText = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(3));
const factList = (items: Array<[string, string]>) =>
  h('dl', { class: 'facts' }, ...items.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-fact': k }, v)]));

/**
 * One bar per reading: its PSI on a linear scale up to twice DRIFT_PSI_SIGNIFICANT (larger values fill
 * the track and say so), the two thresholds drawn as lines, the number and the verdict written beside it.
 */
function renderDrift(d: DriftInfo): HTMLElement {
  const top = 2 * d.psiSignificant;
  const at = (x: number) => `${Math.max(0, Math.min(1, x / top)) * 100}%`;
  const rows = d.fields.map((f) => {
    const spec = specByEnum(f.field);
    const fill = h('div', { class: 'psi-fill' });
    fill.style.width = at(f.psi);
    const lines = (
      [
        ['moderate', d.psiModerate],
        ['significant', d.psiSignificant],
      ] as const
    ).map(([name, x]) => {
      const line = h('div', { class: 'psi-threshold', 'data-threshold': name, title: `${name}: PSI ${x}` });
      line.style.left = at(x);
      return line;
    });
    const insufficient = f.status === 'INSUFFICIENT_DATA';
    return h(
      'div',
      {
        class: 'psi',
        role: 'listitem',
        'data-field': f.field,
        'data-status': f.status,
        'data-psi': String(f.psi),
      },
      h('span', { class: 'psi-label' }, spec.label),
      h('div', { class: `psi-track${f.psi > top ? ' beyond' : ''}`, 'aria-hidden': 'true' }, fill, ...lines),
      h(
        'span',
        { class: 'psi-value', ...(insufficient ? { title: `Not a verdict: fewer than ${d.minRows} rows in the window` } : {}) },
        `PSI ${psiText(f.psi)}`,
      ),
      h('span', { class: 'psi-status', 'data-status': f.status }, STATUS_TEXT[f.status]),
    );
  });
  const mix = h(
    'table',
    { class: 'compact', id: 'class-mix' },
    h('caption', {}, 'Predicted failure types in the window vs the training labels'),
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Failure type'), h('th', { scope: 'col' }, 'Live'), h('th', { scope: 'col' }, 'Training')),
    ),
    h(
      'tbody',
      {},
      ...d.classMix.map((c) =>
        h(
          'tr',
          { 'data-type': c.failureType },
          h('th', { scope: 'row' }, failureLabel(c.failureType)),
          h('td', { 'data-share': 'live' }, d.windowRows > 0 ? pct(c.live) : '—'),
          h('td', { 'data-share': 'training' }, pct(c.training)),
        ),
      ),
    ),
  );
  const waiting = d.windowRows < d.minRows;
  return h(
    'div',
    {},
    factList([
      ['Window', `${d.windowRows.toLocaleString('en')} of ${d.windowSize.toLocaleString('en')} rows`],
      ['Rows seen', d.rowsSeen.toLocaleString('en')],
      ['Anomaly rate', `${pct(d.anomalyRate)} vs ${pct(d.trainingAnomalyRate)} in training`],
      ['PSI thresholds', `moderate ${d.psiModerate}, significant ${d.psiSignificant}`],
    ]),
    h('h3', {}, 'Input drift: PSI per reading'),
    h(
      'p',
      { class: 'hint' },
      waiting
        ? `Insufficient data: verdicts start at ${d.minRows.toLocaleString('en')} rows in the window (${d.windowRows.toLocaleString('en')} so far).`
        : `Population Stability Index of the window against the training data; the lines mark moderate (${d.psiModerate}) and significant (${d.psiSignificant}) drift.`,
    ),
    h('div', { role: 'list', 'aria-label': 'Drift of each reading', class: 'psi-list' }, ...rows),
    h('h3', {}, 'Class mix'),
    h('div', { class: 'table-scroll' }, mix),
  );
}

function renderShadow(s: ShadowInfo | null): HTMLElement {
  if (!s) {
    return h(
      'p',
      { class: 'empty', 'data-state': 'none' },
      'No shadow model is loaded. Start the server with ',
      h('code', {}, 'SHADOW_MODEL_DIR'),
      ' set to a model directory to score a sample of live rows with it and compare its answers here.',
    );
  }
  const pairs =
    s.disagreements.length === 0
      ? h(
          'p',
          { class: 'hint', id: 'shadow-disagreements' },
          'No disagreements: both models predicted the same failure type on every compared row.',
        )
      : h(
          'div',
          { class: 'table-scroll' },
          h(
            'table',
            { class: 'compact', id: 'shadow-disagreements' },
            h('caption', {}, 'Rows on which the two models predicted different failure types'),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Primary said'),
                h('th', { scope: 'col' }, 'Shadow said'),
                h('th', { scope: 'col' }, 'Rows'),
              ),
            ),
            h(
              'tbody',
              {},
              ...s.disagreements.map((x) =>
                h(
                  'tr',
                  { 'data-primary': x.primary, 'data-shadow': x.shadow },
                  h('td', {}, failureLabel(x.primary)),
                  h('td', {}, failureLabel(x.shadow)),
                  h('td', {}, x.rows.toLocaleString('en')),
                ),
              ),
            ),
          ),
        );
  return h(
    'div',
    { 'data-state': 'loaded' },
    factList([
      ['Shadow version', s.version],
      ['Rows compared', s.rowsCompared.toLocaleString('en')],
      ['Agreement', pct(s.agreement)],
      ['Anomaly agreement', pct(s.anomalyAgreement)],
      ['Mean |Δ probability|', s.meanAbsProbabilityDelta.toFixed(4)],
    ]),
    h('h3', {}, 'Disagreements'),
    pairs,
  );
}

let healthInFlight = false;
let healthAgain = false;
/**
 * The drift and shadow panels, from one free (no rate-limit budget) ModelHealth query. A call while one
 * is in flight asks again once it is done (its answer may predate what the caller just changed).
 */
async function loadModelHealth(): Promise<void> {
  if (healthInFlight) {
    healthAgain = true;
    return;
  }
  healthInFlight = true;
  healthAgain = false;
  try {
    const { modelInfo } = await execute(API, ModelHealthDocument);
    $('drift').replaceChildren(renderDrift(modelInfo.drift));
    $('shadow').replaceChildren(renderShadow(modelInfo.shadow));
    $('drift').dataset.updated = $('shadow').dataset.updated = String(Date.now());
  } catch {
    // The model panel and the health pill already report an unreachable API; keep the last panels.
    $('drift').classList.add('stale');
    $('shadow').classList.add('stale');
    return;
  } finally {
    healthInFlight = false;
    if (healthAgain) void loadModelHealth();
  }
  $('drift').classList.remove('stale');
  $('shadow').classList.remove('stale');
}

/** Every 5 s while the tab is visible; none while it is hidden, and a fresh look when it shows again. */
const HEALTH_POLL_MS = 5_000;
let healthTimer: ReturnType<typeof setInterval> | undefined;
function pollModelHealth(): void {
  const sync = () => {
    if (document.hidden) {
      clearInterval(healthTimer);
      healthTimer = undefined;
    } else if (healthTimer === undefined) {
      healthTimer = setInterval(() => void loadModelHealth(), HEALTH_POLL_MS);
      void loadModelHealth();
    }
  };
  document.addEventListener('visibilitychange', sync);
  sync();
}

// ---- single prediction ---------------------------------------------------------------------------

function rawForm(form: HTMLFormElement): Record<NumericField, string> {
  const data = new FormData(form);
  return Object.fromEntries(FIELD_SPECS.map((s) => [s.field, String(data.get(s.field) ?? '')])) as Record<NumericField, string>;
}

function readForm(form: HTMLFormElement): SensorReadingInput {
  const raw = rawForm(form);
  return {
    airTemperature: Number(raw.airTemperature),
    processTemperature: Number(raw.processTemperature),
    rotationalSpeed: Number(raw.rotationalSpeed),
    torque: Number(raw.torque),
    toolWear: Number(raw.toolWear),
    productType: String(new FormData(form).get('productType')) as ProductType,
  };
}

/** Why an anomalous prediction cannot be trusted: the out-of-range readings, with units hints. */
function outOfRangeList(p: PredictionFieldsFragment): HTMLElement {
  return h(
    'ul',
    { class: 'out-of-range' },
    ...p.outOfRange.map((o) => {
      const spec = specByEnum(o.field);
      const hint = celsiusHint(spec, o.value);
      return h(
        'li',
        { 'data-field': spec.field },
        h('strong', {}, spec.field),
        ` = ${o.value} ${spec.unit}, trained on ${o.trainingMin} … ${o.trainingMax} ${spec.unit}`,
        ...(hint ? [' — ', h('span', { class: 'units-hint' }, hint)] : []),
      );
    }),
  );
}

function renderVerdict(p: PredictionFieldsFragment): HTMLElement {
  const said = `${p.label} ${pct(p.probability)}`;
  if (!p.isAnomaly) {
    const verdict = h(
      'div',
      { class: `verdict ${p.predictedFailureType === 'NO_FAILURE' ? 'ok' : 'warn'}`, id: 'verdict', 'data-reliable': 'true' },
      h('span', { id: 'predicted-label' }, p.label),
      h('small', {}, `${pct(p.probability)} · P(any failure) ${pct(p.failureProbability)}`),
    );
    if (p.outOfRange.length > 0)
      verdict.append(h('p', { class: 'caution' }, 'Outside the training range, though not enough to flag an anomaly:'), outOfRangeList(p));
    return verdict;
  }
  const why =
    p.outOfRange.length > 0
      ? `${plural(p.outOfRange.length, 'reading')} outside what the model was trained on:`
      : 'Every reading is within its training range, but their combination is unlike the training data.';
  return h(
    'div',
    { class: 'verdict unreliable', id: 'verdict', 'data-reliable': 'false' },
    h('span', { id: 'predicted-label' }, 'Unreliable prediction'),
    h(
      'small',
      {},
      `The model's answer (${said}) cannot be trusted for this reading: it is ${multiple(p.reconstructionError / p.anomalyThreshold)} the anomaly threshold.`,
    ),
    h('p', { class: 'why' }, why),
    ...(p.outOfRange.length > 0 ? [outOfRangeList(p)] : []),
  );
}

/**
 * Reconstruction error over the threshold on a log scale from 0.1× to 1000×, so 5× and 39,000× look
 * different (a linear gauge capped at 2× showed both full).
 */
function renderGauge(p: PredictionFieldsFragment): HTMLElement {
  const ratio = p.reconstructionError / p.anomalyThreshold;
  const LOW = -1;
  const DECADES = 4;
  const at = (r: number) => Math.max(0, Math.min(1, (Math.log10(Math.max(r, 1e-12)) - LOW) / DECADES));
  const fill = h('div', { class: 'gauge-fill' });
  fill.style.width = `${at(ratio) * 100}%`;
  const ticks = [1, 10, 100, 1000].map((t) => {
    const tick = h('span', { class: 'gauge-tick' }, t === 1000 ? '1000×+' : `${t}×`);
    tick.style.left = `${at(t) * 100}%`;
    return tick;
  });
  const mark = h('div', { class: 'gauge-mark' });
  mark.style.left = `${at(1) * 100}%`;
  return h(
    'div',
    { class: `anomaly ${p.isAnomaly ? 'is-anomaly' : 'is-normal'}`, id: 'anomaly' },
    h('strong', {}, p.isAnomaly ? 'Anomaly: outside the training envelope' : 'Within the training envelope'),
    h(
      'div',
      {
        class: 'gauge',
        id: 'gauge',
        'data-ratio': String(ratio),
        title: 'Reconstruction error over the threshold, log scale; the mark is the threshold',
      },
      fill,
      mark,
      ...ticks,
    ),
    h(
      'span',
      { id: 'gauge-label' },
      `${multiple(ratio)} the threshold — reconstruction error ${num(p.reconstructionError)} vs threshold ${num(p.anomalyThreshold)}`,
    ),
  );
}

/** The five drivers as a signed bar chart: right of zero pushes towards failure, left away from it. */
function renderDrivers(x: ExplanationFieldsFragment): HTMLElement {
  // Effects are differences of probabilities; scale to the largest, but never blow 0.01 up to full width.
  const scale = Math.max(0.05, ...x.drivers.map((d) => Math.abs(d.effect)));
  const rows = x.drivers.map((d) => {
    const spec = specByEnum(d.field);
    const sign = d.effect > 0 ? 'positive' : d.effect < 0 ? 'negative' : 'zero';
    const bar = h('div', { class: 'driver-bar' });
    bar.style.width = `${(Math.abs(d.effect) / scale) * 50}%`;
    return h(
      'div',
      { class: 'driver', role: 'listitem', 'data-field': d.field, 'data-sign': sign, 'data-effect': String(d.effect) },
      h('span', { class: 'driver-label' }, spec.label, h('small', {}, `${num(d.value)} vs ${num(d.reference)} ${spec.unit}`)),
      h('div', { class: 'driver-track' }, h('div', { class: 'driver-zero' }), bar),
      h('span', { class: 'driver-value' }, `${d.effect > 0 ? '+' : d.effect < 0 ? '−' : '±'}${(Math.abs(d.effect) * 100).toFixed(1)} pp`),
    );
  });
  const quantities: Array<[string, string, string]> = [
    ['temperatureDifference', 'Temperature difference', `${num(x.temperatureDifference)} K`],
    ['power', 'Power', `${num(x.power)} W`],
    ['strain', 'Strain (wear × torque)', `${num(x.strain)} min·Nm`],
  ];
  return h(
    'div',
    { class: 'drivers', id: 'drivers' },
    h('h3', {}, 'Why: drivers'),
    h(
      'p',
      { class: 'hint' },
      'Change in P(any failure) if each reading were at its typical value for this product type; right of zero pushes towards failure.',
    ),
    h('div', { role: 'list', 'aria-label': 'Effect of each reading on the failure probability' }, ...rows),
    h(
      'dl',
      { class: 'quantities', id: 'quantities' },
      ...quantities.flatMap(([key, k, v]) => [h('dt', {}, k), h('dd', { 'data-quantity': key }, v)]),
    ),
    h(
      'p',
      { class: 'note' },
      'Explanations cost 6 readings of the rate-limit row budget per reading (the reading and its five one-field variants); batch scoring does not ask for them.',
    ),
  );
}

function renderPrediction(p: PredictionFieldsFragment & { explanation: ExplanationFieldsFragment }): void {
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
  $('result').className = '';
  $('result').replaceChildren(
    renderVerdict(p),
    h('div', { class: 'explain' }, h('div', {}, h('h3', {}, 'Probabilities'), bars), renderDrivers(p.explanation)),
    renderGauge(p),
    h('p', { class: 'meta' }, `model ${p.modelVersion} on ${p.device}`),
  );
}

async function predict(form: HTMLFormElement): Promise<void> {
  clearMarks();
  clearError();
  const problems = checkReading(rawForm(form));
  if (problems.length > 0) {
    for (const p of problems) markField(p.field, p.message);
    $('result').classList.add('stale');
    return showProblems(problems);
  }
  const button = $<HTMLButtonElement>('predict');
  button.disabled = true;
  try {
    // The single-reading view asks for the explanation (6 readings of row budget); batches do not.
    const { predict: p } = await execute(API, ExplainPredictionDocument, { input: readForm(form) });
    renderPrediction(p);
    void loadModel(); // batching statistics moved
  } catch (err) {
    $('result').classList.add('stale'); // the answer shown is for an earlier reading
    markViolations(err);
    showError(err);
  } finally {
    button.disabled = false;
  }
}

// ---- batch from CSV ------------------------------------------------------------------------------

let downloadUrl: string | undefined;
const READING_HEADERS = ['#', 'Air K', 'Process K', 'rpm', 'Nm', 'Wear min', 'Type'];
const readingCells = (r: SensorReadingInput, i: number) => [String(i + 1), ...FIELD_SPECS.map((s) => String(r[s.field])), r.productType];

/** A rejected batch: the readings with the cells the server's violations name highlighted. */
function renderRejected(readings: SensorReadingInput[], err: unknown): void {
  const bad = new Map<number, Map<string, string>>();
  if (err instanceof GraphQLRequestError) {
    for (const e of err.errors)
      for (const v of e.extensions?.violations ?? []) {
        if (v.row === undefined) continue;
        if (!bad.has(v.row)) bad.set(v.row, new Map());
        bad.get(v.row)!.set(v.field, v.message);
      }
  }
  if (bad.size === 0) return;
  const table = $<HTMLTableElement>('batch-table');
  const fields = ['#', ...FIELD_SPECS.map((s) => s.field), 'productType'];
  table.replaceChildren(
    h('thead', {}, h('tr', {}, ...READING_HEADERS.map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      ...[...bad.keys()]
        .sort((a, b) => a - b)
        .map((row) =>
          h(
            'tr',
            { class: 'rejected', 'data-row': String(row) },
            ...readingCells(readings[row], row).map((text, c) => {
              const message = bad.get(row)!.get(fields[c]);
              return h('td', message ? { class: 'invalid', 'data-field': fields[c], title: message } : {}, text);
            }),
          ),
        ),
    ),
  );
  table.hidden = false;
}

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
  // Calls of at most maxBatchRows readings each (one call for most files). No explanations here:
  // each would cost 6 readings of the row budget.
  const chunk = model?.batching.maxBatchRows ?? 1000;
  const predictions: PredictionFieldsFragment[] = [];
  for (let i = 0; i < readings.length; i += chunk) {
    const part = readings.slice(i, i + chunk);
    status.textContent = `Scoring rows ${i + 1}–${i + part.length} of ${readings.length}…`;
    try {
      const { predictBatch } = await execute(API, PredictBatchDocument, { inputs: part });
      predictions.push(...predictBatch);
    } catch (err) {
      status.textContent = `The batch was rejected (rows ${i + 1}–${i + part.length}); the readings the server named are below.`;
      if (err instanceof GraphQLRequestError) {
        // Violation rows count from the start of this call; shift them to the file's rows.
        for (const e of err.errors) for (const v of e.extensions?.violations ?? []) if (v.row !== undefined) v.row += i;
      }
      renderRejected(readings, err);
      return showError(err);
    }
  }
  const anomalies = predictions.filter((p) => p.isAnomaly).length;
  const failures = predictions.filter((p) => !p.isAnomaly && p.predictedFailureType !== 'NO_FAILURE').length;
  status.textContent = `${plural(predictions.length, 'reading')} scored: ${plural(failures, 'predicted failure')}, ${anomalies} unreliable (${anomalies === 1 ? 'anomaly' : 'anomalies'}).`;
  void loadModel(); // batching statistics moved
  table.replaceChildren(
    // The verdict comes first so it stays in view on a narrow screen, where the readings scroll.
    h('thead', {}, h('tr', {}, ...['#', 'Verdict', 'P', 'Anomaly', ...READING_HEADERS.slice(1)].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      ...predictions.map((p, i) => {
        const ratio = p.reconstructionError / p.anomalyThreshold;
        const verdict = p.isAnomaly
          ? `Unreliable${p.outOfRange.length > 0 ? `: ${p.outOfRange.map((o) => `${specByEnum(o.field).field} out of range`).join(', ')}` : ': unusual combination'} (model says ${p.label})`
          : p.label;
        const cls = p.isAnomaly ? 'anomalous' : p.predictedFailureType === 'NO_FAILURE' ? '' : 'failure';
        return h(
          'tr',
          { class: cls },
          ...[
            String(i + 1),
            verdict,
            pct(p.probability),
            p.isAnomaly ? `yes, ${multiple(ratio)}` : 'no',
            ...readingCells(readings[i], i).slice(1),
          ].map((v) => h('td', {}, v)),
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
  // The bounds the page checks, on the inputs themselves (and for the browser test to compare).
  for (const s of FIELD_SPECS) {
    const input = formInput(s.field)!;
    input.dataset.min = String(s.min);
    input.dataset.minExclusive = String(s.minExclusive);
    input.dataset.max = String(s.max);
  }
  EXAMPLES.forEach((e, i) =>
    select.append(
      h('option', { value: String(i) }, `${e.failureType.toLowerCase().replace(/_/g, ' ')} — UDI ${e.udi} (${e.reading.productType})`),
    ),
  );
  select.addEventListener('change', () => {
    const e = EXAMPLES[Number(select.value)];
    if (!select.value || !e) return;
    for (const [k, v] of Object.entries(e.reading)) (form.elements.namedItem(k) as HTMLInputElement | HTMLSelectElement).value = String(v);
    void predict(form);
  });
  // An edited example is no longer that dataset row: back to the neutral "custom reading" entry.
  form.addEventListener('input', (ev) => {
    select.value = '';
    if (ev.target instanceof HTMLInputElement && specByField(ev.target.name)) unmarkField(ev.target);
  });
  form.addEventListener('change', () => {
    select.value = '';
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
  pollModelHealth();
}

init();
