// StrykerJS on the modules where a silent bug costs most (issue 16). See docs/testing.md.
//
// Stryker copies the project to .stryker-tmp/, instruments the `mutate` files with every mutant at once
// (mutation switching: a mutant is switched on by an environment variable at run time), compiles the
// sandbox once with tsc and runs compiled node:test files through the TAP runner, one process per file.
// Coverage is per test file: each mutant only runs the files that executed it.
//
// A group pairs modules with the fast test files that exercise them (no full servers: a server test
// executes every module, so it would run for every surviving mutant). MUTATION_GROUP picks one group;
// unset, every group runs in one Stryker run.
export const groups = {
  inference: {
    mutate: ['src/inference/model-io.ts', 'src/inference/inference.service.ts', 'src/inference/batcher.ts'],
    tests: [
      'dist/test/inference.service.unit.test.js',
      'dist/test/inference.service.start.unit.test.js',
      'dist/test/batcher.unit.test.js',
      'dist/test/batcher.scheduling.unit.test.js',
      'dist/test/batcher.queue.unit.test.js',
      'dist/test/inference.service.lifecycle.unit.test.js',
      'dist/test/inference.service.observers.unit.test.js',
    ],
  },
  validation: {
    mutate: ['src/schema/reading-validator.ts', 'src/schema/sensor-reading.input.ts'],
    tests: [
      'dist/test/sensor-reading.input.unit.test.js',
      'dist/test/reading-validator.fastpath.unit.test.js',
      'dist/test/reading-validator.unit.test.js',
    ],
  },
  limits: {
    mutate: [
      'src/protection/store.ts',
      'src/protection/rate-limiter.ts',
      'src/protection/rate-limit.middleware.ts',
      'src/protection/query-limits.ts',
      'src/protection/api-keys.ts',
      'src/resolvers/rate-limit.resolver.ts',
    ],
    tests: ['dist/test/protection.unit.test.js', 'dist/test/query-limits.gate.unit.test.js', 'dist/test/rate-limiter.unit.test.js'],
  },
  redis: {
    mutate: ['src/protection/redis-store.ts'],
    tests: ['dist/test/redis-store.unit.test.js'],
  },
  config: {
    mutate: ['src/config.ts'],
    tests: ['dist/test/config.unit.test.js', 'dist/test/config.test.js', 'dist/test/config.sections.unit.test.js'],
  },
  // The error boundary: the catalogue, the formatter, and the coercion errors read back into violations.
  errors: {
    mutate: ['src/errors.ts', 'src/error-formatter.ts', 'src/coercion-errors.ts'],
    tests: [
      'dist/test/errors.unit.test.js',
      'dist/test/errors.boundary.unit.test.js',
      'dist/test/coercion-errors.unit.test.js',
      'dist/test/errors.catalogue.unit.test.js',
    ],
  },
  // The HTTP edge: client identity, CORS origins, RateLimit headers, body decoding and parsing (and the bulk lane
  // large bodies go through), content types, edge errors.
  edge: {
    mutate: [
      'src/http/client-identity.ts',
      'src/http/cors.ts',
      'src/http/body.ts',
      'src/http/bulk-lane.ts',
      'src/http/rate-limit-headers.ts',
      'src/http/errors.ts',
    ],
    tests: ['dist/test/edge.unit.test.js', 'dist/test/bulk-lane.unit.test.js'],
  },
  // Operator-facing checks (issue 25): the golden-output and manifest checks that stop a wrong model.
  model: {
    mutate: ['src/inference/model-check.ts', 'src/inference/model-manifest.ts'],
    tests: ['dist/test/model-check.unit.test.js'],
  },
  // The process lifecycle: the HTTP drain's phases and the probe routes (readiness).
  lifecycle: {
    mutate: ['src/http/drain.ts', 'src/http/probes.plugin.ts'],
    tests: ['dist/test/lifecycle.unit.test.js'],
  },
  // The metrics registry and the GraphQL metrics plugin (bounded labels).
  observability: {
    mutate: ['src/observability/metrics.ts', 'src/observability/metrics.plugin.ts'],
    tests: ['dist/test/metrics.unit.test.js'],
  },
  // Drift detection (issue 25): PSI, the sliding window and the class mix; the cluster merge of drift counts.
  drift: {
    mutate: ['src/inference/drift.ts'],
    tests: ['dist/test/drift.unit.test.js', 'dist/test/drift.cluster.unit.test.js'],
  },
  // The trusted-documents manifest: loading and validation (the HTTP gate is the edge's).
  trusted: {
    mutate: ['src/protection/trusted-documents.ts'],
    tests: ['dist/test/trusted-documents.unit.test.js'],
  },
  // The prediction log: its bounded buffer, batches, drops and shutdown (a fake sink), the file and Redis sinks.
  predlog: {
    mutate: ['src/prediction-log/prediction-log.ts', 'src/prediction-log/sinks.ts'],
    tests: ['dist/test/prediction-log.unit.test.js'],
  },
  // The trusted-documents gate in front of Apollo: ids resolved, free text refused in require mode (issue 25).
  gate: {
    mutate: ['src/http/trusted-documents.ts'],
    tests: ['dist/test/trusted-documents.gate.unit.test.js'],
  },
  // Explanations: the reference variants, the drivers read from the model's answers, the training envelope.
  explain: {
    mutate: ['src/inference/explanation.ts'],
    tests: ['dist/test/explanation.unit.test.js'],
  },
  // What the edge tells an operator (the access log, its trace, the recorded security headers) and what it
  // reserves before a body is read (the bulk lane's size, the client-gone signal).
  http: {
    mutate: ['src/http/access-log.ts', 'src/http/trace.ts', 'src/http/security-headers.ts', 'src/http/client-request.ts'],
    tests: ['dist/test/http-helpers.unit.test.js'],
  },
  // WORKERS > 1: the worker's request/answer channel to the primary, and drift summed across workers.
  ipc: {
    mutate: ['src/cluster-ipc.ts', 'src/observability/drift-cluster.ts'],
    tests: ['dist/test/cluster-ipc.unit.test.js', 'dist/test/drift.cluster.unit.test.js', 'dist/test/drift-cluster.edges.unit.test.js'],
  },
  // POST/GET /graphql as the edge wires it: admission (drain, keys, request budget, large bodies), the query
  // limits before Apollo, the edge headers, the context.
  route: {
    mutate: ['src/http/graphql.plugin.ts'],
    tests: ['dist/test/graphql-route.unit.test.js', 'dist/test/graphql-route.bulk.test.js'],
  },
  // WORKERS > 1: the primary (forks and replacements, signals, the budgets, metrics and shadow totals it answers
  // for the workers) on a fake node:cluster and process; a worker's side (attachProcess) and its rate-limit store.
  cluster: {
    mutate: ['src/cluster.ts', 'src/protection/cluster-store.ts'],
    tests: ['dist/test/cluster.primary.unit.test.js', 'dist/test/cluster.worker.unit.test.js'],
  },
  // The GraphQL schema (issue 25): the decorators against the committed schema.graphql, the enums' values, the
  // model, prediction and explanation resolvers on a fake service in every host state, the graphql-jit executor.
  schema: {
    mutate: [
      'src/schema/drift.type.ts',
      'src/schema/driver.type.ts',
      'src/schema/executor.ts',
      'src/schema/explanation.type.ts',
      'src/schema/failure-type.enum.ts',
      'src/schema/health.type.ts',
      'src/schema/index.ts',
      'src/schema/model-info.type.ts',
      'src/schema/out-of-range.type.ts',
      'src/schema/prediction.type.ts',
      'src/schema/product-type.enum.ts',
      'src/schema/rate-limit.type.ts',
      'src/schema/reading-field.enum.ts',
      'src/schema/shadow.type.ts',
      'src/resolvers/model.resolver.ts',
      'src/resolvers/prediction.resolver.ts',
      'src/resolvers/prediction-explanation.resolver.ts',
    ],
    tests: ['dist/test/schema.unit.test.js', 'dist/test/resolvers.unit.test.js', 'dist/test/executor.unit.test.js'],
  },
  // The model's lifecycle an operator sees (issue 25): states and readiness, reloads refused or switched,
  // the shadow beside the primary (checked, sampled, dropped, promoted) and its exact per-pair sums.
  host: {
    mutate: ['src/inference/model-host.ts', 'src/inference/shadow-scorer.ts'],
    tests: ['dist/test/model-host.unit.test.js', 'dist/test/shadow-scorer.unit.test.js'],
  },
  // The small modules around the edges (issue 25): prediction ids and log records, the console and landing page,
  // which protection each config gets, the package lookups, and the scripts' work (run on temporary directories).
  misc: {
    mutate: [
      'src/prediction-log/uuidv7.ts',
      'src/prediction-log/record.ts',
      'src/http/console.ts',
      'src/http/landing-page.ts',
      'src/http/edge-state.ts',
      'src/http/unencapsulated.ts',
      'src/protection/index.ts',
      'src/version.ts',
      'src/violation.ts',
      'src/scripts/console-examples.ts',
      'src/scripts/dev.ts',
      'src/scripts/emit-schema.ts',
    ],
    tests: [
      'dist/test/prediction-record.unit.test.js',
      'dist/test/console.unit.test.js',
      'dist/test/create-protection.unit.test.js',
      'dist/test/scripts.unit.test.js',
      'dist/test/scripts.cli.unit.test.js',
    ],
  },
  // Tracing and the drift and metrics-port listeners (issue 25): every span the SDK side makes, sampling, dropped-span
  // counts and a bounded shutdown (in-memory exporter, a real OTLP receiver for the protocols); the drift series; METRICS_PORT.
  tracing: {
    mutate: [
      'src/observability/tracing-sdk.ts',
      'src/observability/tracing.ts',
      'src/observability/request-spans.ts',
      'src/observability/tracing.types.ts',
      'src/observability/drift-metrics.ts',
      'src/observability/metrics-server.ts',
    ],
    tests: ['dist/test/tracing.unit.test.js', 'dist/test/drift-metrics.unit.test.js', 'dist/test/metrics-server.unit.test.js'],
  },
  // The process itself (issue 25): main's config refusals, cluster choice, signals and model load on fakes; the
  // composition root; the Fastify edge (errors, ids, headers, load shedding, compression, proxy trust, timeouts,
  // stop order); Apollo's options and plugins; the logger.
  app: {
    mutate: ['src/apollo.ts', 'src/context.ts', 'src/logger.ts', 'src/server.ts', 'src/app.ts', 'src/main.ts'],
    tests: [
      'dist/test/app.unit.test.js',
      'dist/test/apollo.unit.test.js',
      'dist/test/server.unit.test.js',
      'dist/test/main.unit.test.js',
      'dist/test/logger.unit.test.js',
    ],
  },
};

const names = process.env.MUTATION_GROUP ? process.env.MUTATION_GROUP.split(',') : Object.keys(groups);
for (const n of names) if (!groups[n]) throw new Error(`MUTATION_GROUP: unknown group "${n}" (${Object.keys(groups).join(', ')})`);
const picked = names.map((n) => groups[n]);
const tag = names.length === Object.keys(groups).length ? 'all' : names.join('+');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  buildCommand: 'npx tsc -p tsconfig.json',
  mutate: picked.flatMap((g) => g.mutate),
  tap: { testFiles: [...new Set(picked.flatMap((g) => g.tests))], forceBail: true },
  coverageAnalysis: 'perTest',
  // Two shared cores: one runner per core.
  concurrency: 2,
  // A busy machine stretches run times; a mutant that loops forever still times out.
  timeoutMS: 20_000,
  dryRunTimeoutMinutes: 10,
  // dist/ is not ignored: the test files Stryker runs are dist/test/*.js, and incremental mode only
  // reuses a result when it can compare those files with the baseline (test/mutation/run.sh builds first).
  ignorePatterns: ['bench/results', 'test/artifacts', 'examples/console/dist', 'reports', 'training/__pycache__'],
  thresholds: { high: 90, low: 85, break: 85 },
  // Committed: CI's --incremental run only re-tests mutants whose code or covering tests changed.
  incrementalFile: `.stryker-incremental/${tag}.json`,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${tag}.html` },
  jsonReporter: { fileName: `reports/mutation/${tag}.json` },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
