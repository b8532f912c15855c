/**
 * One API configuration against others in the same run (drift on/off, shadow scoring at several rates):
 * the same request to every server, warm-up each, then rounds rotating the order between them so that
 * drift in the machine's load hits all alike; medians of the rounds, ratios the median of the per-round
 * ratios to a baseline server. bench/run.ts hands in its harness (start, check, load, stop), so the
 * scenario files (bench/scenarios/drift.ts, bench/scenarios/shadow.ts) own only what they compare.
 */

export interface VariantLoad {
  requestsPerSecond: number;
  rowsPerSecond: number;
  latencyMs: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

export interface ComparisonHarness<P> {
  startApi(name: string, env: Record<string, string>): Promise<P>;
  check(p: P, body: string): Promise<unknown>;
  cannon(p: P, body: string, rows: number, connections: number, seconds: number): Promise<VariantLoad>;
  stop(p: P): Promise<void>;
  progress(scenario: string, round: number): void;
  warmupSeconds: number;
  durationSeconds: number;
  rounds: number;
  quick: boolean;
  resultsDir: string;
}

export interface VariantScenario {
  id: string;
  body: string;
  rows: number;
  connections: number;
}

/** Medians over the rounds; `perSecond` is requests/s for one-row requests, rows/s otherwise. */
export interface VariantSummary {
  perSecond: number;
  p50: number;
  p99: number;
}

export interface VariantComparison {
  id: string;
  unit: 'req/s' | 'rows/s';
  /** Per server, in the order given. */
  summaries: VariantSummary[];
  /** Per server: median over rounds of (its throughput / the baseline's in the same round); the baseline's is 1. */
  ratios: number[];
  failures: number;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Starts one server per `env`, in order; if one fails to start, stops those already started. */
export async function startAll<P>(h: ComparisonHarness<P>, servers: Array<{ name: string; env: Record<string, string> }>): Promise<P[]> {
  const started: P[] = [];
  try {
    for (const s of servers) started.push(await h.startApi(s.name, s.env));
  } catch (err) {
    for (const p of started) await h.stop(p);
    throw err;
  }
  return started;
}

/** Measures one scenario on every server in `servers`; `baseline` indexes the server the ratios are taken to. */
export async function compareOn<P>(
  h: ComparisonHarness<P>,
  servers: P[],
  baseline: number,
  s: VariantScenario,
): Promise<VariantComparison> {
  const loads: VariantLoad[][] = servers.map(() => []);
  for (const p of servers) {
    await h.check(p, s.body);
    await h.cannon(p, s.body, s.rows, s.connections, h.warmupSeconds);
  }
  for (let r = 0; r < h.rounds; r++) {
    h.progress(s.id, r);
    // Rotate which goes first, so no server always meets a warmer (or busier) machine.
    for (let k = 0; k < servers.length; k++) {
      const i = (k + r) % servers.length;
      loads[i].push(await h.cannon(servers[i], s.body, s.rows, s.connections, h.durationSeconds));
    }
  }
  const perSecond = (l: VariantLoad) => (s.rows === 1 ? l.requestsPerSecond : l.rowsPerSecond);
  return {
    id: s.id,
    unit: s.rows === 1 ? 'req/s' : 'rows/s',
    summaries: loads.map((ls) => ({
      perSecond: median(ls.map(perSecond)),
      p50: median(ls.map((l) => l.latencyMs.p50)),
      p99: median(ls.map((l) => l.latencyMs.p99)),
    })),
    ratios: loads.map((ls) => median(ls.map((l, r) => perSecond(l) / perSecond(loads[baseline][r])))),
    failures: loads.flat().reduce((a, l) => a + l.non2xx + l.errors, 0),
  };
}
