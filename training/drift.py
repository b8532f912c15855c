"""Reference distributions for live drift detection, written into model.json's `drift` section.

Usage: /usr/bin/python3 -m training.drift [DIR] [--check]
Recomputes the section from the committed artifacts alone (the dataset, the seed-0 split recorded in
model.json's training.heldOutUDIs, and the VAE inside model.onnx), so adding or refreshing it never
retrains or replaces the model: the ONNX file, its hash and golden.json stay as they are. --check
compares instead of writing and exits 1 on any difference (CI). training.train writes the same section.
Deterministic: quantiles of fixed rows, no randomness.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch

from .data import CLASSES, READING_COLUMNS, VAE_FEATURE_IDX, Dataset, features
from .vae import VAE, score

BINS = 10
EPSILON = 1e-4
ROUND = 6


def bin_index(edges, x):
    """Bin of each value: the number of edges <= value (first bin open below, last open above).
    The server (src/inference/drift.ts) uses the same rule."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), np.asarray(x, dtype=np.float64), side="right")


def field_bins(x, bins=BINS):
    """Quantile bins of one reading: edges at the (lower) deciles, duplicates dropped (readings are
    recorded to 0.1 K, 1 rpm, 0.1 Nm, 1 min, so ties are common)."""
    x = np.asarray(x, dtype=np.float64)
    qs = [i / bins for i in range(1, bins)]
    edges = sorted({float(np.quantile(x, q, method="lower")) for q in qs})
    # An edge at the minimum would leave the open first bin empty in training.
    edges = [e for e in edges if e > x.min()]
    counts = np.bincount(bin_index(edges, x), minlength=len(edges) + 1)
    return {"edges": edges, "fractions": [round(float(c) / len(x), ROUND) for c in counts]}


def reference(readings64, labels, normal_errors, threshold):
    """The section itself. `readings64`/`labels`: the training rows; `normal_errors`: the VAE's
    reconstruction errors on the No Failure training rows."""
    mix = np.bincount(labels, minlength=len(CLASSES)) / len(labels)
    normal_errors = np.asarray(normal_errors, dtype=np.float64)
    return {
        "rows": int(len(labels)),
        "rowsNote": "the training part of the seed-0 split (dataset rows not in training.heldOutUDIs): the rows "
                    "the input ranges and the anomaly VAE come from",
        "binning": f"{BINS} quantile bins per reading (edges at the lower deciles, duplicates dropped); a value "
                   "v falls in bin i = number of edges <= v, so the first bin is open below and the last open above",
        "psiEpsilon": EPSILON,
        "fields": [{"field": field, **field_bins(readings64[:, i])} for i, (field, _, _) in enumerate(READING_COLUMNS)],
        "classMix": {enum: round(float(mix[i]), ROUND) for i, (enum, _) in enumerate(CLASSES)},
        "anomalyRate": round(float(np.mean(normal_errors > threshold)), ROUND),
        "anomalyRateNote": "share of the training part's No Failure rows with reconstruction_error > anomaly.threshold "
                           "(the VAE was fitted on 80 % of them, so this is slightly below the held-out rate)",
    }


def vae_from_onnx(onnx_bytes):
    """The shipped VAE, rebuilt from model.onnx's `vae/` initializers (their names are the module's
    state_dict keys; see export.vae_graph)."""
    import onnx
    from onnx import numpy_helper
    inits = {i.name[len("vae/"):]: numpy_helper.to_array(i)
             for i in onnx.load_from_string(onnx_bytes).graph.initializer if i.name.startswith("vae/")}
    vae = VAE(inits["mean"], inits["std"])
    state = {k: torch.from_numpy(np.array(v)) for k, v in inits.items()}
    missing = vae.load_state_dict(state, strict=False).missing_keys
    # logvar is not part of the exported scorer; anything else missing means a different architecture.
    if set(missing) - {"logvar.weight", "logvar.bias"}:
        raise SystemExit(f"model.onnx VAE does not match training/vae.py (missing {missing})")
    vae.eval()
    return vae


def from_artifacts(model_dir):
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        meta = json.load(f)
    with open(os.path.join(model_dir, meta["onnx"]["file"]), "rb") as f:
        onnx_bytes = f.read()
    if hashlib.sha256(onnx_bytes).hexdigest() != meta["onnx"]["sha256"]:
        raise SystemExit("model.onnx does not match model.json's onnx.sha256")
    ds = Dataset()
    held_out = set(meta["training"]["heldOutUDIs"])
    tr = np.array([int(u) not in held_out for u in ds.udi])
    normal = tr & (ds.labels == 0)
    errors = score(vae_from_onnx(onnx_bytes), features(ds.readings[normal])[:, VAE_FEATURE_IDX])
    return meta, reference(ds.readings64[tr], ds.labels[tr], errors, meta["anomaly"]["threshold"])


def with_section(meta, section):
    """model.json with `drift` placed after `anomaly` (key order is kept on rewrite)."""
    out = {}
    for k, v in meta.items():
        if k != "drift":
            out[k] = v
        if k == "anomaly":
            out["drift"] = section
    return out


def main():
    ap = argparse.ArgumentParser(prog="python3 -m training.drift", description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", default="models", help="folder with model.json and model.onnx")
    ap.add_argument("--check", action="store_true", help="compare with model.json instead of writing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    meta, section = from_artifacts(args.dir)
    if args.check:
        if meta.get("drift") != section:
            print(f"{args.dir}/model.json: the drift section differs from the recomputed one; "
                  "run `/usr/bin/python3 -m training.drift`", file=sys.stderr)
            sys.exit(1)
        print(f"{args.dir}/model.json: drift section matches")
        return
    from . import card
    meta = with_section(meta, section)
    with open(os.path.join(args.dir, "model.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(meta, indent=1) + "\n")
    with open(os.path.join(args.dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(card.render(meta))
    print(f"wrote the drift section of {args.dir}/model.json ({section['rows']} rows)")


if __name__ == "__main__":
    main()
