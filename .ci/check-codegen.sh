#!/usr/bin/env bash
# Fails when the committed schema.graphql, the generated typed client (client/generated/) or the trusted-documents
# manifest (client/persisted-documents.json) is stale:
# regenerates both (offline, deterministic) and compares with what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== codegen: schema.graphql + client/generated/"
npm run --silent codegen

status=0
if ! git diff --exit-code --stat -- schema.graphql client/; then
  echo "ERROR: schema.graphql or client/generated/ is stale. Run \`npm run codegen\` and commit the result." >&2
  git --no-pager diff -- schema.graphql client/ | head -200 >&2
  status=1
fi
untracked=$(git ls-files --others --exclude-standard -- schema.graphql client/generated/ client/persisted-documents.json)
if [ -n "$untracked" ]; then
  echo "ERROR: codegen wrote files that are not committed:" >&2
  echo "$untracked" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "codegen output is up to date"
exit "$status"
