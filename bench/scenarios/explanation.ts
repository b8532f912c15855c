import { setTimeout as sleep } from 'node:timers/promises';
import { cannon, median, medianLoad, type Load } from '../lib/load';
import { batching, check, type Proc } from '../lib/processes';
import { post, PREDICTION_FIELDS, readings } from '../lib/requests';
import { progress, round, type BenchSettings } from '../lib/settings';

/**
 * Scenario `batch-1000-explanation`: the cost of asking why. The same 1,000-row predictBatch with and
 * without `explanation` on the same API process, rounds alternating; rows/s counts readings answered.
 * An explained reading adds five model rows that share the batcher's runs, so the ideal ratio is about
 * 1/6 if ONNX dominated, higher for the GraphQL and JSON work both pay.
 */
export interface ExplanationResult {
  plain: Load;
  explained: Load;
  /** Median over rounds of explained rows/s / plain rows/s. */
  ratio: number;
  /** Model rows scored per reading of one request, from the batching statistics (6 when explained). */
  modelRowsPerReading: { plain: number; explained: number };
  meanRowsPerRun: { plain: number; explained: number };
  connections: number;
  rounds: number;
}

export async function explanationScenario(settings: BenchSettings, api: Proc): Promise<ExplanationResult> {
  const rows = 1000;
  // An explained 1,000-row call holds up to 6,000 rows in the queue: 3 connections stay under the default
  // MAX_QUEUE_ROWS (20,000), where 8 would get some calls refused SERVER_BUSY (an HTTP 200 with errors).
  const connections = 3;
  const inputs = readings(rows);
  const body = (fields: string) =>
    JSON.stringify({
      operationName: 'PredictBatch',
      query: `mutation PredictBatch($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { ${fields} } }`,
      variables: { inputs },
    });
  const plainBody = body(PREDICTION_FIELDS);
  const explainedBody = body(
    `${PREDICTION_FIELDS} explanation { temperatureDifference power strain drivers { field value reference effect } }`,
  );
  const answer = await check(api, explainedBody);
  const explained = answer.data.predictBatch as Array<{ explanation: { drivers: unknown[] } }>;
  if (explained.length !== rows || explained.some((p) => p.explanation.drivers.length !== 5)) {
    throw new Error('batch-1000-explanation: the explained batch does not hold 1,000 explanations of 5 drivers');
  }
  // autocannon stops at its deadline with requests still in the server: wait until the model is idle
  // so that neither phase pays for (or counts) the other's leftovers.
  const quiesce = async () => {
    let last = -1;
    for (;;) {
      const { rows: scored } = await batching(api);
      if (scored === last) return;
      last = scored;
      await sleep(500);
    }
  };
  const modelRowsPerReading = async (b: string) => {
    await quiesce();
    const before = await batching(api);
    await check(api, b);
    return ((await batching(api)).rows - before.rows) / rows;
  };
  const perReading = { plain: await modelRowsPerReading(plainBody), explained: await modelRowsPerReading(explainedBody) };
  // GraphQL errors (SERVER_BUSY, INFERENCE_FAILED) come with HTTP 200: every answer must be the checked
  // one, byte for byte (the model is deterministic), or it counts as an error.
  const expected = new Map<string, string>();
  for (const b of [plainBody, explainedBody]) {
    const [first, second] = [await post(api.port, '/graphql', b), await post(api.port, '/graphql', b)];
    if (first.text !== second.text) throw new Error('batch-1000-explanation: the same request got two different answers');
    expected.set(b, first.text);
  }
  const load = (b: string, seconds: number) => cannon(api, b, rows, connections, seconds, expected.get(b));
  for (const b of [plainBody, explainedBody]) await load(b, settings.warmup);
  const measure = async (b: string) => {
    await quiesce();
    const before = await batching(api);
    const load_ = await load(b, settings.duration);
    await quiesce();
    const after = await batching(api);
    if (load_.non2xx > 0 || load_.errors > 0)
      console.warn(`  batch-1000-explanation: ${load_.non2xx} non-2xx, ${load_.errors} errors or unexpected answers`);
    return { load: load_, modelRows: after.rows - before.rows, runs: after.runs - before.runs };
  };
  const plainRounds: Array<Awaited<ReturnType<typeof measure>>> = [];
  const explainedRounds: typeof plainRounds = [];
  for (let r = 0; r < settings.rounds; r++) {
    progress(settings, 'batch-1000-explanation', r);
    plainRounds.push(await measure(plainBody));
    explainedRounds.push(await measure(explainedBody));
  }
  const perRun = (rs: typeof plainRounds) =>
    rs.reduce((a, x) => a + x.modelRows, 0) /
    Math.max(
      1,
      rs.reduce((a, x) => a + x.runs, 0),
    );
  const result: ExplanationResult = {
    plain: medianLoad(plainRounds.map((x) => x.load)),
    explained: medianLoad(explainedRounds.map((x) => x.load)),
    ratio: median(explainedRounds.map((x, i) => x.load.rowsPerSecond / plainRounds[i].load.rowsPerSecond)),
    modelRowsPerReading: perReading,
    meanRowsPerRun: { plain: round(perRun(plainRounds)), explained: round(perRun(explainedRounds)) },
    connections,
    rounds: settings.rounds,
  };
  const fmt = (l: Load) => `${round(l.rowsPerSecond, 0)} rows/s p50 ${l.latencyMs.p50} ms p99 ${l.latencyMs.p99} ms`;
  console.log(
    `batch-1000-explanation: without ${fmt(result.plain)} | with explanation ${fmt(result.explained)} | ratio ${round(result.ratio)}x` +
      ` | model rows per reading ${result.modelRowsPerReading.plain} vs ${result.modelRowsPerReading.explained}` +
      ` | rows/run ${result.meanRowsPerRun.plain} vs ${result.meanRowsPerRun.explained}`,
  );
  return result;
}
