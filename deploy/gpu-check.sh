#!/usr/bin/env bash
# GPU host check, in under five minutes: installs onnxruntime-node's CUDA 12 provider, builds, starts the
# server with INFERENCE_DEVICE=cuda, checks health.device is cuda and golden parity through the API, and
# prints CPU and GPU throughput measured on this host side by side (bench/gpu-check.ts).
#
#   bash deploy/gpu-check.sh                 # on a host with an NVIDIA driver, CUDA 12 and cuDNN 9
#   bash deploy/gpu-check.sh --cpu-only      # the CPU half only (no install, no GPU needed)
#   bash deploy/gpu-check.sh --seconds 5     # shorter throughput rounds (default 10 s each)
#
# Needs internet access for the provider download (from onnxruntime's package feed). Exit code 1 on any
# failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

cpu_only=0
seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-only) cpu_only=1 ;;
    --seconds) seconds="$2"; shift ;;
    *) echo "usage: $0 [--cpu-only] [--seconds N]" >&2; exit 2 ;;
  esac
  shift
done
started=$(date +%s)

provider=node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so
if [ "$cpu_only" = 0 ]; then
  echo "== GPU"
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L; then
    echo "no NVIDIA driver here (nvidia-smi failed); run with --cpu-only on a machine without a GPU" >&2
    exit 1
  fi
  echo "== install: npm ci, then onnxruntime-node's CUDA 12 provider"
  npm ci --no-audit --no-fund
  # .npmrc skips the provider download and recent npm versions block dependency install scripts, so the
  # package's own install script runs here with the flag it documents.
  ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js
  test -f "$provider" || { echo "the CUDA provider did not install ($provider missing)" >&2; exit 1; }
elif [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi

echo "== build"
npx tsc -p tsconfig.json

args=(--seconds "$seconds")
[ "$cpu_only" = 1 ] && args+=(--cpu-only)
node dist/bench/gpu-check.js "${args[@]}"
echo "== total $(( $(date +%s) - started )) s (install, build, checks, measurements)"
