/**
 * Drift counting's cost (docs/monitoring.md): the API with DRIFT_ENABLED=true (default) against the same
 * API with DRIFT_ENABLED=false, in the same run, rounds alternating between the two: `predict` at 64
 * connections, and `predictBatch` with 1,000 rows at 8 connections (as bench's batch-1000: at 64 a 1,000-row call queues for seconds). The budget: within 3 %.
 * bench/run.ts hands in its harness (start, check, load, stop) so this file owns only the scenario.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { predictBatchBody, predictBody } from '../lib/requests';

export interface DriftLoad {
  requestsPerSecond: number;
  rowsPerSecond: number;
  latencyMs: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

export interface DriftHarness<P> {
  startApi(name: string, env: Record<string, string>): Promise<P>;
  check(p: P, body: string): Promise<unknown>;
  cannon(p: P, body: string, rows: number, connections: number, seconds: number): Promise<DriftLoad>;
  stop(p: P): Promise<void>;
  progress(scenario: string, round: number): void;
  warmupSeconds: number;
  durationSeconds: number;
  rounds: number;
  quick: boolean;
  resultsDir: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

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
  const on = await h.startApi('api-drift-on', { DRIFT_ENABLED: 'true' });
  const off = await h.startApi('api-drift-off', { DRIFT_ENABLED: 'false' });
  const results: DriftScenarioResult[] = [];
  try {
    for (const s of scenarios) {
      const loads: DriftLoad[][] = [[], []];
      for (const p of [on, off]) {
        await h.check(p, s.body);
        await h.cannon(p, s.body, s.rows, s.connections, h.warmupSeconds);
      }
      for (let r = 0; r < h.rounds; r++) {
        h.progress(s.id, r);
        // Alternate which goes first, so neither always meets a warmer machine.
        const order = r % 2 === 0 ? [0, 1] : [1, 0];
        for (const i of order) loads[i].push(await h.cannon(i === 0 ? on : off, s.body, s.rows, s.connections, h.durationSeconds));
      }
      const sum = (l: DriftLoad[]) => ({
        perSecond: median(l.map((x) => (s.rows === 1 ? x.requestsPerSecond : x.rowsPerSecond))),
        p50: median(l.map((x) => x.latencyMs.p50)),
        p99: median(l.map((x) => x.latencyMs.p99)),
      });
      const ratio = median(
        loads[0].map((l, i) => (l.rowsPerSecond || l.requestsPerSecond) / (loads[1][i].rowsPerSecond || loads[1][i].requestsPerSecond)),
      );
      const failures = [...loads[0], ...loads[1]].reduce((a, l) => a + l.non2xx + l.errors, 0);
      const result = { id: s.id, on: sum(loads[0]), off: sum(loads[1]), ratio, failures };
      results.push(result);
      const unit = s.rows === 1 ? 'req/s' : 'rows/s';
      console.log(
        `${s.id}: drift on ${round(result.on.perSecond, 0)} ${unit} p99 ${result.on.p99} ms | drift off ${round(result.off.perSecond, 0)} ${unit} p99 ${result.off.p99} ms | on/off ${round(ratio)}x | failures ${failures}${h.quick ? ' (quick run: indicative only)' : ''}`,
      );
    }
  } finally {
    await h.stop(on);
    await h.stop(off);
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
