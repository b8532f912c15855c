/**
 * Drift counting's cost (docs/monitoring.md): the API with DRIFT_ENABLED=true (default) against the same
 * API with DRIFT_ENABLED=false, in the same run, rounds alternating between the two: `predict` at 64
 * connections, and `predictBatch` with 1,000 rows at 8 connections (as bench's batch-1000: at 64 a 1,000-row call queues for seconds). The budget: within 3 %.
 * bench/run.ts hands in its harness (start, check, load, stop) so this file owns only the scenario.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { predictBatchBody, predictBody } from '../lib/requests';
import { compareOn, round, startAll, type ComparisonHarness, type VariantLoad } from '../lib/variants';

export type DriftLoad = VariantLoad;
export type DriftHarness<P> = ComparisonHarness<P>;

export interface DriftScenarioResult {
  id: string;
  on: { perSecond: number; p50: number; p99: number };
  off: { perSecond: number; p50: number; p99: number };
  /** Median over rounds of (drift on / drift off) throughput. */
  ratio: number;
  failures: number;
}

export async function driftComparison<P>(h: DriftHarness<P>): Promise<DriftScenarioResult[]> {
  const scenarios = [
    { id: 'drift-predict-c64', body: predictBody(), rows: 1, connections: 64 },
    { id: 'drift-batch-1000-c8', body: predictBatchBody(1000), rows: 1000, connections: 8 },
  ];
  const servers = await startAll(h, [
    { name: 'api-drift-on', env: { DRIFT_ENABLED: 'true' } },
    { name: 'api-drift-off', env: { DRIFT_ENABLED: 'false' } },
  ]);
  const results: DriftScenarioResult[] = [];
  try {
    for (const s of scenarios) {
      const c = await compareOn(h, servers, 1, s);
      const result = { id: s.id, on: c.summaries[0], off: c.summaries[1], ratio: c.ratios[0], failures: c.failures };
      results.push(result);
      console.log(
        `${s.id}: drift on ${round(result.on.perSecond, 0)} ${c.unit} p99 ${result.on.p99} ms | drift off ${round(result.off.perSecond, 0)} ${c.unit} p99 ${result.off.p99} ms | on/off ${round(result.ratio)}x | failures ${result.failures}${h.quick ? ' (quick run: indicative only)' : ''}`,
      );
    }
  } finally {
    for (const p of servers) await h.stop(p);
  }
  mkdirSync(h.resultsDir, { recursive: true });
  writeFileSync(
    path.join(h.resultsDir, 'drift.json'),
    JSON.stringify(
      { date: new Date().toISOString(), mode: h.quick ? 'quick' : 'full', rounds: h.rounds, durationSeconds: h.durationSeconds, results },
      null,
      2,
    ),
  );
  return results;
}
