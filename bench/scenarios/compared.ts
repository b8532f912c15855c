/**
 * A scenario measured against the bare reference in the same run: the same request body to the reference,
 * the API and (for some) the API with batching off, rounds alternating between them, medians reported.
 */
import { cannon, median, medianLoad, sequential, type Load } from '../lib/load';
import { batching, check, type Proc } from '../lib/processes';
import { withRss } from '../lib/rss';
import { MB, progress, round, type BenchSettings } from '../lib/settings';

export interface ComparedScenario {
  id: string;
  title: string;
  /** The request body (the reference always gets this one). */
  body: string;
  /** The API's body when it differs: the same operation and variables naming a trusted document by id. */
  apiBody?: string;
  rows: number;
  connections: number;
  unit: 'req/s' | 'rows/s';
  /** Also measure the API with MAX_BATCH_SIZE=1. */
  batchingOff?: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  unit: 'req/s' | 'rows/s';
  rows: number;
  connections: number;
  reference: Load;
  api: Load;
  ratio: number;
  meanRowsPerRun?: number;
  apiPeakRssMB?: number;
  rounds?: number;
  batchingOff?: { api: Load; ratio: number; meanRowsPerRun: number };
}

export interface Servers {
  reference: Proc;
  api: Proc;
  /** The API with MAX_BATCH_SIZE=1. */
  apiOff: Proc;
}

/** Runs one scenario; `peak` is the API's peak RSS over its rounds (bytes). */
export async function runCompared(
  settings: BenchSettings,
  s: ComparedScenario,
  { reference, api, apiOff }: Servers,
): Promise<{ result: ScenarioResult; peak: number }> {
  // The reference knows no document ids: it is always sent the document text.
  const bodyFor = (p: Proc) => (p === reference ? s.body : (s.apiBody ?? s.body));
  const run = (p: Proc, seconds: number) =>
    s.connections === 1 ? sequential(p, bodyFor(p), seconds) : cannon(p, bodyFor(p), s.rows, s.connections, seconds);
  const measureOnce = async (p: Proc): Promise<{ load: Load; rows: number; runs: number; peak: number }> => {
    const before = p === reference ? undefined : await batching(p);
    const { value: load, peak } = await withRss(p.child.pid!, () => run(p, settings.duration));
    const after = p === reference ? undefined : await batching(p);
    if (load.non2xx > 0 || load.errors > 0) console.warn(`  ${p.name} ${s.id}: ${load.non2xx} non-2xx, ${load.errors} errors`);
    return { load, rows: before && after ? after.rows - before.rows : 0, runs: before && after ? after.runs - before.runs : 0, peak };
  };
  const targets = [reference, api, ...(s.batchingOff ? [apiOff] : [])];
  // Every server answers the scenario's request with the same JSON (by id or by text alike) before it is measured.
  const answers: string[] = [];
  for (const p of targets) answers.push(JSON.stringify(await check(p, bodyFor(p))));
  for (let t = 1; t < targets.length; t++) {
    if (answers[t] !== answers[0]) {
      throw new Error(
        `${s.id}: ${targets[t].name} and ${targets[0].name} answer differently:\n${answers[t].slice(0, 500)}\n${answers[0].slice(0, 500)}`,
      );
    }
  }
  for (const p of targets) await run(p, settings.warmup);
  // Rounds alternate between the servers so that drift in the machine's load hits all of them alike.
  const rounds = targets.map(() => [] as Array<{ load: Load; rows: number; runs: number; peak: number }>);
  for (let r = 0; r < settings.rounds; r++) {
    progress(settings, s.id, r);
    for (let t = 0; t < targets.length; t++) rounds[t].push(await measureOnce(targets[t]));
  }
  const summary = rounds.map((rs) => ({
    load: medianLoad(rs.map((x) => x.load)),
    meanRowsPerRun:
      rs.reduce((a, x) => a + x.rows, 0) /
      Math.max(
        1,
        rs.reduce((a, x) => a + x.runs, 0),
      ),
    peak: Math.max(...rs.map((x) => x.peak)),
  }));
  const roundRatio = (t: number) => median(rounds[t].map((x, i) => x.load.requestsPerSecond / rounds[0][i].load.requestsPerSecond));
  const [ref, ours] = summary;
  const ratio = roundRatio(1);
  const result: ScenarioResult = {
    id: s.id,
    title: s.title,
    unit: s.unit,
    rows: s.rows,
    connections: s.connections,
    reference: ref.load,
    api: ours.load,
    ratio,
    meanRowsPerRun: ours.meanRowsPerRun,
    apiPeakRssMB: round(ours.peak / MB, 1),
    rounds: settings.rounds,
  };
  if (targets.length === 3) {
    result.batchingOff = { api: summary[2].load, ratio: roundRatio(2), meanRowsPerRun: summary[2].meanRowsPerRun };
  }
  const fmt = (l: Load) =>
    `${round(s.unit === 'rows/s' ? l.rowsPerSecond : l.requestsPerSecond, 0)} ${s.unit} p50 ${round(l.latencyMs.p50, 3)} ms p99 ${round(l.latencyMs.p99, 3)} ms`;
  console.log(
    `${s.id}: reference ${fmt(ref.load)} | api ${fmt(ours.load)} | ratio ${round(ratio)}x | api peak RSS ${round(ours.peak / MB, 1)} MB` +
      (ours.meanRowsPerRun !== undefined ? ` | rows/run ${round(ours.meanRowsPerRun)}` : '') +
      (result.batchingOff ? ` | batching off ${fmt(result.batchingOff.api)} ratio ${round(result.batchingOff.ratio)}x` : ''),
  );
  return { result, peak: ours.peak };
}
