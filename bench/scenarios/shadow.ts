/**
 * Shadow scoring's cost (docs/shadow.md, issue 24): three API processes in the same run, rounds rotating
 * between them: no shadow, SHADOW_MODEL_DIR set to the primary's own model directory with
 * SHADOW_SAMPLE_RATE=1.0 (every row scored twice), and the same at 0.1. Scenarios: `predict` at 64
 * connections and `predictBatch` with 1,000 rows at 8 connections (as drift's). Throughput and p99 of each,
 * as ratios to no shadow, and what the shadow did meanwhile: rows the primary scored (`modelInfo { batching
 * { rows } }`), rows the shadow compared (`modelInfo { shadow { rowsCompared } }` and `pm_shadow_rows_total`)
 * and dropped (`pm_shadow_dropped_rows_total{reason}` from /metrics). `npm run bench -- --only shadow`;
 * part of every full and --quick run. A full run rewrites the `shadow` section of docs/benchmarks.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpText } from '../lib/net';
import { post, predictBatchBody, predictBody } from '../lib/requests';
import { compareOn, round, startAll, type ComparisonHarness, type VariantComparison } from '../lib/variants';

export interface ShadowHarness<P> extends ComparisonHarness<P> {
  /** The port a started server listens on (its GraphQL path is /graphql, its metrics /metrics). */
  port(p: P): number;
  /** The primary's model directory: the shadow scores with the same model, so the extra work is exactly one more run. */
  modelDir: string;
  /** Rewrite the docs/benchmarks.md section (full runs only). */
  splice?(name: string, text: string): void;
}

/** What a server's counters say; differences over a scenario are reported. */
interface ShadowCounters {
  primaryRows: number;
  /** `modelInfo { shadow { rowsCompared } }`: 0 without a shadow. */
  rowsCompared: number;
  /** `pm_shadow_rows_total`. */
  metricRows: number;
  /** `pm_shadow_dropped_rows_total` by reason. */
  dropped: Record<string, number>;
}

export interface ShadowServerResult {
  name: string;
  sampleRate: number | null;
  perSecond: number;
  p50: number;
  p99: number;
  /** Median over rounds of this server's throughput / no shadow's in the same round. */
  ratio: number;
  /** Over the whole scenario (check, warm-up, rounds). */
  primaryRows: number;
  rowsCompared: number;
  dropped: Record<string, number>;
}

export interface ShadowScenarioResult {
  id: string;
  unit: 'req/s' | 'rows/s';
  servers: ShadowServerResult[];
  failures: number;
}

const SHADOW_QUERY = '{ modelInfo { batching { rows } shadow { rowsCompared } } }';

async function counters(port: number): Promise<ShadowCounters> {
  const q = await post(port, '/graphql', JSON.stringify({ query: SHADOW_QUERY }));
  const info = q.body?.data?.modelInfo;
  if (q.status !== 200 || !info) throw new Error(`cannot read modelInfo on port ${port}: HTTP ${q.status} ${q.text.slice(0, 300)}`);
  const m = await httpText(port, '/metrics');
  if (m.status !== 200) throw new Error(`GET /metrics on port ${port}: HTTP ${m.status}`);
  let metricRows = 0;
  const dropped: Record<string, number> = {};
  for (const line of m.text.split('\n')) {
    const rows = /^pm_shadow_rows_total(?:\{\})? (\S+)$/.exec(line);
    if (rows) metricRows = Number(rows[1]);
    const drop = /^pm_shadow_dropped_rows_total\{reason="(\w+)"\} (\S+)$/.exec(line);
    if (drop) dropped[drop[1]] = Number(drop[2]);
  }
  return { primaryRows: info.batching.rows, rowsCompared: info.shadow?.rowsCompared ?? 0, metricRows, dropped };
}

/** Counters once the shadow's queue has drained (its runs trail the primary's answers): two equal readings 250 ms apart, 10 s at most. */
async function settledCounters(port: number): Promise<ShadowCounters> {
  let last = await counters(port);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await sleep(250);
    const now = await counters(port);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  return last;
}

const diff = (a: ShadowCounters, b: ShadowCounters): ShadowCounters => ({
  primaryRows: b.primaryRows - a.primaryRows,
  rowsCompared: b.rowsCompared - a.rowsCompared,
  metricRows: b.metricRows - a.metricRows,
  dropped: Object.fromEntries(Object.entries(b.dropped).map(([k, v]) => [k, v - (a.dropped[k] ?? 0)])),
});
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, n) => a + n, 0);

export async function shadowComparison<P>(h: ShadowHarness<P>): Promise<ShadowScenarioResult[]> {
  const variants: Array<{ name: string; sampleRate: number | null; env: Record<string, string> }> = [
    { name: 'api-shadow-none', sampleRate: null, env: {} },
    { name: 'api-shadow-1.0', sampleRate: 1, env: { SHADOW_MODEL_DIR: h.modelDir, SHADOW_SAMPLE_RATE: '1.0' } },
    { name: 'api-shadow-0.1', sampleRate: 0.1, env: { SHADOW_MODEL_DIR: h.modelDir, SHADOW_SAMPLE_RATE: '0.1' } },
  ];
  const scenarios = [
    { id: 'shadow-predict-c64', body: predictBody(), rows: 1, connections: 64 },
    { id: 'shadow-batch-1000-c8', body: predictBatchBody(1000), rows: 1000, connections: 8 },
  ];
  const servers = await startAll(h, variants);
  const results: ShadowScenarioResult[] = [];
  try {
    for (const s of scenarios) {
      const before = await Promise.all(servers.map((p) => settledCounters(h.port(p))));
      const c: VariantComparison = await compareOn(h, servers, 0, s);
      const after = await Promise.all(servers.map((p) => settledCounters(h.port(p))));
      const result: ShadowScenarioResult = {
        id: s.id,
        unit: c.unit,
        failures: c.failures,
        servers: variants.map((v, i) => {
          const d = diff(before[i], after[i]);
          if (v.sampleRate !== null && d.rowsCompared !== d.metricRows) {
            console.warn(`  ${v.name}: modelInfo says ${d.rowsCompared} rows compared, pm_shadow_rows_total ${d.metricRows}`);
          }
          return {
            name: v.name,
            sampleRate: v.sampleRate,
            ...c.summaries[i],
            ratio: c.ratios[i],
            primaryRows: d.primaryRows,
            rowsCompared: d.rowsCompared,
            dropped: d.dropped,
          };
        }),
      };
      results.push(result);
      const fmt = (r: ShadowServerResult) =>
        `${r.sampleRate === null ? 'no shadow' : `rate ${r.sampleRate.toFixed(1)}`} ${round(r.perSecond, 0)} ${c.unit} p50 ${r.p50} ms p99 ${r.p99} ms` +
        (r.sampleRate === null
          ? ''
          : ` (${round(r.ratio)}x; ${r.rowsCompared} of ${r.primaryRows} rows compared, ${sum(r.dropped)} dropped${sum(r.dropped) > 0 ? ` ${JSON.stringify(r.dropped)}` : ''})`);
      console.log(
        `${s.id}: ${result.servers.map(fmt).join(' | ')} | failures ${c.failures}${h.quick ? ' (quick run: indicative only)' : ''}`,
      );
    }
  } finally {
    for (const p of servers) await h.stop(p);
  }
  const date = new Date().toISOString();
  mkdirSync(h.resultsDir, { recursive: true });
  writeFileSync(
    path.join(h.resultsDir, 'shadow.json'),
    JSON.stringify(
      {
        date,
        mode: h.quick ? 'quick' : 'full',
        warmupSeconds: h.warmupSeconds,
        rounds: h.rounds,
        durationSeconds: h.durationSeconds,
        results,
      },
      null,
      2,
    ),
  );
  if (!h.quick && h.splice) {
    h.splice(
      'shadow',
      shadowMarkdown({ date, warmupSeconds: h.warmupSeconds, rounds: h.rounds, durationSeconds: h.durationSeconds }, results),
    );
  }
  return results;
}

const SCENARIO_TITLES: Record<string, string> = {
  'shadow-predict-c64': '`predict`, 64 connections',
  'shadow-batch-1000-c8': '`predictBatch`, 1,000 rows, 8 connections',
};

/** The docs/benchmarks.md `shadow` section from a run's results (bench/results/shadow.json holds the same). */
export function shadowMarkdown(
  run: { date: string; warmupSeconds: number; rounds: number; durationSeconds: number },
  results: ShadowScenarioResult[],
): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const lines = [
    `Run of ${run.date} (\`npm run bench -- --only shadow\`; per server and scenario ${run.warmupSeconds} s warm-up, then ${run.rounds} rounds of ${run.durationSeconds} s rotating between the three servers; medians of the rounds; throughput ratio: the median of the per-round ratios to no shadow; p99 ratio: of the medians). The shadow is the primary's own model directory, so at rate 1.0 every row is scored twice.`,
    '',
    '| scenario | server | throughput | vs no shadow | p50 / p99 | p99 vs no shadow | rows scored (primary) | rows compared (shadow) | rows dropped (shadow) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.flatMap((r) =>
      r.servers.map(
        (s) =>
          `| ${SCENARIO_TITLES[r.id] ?? r.id} | ${s.sampleRate === null ? 'no shadow' : `SHADOW_SAMPLE_RATE=${s.sampleRate.toFixed(1)}`} | ${n(s.perSecond)} ${r.unit} | ${s.sampleRate === null ? '' : `**${round(s.ratio)}x**`} | ${s.p50} ms / ${s.p99} ms | ${s.sampleRate === null ? '' : `${round(s.p99 / r.servers[0].p99, 2)}x`} | ${n(s.primaryRows)} | ${s.sampleRate === null ? '' : n(s.rowsCompared)} | ${
            s.sampleRate === null
              ? ''
              : `${n(sum(s.dropped))}${
                  sum(s.dropped) > 0
                    ? ` (${Object.entries(s.dropped)
                        .filter(([, v]) => v > 0)
                        .map(([k, v]) => `${k} ${n(v)}`)
                        .join(', ')})`
                    : ''
                }`
          } |`,
      ),
    ),
    '',
    `Failures (non-2xx + socket errors): ${results.reduce((a, r) => a + r.failures, 0)}. Raw numbers: \`bench/results/shadow.json\`.`,
  ];
  return lines.join('\n');
}
