#!/usr/bin/python3
"""Trains the AI4I 2020 failure-type classifier and anomaly VAE; exports one ONNX model.

Usage: /usr/bin/python3 training/train.py [--quick] [--out DIR]
Outputs in DIR: model.onnx, model.json, golden.json, README.md (model card).
Deterministic: fixed seeds, single-threaded torch, no timestamps inside hashed files
(createdAt comes from SOURCE_DATE_EPOCH when set).
"""
import argparse
import datetime
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import card  # noqa: E402
import golden  # noqa: E402
from data import (CLASSES, DATA_FILE, FEATURE_NAMES, READING_COLUMNS, TYPE_CODES,  # noqa: E402
                  VAE_FEATURE_IDX, features, load_dataset, sha256_file)
from export import OPSET, build_model  # noqa: E402
from protocol import (SEEDS, TEST_SIZE, compare_families, evaluate_vae, selection_score,  # noqa: E402
                      split, summarise)

VERSION = "1.0.0"
ODD_FILE = "data/anomaly-readings.json"
ATTRIBUTION = ('Stephan Matzka, "AI4I 2020 Predictive Maintenance Dataset", UCI Machine Learning '
               'Repository, 2020, https://doi.org/10.24432/C5HS5C. Licensed CC BY 4.0.')

FULL = dict(trees=200, mlp_iter=300, vae_epochs=150, vae_calibration=0.2, anomaly_quantile=0.997)
QUICK = dict(trees=40, mlp_iter=60, vae_epochs=30, vae_calibration=0.2, anomaly_quantile=0.997)


def log(msg):
    print(msg, flush=True)


def load_odd_readings(path=ODD_FILE):
    with open(path, encoding="utf-8") as f:
        odd = json.load(f)
    X = np.array([[o["airTemperature"], o["processTemperature"], o["rotationalSpeed"], o["torque"],
                   o["toolWear"], TYPE_CODES[o["productType"]]] for o in odd], dtype=np.float32)
    return [o["why"] for o in odd], X


def created_at():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else \
        datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return t.isoformat().replace("+00:00", "Z")


def choose_family(results):
    """Best exportable family by mean F1 over the rule-driven classes (HDF, PWF, OSF)."""
    exportable = {k: v for k, v in results.items() if v["exportable"]}
    return max(exportable, key=lambda k: (selection_score(exportable[k]["summary"]), k))


def input_columns(train_readings):
    cols = [{"field": field, "column": column, "unit": unit,
             "min": round(float(train_readings[:, i].min()), 4),
             "max": round(float(train_readings[:, i].max()), 4)}
            for i, (field, column, unit) in enumerate(READING_COLUMNS)]
    cols.append({"field": "productType", "column": "Type", "unit": "category", "encoding": TYPE_CODES})
    return cols


def model_json(ctx):
    r, fam, vae_runs = ctx["results"], ctx["family"], ctx["vae_runs"]
    fire = lambda k: {"mean": round(float(np.mean([v[k] for v in vae_runs])), 4),  # noqa: E731
                      "max": round(float(np.max([v[k] for v in vae_runs])), 4)}
    summary = r[fam]["summary"]
    shipped = next(v for v in vae_runs if v["seed"] == SEEDS[0])
    return {
        "name": "ai4i2020-failure-model",
        "version": f"{VERSION}+{ctx['onnx_sha'][:12]}",
        "createdAt": created_at(),
        "createdAtNote": "not part of any hash; set SOURCE_DATE_EPOCH for a fixed value",
        "dataset": {"file": DATA_FILE, "sha256": ctx["data_sha"], "rows": ctx["rows"],
                    "licence": "CC BY 4.0", "attribution": ATTRIBUTION},
        "onnx": {"file": "model.onnx", "sha256": ctx["onnx_sha"], "opset": OPSET,
                 "irVersion": ctx["ir_version"], "bytes": ctx["onnx_bytes"]},
        "inputs": {"name": "readings", "dtype": "float32", "shape": ["N", 6],
                   "columns": input_columns(ctx["train_readings"])},
        "outputs": {
            "probabilities": {"name": "probabilities", "dtype": "float32", "shape": ["N", 6],
                              "labels": [{"enum": e, "label": l} for e, l in CLASSES]},
            "reconstructionError": {
                "name": "reconstruction_error", "dtype": "float32", "shape": ["N"],
                "definition": "mean over 8 VAE inputs (air K, process K, speed rpm, torque Nm, wear min, "
                              "process-air K, power W, wear x torque) of the squared difference between "
                              "the input standardised with training-normal mean/std and its VAE "
                              "reconstruction decoded from the latent mean (no sampling)"}},
        "anomaly": {
            "threshold": ctx["threshold"],
            "rule": "isAnomaly = reconstruction_error > threshold",
            "method": f"per split, the VAE is fitted on {100 - int(100 * ctx['cfg']['vae_calibration'])} % "
                      f"of the training No Failure rows; threshold = {ctx['cfg']['anomaly_quantile']} "
                      f"quantile of the reconstruction errors of the other "
                      f"{int(100 * ctx['cfg']['vae_calibration'])} % (calibration rows, never fitted)",
            # Plain numbers are the shipped model (seed-0 split); acrossSplits has all 5 splits.
            "heldOutNormalFireRate": round(shipped["heldOutNormalFireRate"], 4),
            "heldOutFailureFireRate": round(shipped["heldOutFailureFireRate"], 4),
            "oddReadingsFireRate": round(shipped["oddReadingsFireRate"], 4),
            "oddReadingsFile": ODD_FILE,
            "acrossSplits": {k: fire(k) for k in ("heldOutNormalFireRate", "heldOutFailureFireRate",
                                                  "oddReadingsFireRate")},
            "perSeed": vae_runs,
        },
        "classifier": {
            "family": fam,
            "onnxOperator": "ai.onnx.ml TreeEnsembleClassifier (aggregate SUM of leaf class "
                            "probabilities / n_trees, post_transform NONE)",
            "why": ctx["why"],
            "features": FEATURE_NAMES,
            "nTrees": len(ctx["forest"].estimators_),
            "nodes": int(sum(e.tree_.node_count for e in ctx["forest"].estimators_)),
            "thresholds": "float64 sklearn thresholds stored as the largest float32 <= threshold, so "
                          "decisions match sklearn for every float32 input",
            "comparison": {k: {"exportable": v["exportable"],
                               "ruleClassF1Mean": round(selection_score(v["summary"]), 4),
                               "perClassF1": v["summary"]["perClassF1"],
                               "binaryF1": v["summary"]["binaryF1"],
                               "macroF1": v["summary"]["macroF1"]} for k, v in r.items()},
        },
        "vae": {"inputs": [FEATURE_NAMES[i] for i in VAE_FEATURE_IDX], "latent": 4,
                "hidden": [32, 16], "activation": "tanh", "beta": 0.1,
                "epochs": ctx["cfg"]["vae_epochs"], "optimizer": "Adam lr 2e-3, cosine schedule, batch 128",
                "trainedOn": "No Failure rows of the shipped split's training part (80 % of them; "
                             "the other 20 % calibrate the threshold)",
                "standardisation": {"mean": ctx["vae"].mean.tolist(), "std": ctx["vae"].std.tolist()}},
        "training": {"quick": ctx["quick"], "config": ctx["cfg"], "seeds": SEEDS,
                     "shippedModel": f"trained on the training part (80 %) of the seed-{SEEDS[0]} split; "
                                     "its held-out rows are listed in heldOutUDIs",
                     "heldOutUDIs": ctx["held_out_udis"]},
        "metrics": {"protocol": f"stratified {int(100 * (1 - TEST_SIZE))}/{int(100 * TEST_SIZE)} "
                                f"train/test splits with seeds {SEEDS}; every number is measured on "
                                "held-out rows only; mean and population std over the splits; "
                                "confusion matrix summed over the held-out parts",
                    **{k: summary[k] for k in ("perClassF1", "binaryF1", "macroF1", "accuracy",
                                               "confusionMatrix", "perSeed")}},
    }


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small models, whole pipeline in < 2 min")
    ap.add_argument("--out", default="models", help="output directory (default models/)")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    t0 = time.time()
    torch.set_num_threads(1)  # reproducible float reductions
    os.makedirs(args.out, exist_ok=True)

    udi, readings, labels = load_dataset()
    X = features(readings)
    odd_why, odd_X = load_odd_readings()
    V, V_odd = X[:, VAE_FEATURE_IDX], features(odd_X)[:, VAE_FEATURE_IDX]
    log(f"data: {len(labels)} rows, class counts {np.bincount(labels).tolist()}")

    log("classifier families (5 stratified splits):")
    results, fitted = compare_families(X, labels, cfg, log)
    family = choose_family(results)
    best_net = max(v["summary"]["perClassF1"]["HEAT_DISSIPATION_FAILURE"]["mean"]
                   for v in results.values() if not v["exportable"])
    why = (f"highest mean held-out F1 over the rule-driven classes (heat dissipation, power, "
           f"overstrain): {selection_score(results[family]['summary']):.4f}; the network baseline "
           f"reaches heat-dissipation F1 {best_net:.4f}. Trees learn the generator's axis-aligned "
           f"thresholds on the derived features directly.")
    log(f"chosen: {family}")

    log("anomaly VAE (5 splits):")
    vae_runs, (vae, threshold) = evaluate_vae(V, labels, V_odd, cfg, log)

    tr, te = split(labels, SEEDS[0])
    forest = fitted[family]
    model = build_model(forest, vae, len(CLASSES))
    onnx_bytes = model.SerializeToString()
    onnx_path = os.path.join(args.out, "model.onnx")
    with open(onnx_path, "wb") as f:
        f.write(onnx_bytes)

    cases = (golden.class_cases(readings, labels, te) + golden.physics_cases()
             + golden.range_cases(readings[tr])
             + golden.split_boundary_cases(forest, readings[tr])
             + golden.odd_cases(zip(odd_why, odd_X)))
    write(os.path.join(args.out, "golden.json"), json.dumps(golden.build(cases, forest, vae), indent=1) + "\n")

    ctx = dict(results=results, family=family, why=why, vae_runs=vae_runs, vae=vae, threshold=threshold,
               forest=forest, cfg=cfg, quick=args.quick, train_readings=readings[tr],
               held_out_udis=sorted(int(u) for u in udi[te]), rows=len(labels),
               data_sha=sha256_file(DATA_FILE), onnx_sha=hashlib.sha256(onnx_bytes).hexdigest(),
               onnx_bytes=len(onnx_bytes), ir_version=model.ir_version)
    meta = model_json(ctx)
    write(os.path.join(args.out, "model.json"), json.dumps(meta, indent=1) + "\n")
    write(os.path.join(args.out, "README.md"), card.render(meta))
    log(f"wrote {args.out}/ (model.onnx {len(onnx_bytes)} bytes, {meta['version']}) "
        f"in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
