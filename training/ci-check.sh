#!/usr/bin/env bash
# CI check for the model pipeline: retrain end to end with --quick into a temp dir, then run the
# Node ONNX parity and anomaly tests against those fresh artifacts.
# Assumes the Node tests are already compiled to dist/ (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

/usr/bin/python3 training/train.py --quick --out "$TMP"
MODEL_DIR="$TMP" node --test dist/test/model.parity.test.js dist/test/model.anomaly.test.js
