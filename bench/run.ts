/**
 * The benchmark harness (`npm run bench`, `npm run bench -- --quick`, `npm run bench -- --soak`).
 *
 * Starts the API in production mode as a child process (`node dist/src/main.js`) with validation,
 * rate limiting (at a limit it never reaches) and request logging on, and the bare reference server
 * (bench/reference/server.ts) next to it, then drives both over loopback with autocannon. Before every
 * scenario it checks that both answer HTTP 200 with `data` and no `errors`, and that they answer the
 * same JSON; during a scenario non-2xx responses count as failures. Every figure is reported next to
 * the reference's, measured in the same run, and as a ratio to it.
 *
 * Flags: --quick (a few seconds a scenario, for CI; asserts nothing about speed), --soak (predict at
 * 64 connections for SOAK_SECONDS, default 300, sampling RSS), --profile (API under --cpu-prof,
 * profiles in bench/results/profiles, summarized by layer at the end: bench/lib/profile.ts), --only ID[,ID] (just those scenarios, no report; `--only workers-c64`
 * and `--only shadow` still rewrite their own docs/benchmarks.md sections outside --quick), --model-dir DIR
 * (default $MODEL_DIR or models). Scenario ids: predict-c1, predict-c64, predict-trusted-c1, predict-trusted-c64,
 * batch-100, batch-1000, predict-c256, batch-1000-explanation, edge, prediction-log, workers-c64, drift, shadow,
 * and tracing (opt-in: only with --only).
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cannon } from './lib/load';
import { apiEnv, check, SERVER_NODE_FLAGS, startApi, startReference, stop, writeBenchManifest, type Proc } from './lib/processes';
import { printProfiles } from './lib/profile';
import { report, spliceMarkdown, type EdgeResult } from './lib/report';
import { predictBatchBody, predictBody, predictTrustedBody } from './lib/requests';
import { rssOf } from './lib/rss';
import { PROFILES, progress, RESULTS, selected, type BenchSettings } from './lib/settings';
import type { ComparisonHarness } from './lib/variants';
import { runCompared, type ComparedScenario, type ScenarioResult } from './scenarios/compared';
import { driftComparison } from './scenarios/drift';
import { compression, underAttack, type AttackResult } from './scenarios/edge';
import { explanationScenario, type ExplanationResult } from './scenarios/explanation';
import { predictionLogBench, printPredictionLog } from './scenarios/prediction-log';
import { shadowComparison } from './scenarios/shadow';
import { soak } from './scenarios/soak';
import { tracingComparison } from './scenarios/tracing';
import { workersComparison } from './scenarios/workers';

// node:util's parseArgs: an unknown or misspelt flag is an error, never a silent full run.
const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'model-dir': { type: 'string' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    only: { type: 'string' },
  },
  strict: true,
  allowPositionals: false,
});
const QUICK = argv.quick === true;
const settings: BenchSettings = {
  quick: QUICK,
  profile: argv.profile === true,
  modelDir: path.resolve(argv['model-dir'] ?? process.env.MODEL_DIR ?? 'models'),
  duration: Number(argv.duration ?? (QUICK ? 3 : 5)),
  warmup: QUICK ? 1 : 3,
  rounds: Number(argv.rounds ?? (QUICK ? 1 : 3)),
  settleSeconds: QUICK ? 10 : 45,
  only: argv.only?.split(','),
};

/** The scenarios measured against the bare reference, in report order. */
function comparedScenarios(): ComparedScenario[] {
  const one = predictBody();
  return [
    { id: 'predict-c1', title: '`predict`, 1 connection (latency)', body: one, rows: 1, connections: 1, unit: 'req/s', batchingOff: true },
    { id: 'predict-c64', title: '`predict`, 64 connections', body: one, rows: 1, connections: 64, unit: 'req/s' },
    // The same requests naming their document by id (the API runs TRUSTED_DOCUMENTS=allow with the bench's
    // manifest): the API skips lexing, parsing, validation and the cost check; the reference gets the text.
    {
      id: 'predict-trusted-c1',
      title: '`predict` by trusted document id, 1 connection (latency)',
      body: one,
      apiBody: predictTrustedBody(),
      rows: 1,
      connections: 1,
      unit: 'req/s',
    },
    {
      id: 'predict-trusted-c64',
      title: '`predict` by trusted document id, 64 connections',
      body: one,
      apiBody: predictTrustedBody(),
      rows: 1,
      connections: 64,
      unit: 'req/s',
    },
    {
      id: 'batch-100',
      title: '`predictBatch`, 100 rows, 8 connections',
      body: predictBatchBody(100),
      rows: 100,
      connections: 8,
      unit: 'rows/s',
    },
    {
      id: 'batch-1000',
      title: '`predictBatch`, 1,000 rows, 8 connections',
      body: predictBatchBody(1000),
      rows: 1000,
      connections: 8,
      unit: 'rows/s',
    },
    {
      id: 'predict-c256',
      title: '`predict`, 256 connections, batching on vs off',
      body: one,
      rows: 1,
      connections: 256,
      unit: 'req/s',
      batchingOff: true,
    },
  ];
}

/** What the API-against-API comparisons (bench/lib/variants.ts: drift, shadow) get from this harness. */
function harness(): ComparisonHarness<Proc> {
  return {
    startApi: (name, env) => startApi(settings, name, env),
    check,
    cannon,
    stop,
    progress: (scenario, round) => progress(settings, scenario, round),
    warmupSeconds: settings.warmup,
    durationSeconds: settings.duration,
    rounds: settings.rounds,
    quick: settings.quick,
    resultsDir: RESULTS,
  };
}

/** The under-attack scenario against TRUSTED_DOCUMENTS=require: free text is refused before it is parsed; the third client sends its id. */
async function attackRequire(seconds: number): Promise<AttackResult> {
  const p: Proc = await startApi(settings, 'api-require', { TRUSTED_DOCUMENTS: 'require' });
  try {
    return await underAttack(p.port, 1_048_576, seconds, predictTrustedBody(), 'under-attack (TRUSTED_DOCUMENTS=require)');
  } finally {
    await stop(p);
  }
}

async function main(): Promise<void> {
  if (!existsSync(path.join(settings.modelDir, 'model.json')))
    throw new Error(`no model in ${settings.modelDir} (set MODEL_DIR or --model-dir)`);
  if (argv.soak === true) return soak(settings);
  const wallStart = Date.now();
  // This run's profiles only: printProfiles reads every file in the folder.
  if (settings.profile) rmSync(PROFILES, { recursive: true, force: true });
  // The bench's own trusted documents (TRUSTED_DOCUMENTS_FILE in apiEnv), before any server reads them.
  writeBenchManifest();
  const results: ScenarioResult[] = [];
  let explanation: ExplanationResult | undefined;
  let edge: EdgeResult | undefined;
  // Set inside the block below when its servers run; read by the report only after a full run.
  let idleRss = 0;
  let startRss = 0;
  let settleSeconds = 0;
  let peakRss = 0;
  let afterRss = 0;
  // The servers measured against the reference, started only when a scenario that needs them is selected.
  const needsReference = ['batch-1000-explanation', 'edge', ...comparedScenarios().map((x) => x.id)].some((id) => selected(settings, id));
  if (needsReference) {
    const reference = await startReference(settings);
    const api = await startApi(settings, 'api');
    const apiOff = await startApi(settings, 'api-batching-off', { MAX_BATCH_SIZE: '1' });
    const procs = [reference, api, apiOff];
    try {
      // Same JSON from both: the reference does exactly the work the API's answer needs.
      const one = predictBody();
      const [a, r] = [await check(api, one), await check(reference, one)];
      if (JSON.stringify(a) !== JSON.stringify(r)) {
        throw new Error(`API and reference answer differently:\n${JSON.stringify(a)}\n${JSON.stringify(r)}`);
      }
      startRss = rssOf(api.child.pid!);
      // Idle = warmed up (code paths compiled, queries cached) but without load.
      const thousand = predictBatchBody(1000);
      for (let i = 0; i < 200; i++) await check(api, one);
      for (let i = 0; i < 10; i++) await check(api, thousand);
      await sleep(3000);
      idleRss = rssOf(api.child.pid!);

      for (const s of comparedScenarios().filter((x) => selected(settings, x.id))) {
        const { result, peak } = await runCompared(settings, s, { reference, api, apiOff });
        if (peak > peakRss) peakRss = peak;
        results.push(result);
      }
      if (selected(settings, 'batch-1000-explanation')) explanation = await explanationScenario(settings, api);
      if (selected(settings, 'edge')) {
        // The worst case: budgets no client reaches (apiEnv), so only the bounded cost of a refused document
        // protects the third client (with the default request budget the attackers would be cut off after 600).
        const seconds = QUICK ? 2 : settings.duration;
        edge = {
          attack: await underAttack(api.port, 1_048_576, seconds, predictBody(), 'under-attack (TRUSTED_DOCUMENTS=allow)'),
          attackRequire: await attackRequire(seconds),
          compression: await compression(api.port, QUICK ? 2 : settings.duration),
        };
      }
      const settleStart = Date.now();
      do {
        await sleep(1000);
        afterRss = rssOf(api.child.pid!);
      } while (afterRss > idleRss * 1.2 && Date.now() - settleStart < settings.settleSeconds * 1000);
      settleSeconds = (Date.now() - settleStart) / 1000;
    } finally {
      for (const p of procs) await stop(p);
    }
  }
  // The prediction log's cost, PREDICTION_LOG=file vs off (bench/scenarios/prediction-log.ts), with the servers above stopped.
  if (selected(settings, 'prediction-log')) {
    printPredictionLog(await predictionLogBench({ quick: settings.quick, modelDir: settings.modelDir }), settings.quick ? 'quick' : 'full');
  }
  if (selected(settings, 'workers-c64')) await workersComparison(settings);
  // Drift counting on against DRIFT_ENABLED=false (bench/scenarios/drift.ts).
  if (selected(settings, 'drift')) {
    await driftComparison(harness());
  }
  // Shadow scoring at rates 1.0 and 0.1 against no shadow (bench/scenarios/shadow.ts).
  if (selected(settings, 'shadow')) {
    await shadowComparison({ ...harness(), port: (p) => p.port, modelDir: settings.modelDir, splice: spliceMarkdown });
  }
  // Opt-in (it builds the pre-tracing commit): bench/scenarios/tracing.ts.
  if (settings.only?.includes('tracing')) {
    await tracingComparison({
      env: apiEnv(settings.modelDir),
      nodeFlags: SERVER_NODE_FLAGS,
      rounds: settings.rounds,
      duration: settings.duration,
      warmup: settings.warmup,
    });
  }
  const wallSeconds = (Date.now() - wallStart) / 1000;
  if (settings.profile) printProfiles(PROFILES);
  if (settings.only) return;
  report(settings, results, { startRss, idleRss, peakRss, afterRss, settleSeconds, wallSeconds }, explanation, edge);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
