#!/usr/bin/env bash
# Bounded mutation run for CI (issue 16): Stryker's incremental mode against the committed baselines in
# .stryker-incremental/ re-tests only the mutants whose code, or whose covering test files, changed since
# the baseline was recorded; unchanged results are reused. Every group still builds its sandbox and runs
# its test files once. The run fails when any module scores below 85 % (test/mutation/score.mjs) or when
# it takes more than ten minutes (refresh the baselines: npm run test:mutation -- --incremental, commit
# .stryker-incremental/). Extra arguments go to Stryker (e.g. --concurrency 1 on a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# A bounded subset in CI, gated at 85 % per module: the `limits` group (the in-memory store, the rate limiter
# and the rateLimit resolver, query limits, API keys), the `errors` group (error catalogue and formatter,
# coercion errors) and the `edge` group (client identity, CORS origins, RateLimit headers, body decoding and
# parsing, the bulk lane, edge errors). With the committed baselines and nothing changed it took 73-111 s
# here (--concurrency 1); with no baseline about 15-27 minutes (TESTING.md). The inference, validation,
# redis and config groups run with `npm run test:mutation`; MUTATION_GROUP overrides the subset.
export MUTATION_GROUP="${MUTATION_GROUP:-limits,errors,edge}"
timeout --signal=INT 600 npm run test:mutation -- --incremental "$@"
echo "== mutation run: $(( $(date +%s) - start )) s"
