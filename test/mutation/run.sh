#!/usr/bin/env bash
# npm run test:mutation [-- stryker options]: one Stryker run per module group (stryker.config.mjs),
# each followed by the per-module gate. MUTATION_GROUP=inference,limits picks groups; unset runs all.
# A group only runs its own fast test files, so a module imported everywhere (errors.ts) does not drag
# every test file into every one of its mutants.
set -euo pipefail
cd "$(dirname "$0")/../.."
groups="${MUTATION_GROUP:-inference,validation,limits,redis,config,errors,edge,model,lifecycle,observability,drift,trusted,predlog,gate,explain,http,ipc,route,cluster,schema,host,misc,tracing,app}"
npx tsc -p tsconfig.json
status=0
for group in ${groups//,/ }; do
  echo "== mutation group: $group"
  start=$(date +%s)
  MUTATION_GROUP="$group" npx stryker run "$@" || status=1
  node test/mutation/score.mjs "reports/mutation/${group}.json" 85 || status=1
  echo "== $group: $(( $(date +%s) - start )) s"
done
exit "$status"
