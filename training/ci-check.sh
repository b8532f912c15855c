#!/usr/bin/env bash
# CI check for the model pipeline: retrain end to end with --quick into a temp dir, then run the
# Node ONNX parity, anomaly and near-boundary tests against those fresh artifacts. The pipeline also
# rewrites data/near-boundary.csv, which depends on the dataset alone: git must see it unchanged.
# Assumes the Node tests are already compiled to dist/ (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# The committed drift reference must be what training.drift computes from the committed artifacts,
# and the one training.train writes must equal the one recomputed from its own artifacts.
/usr/bin/python3 -m training.drift --check models
/usr/bin/python3 -m training.train --quick --out "$TMP"
/usr/bin/python3 -m training.drift --check "$TMP"
git diff --exit-code -- data/near-boundary.csv
MODEL_DIR="$TMP" node --test dist/test/model.parity.test.js dist/test/model.anomaly.test.js \
  dist/test/model.boundary.test.js
