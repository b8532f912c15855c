"""Trains the AI4I 2020 failure-type classifier and anomaly VAE; exports one ONNX model.

Usage: /usr/bin/python3 -m training.train [--quick] [--out DIR] [--candidates DIR]
Outputs in DIR: model.onnx, model.json, golden.json, README.md (model card); data/near-boundary.csv.
--candidates DIR also exports every exportable family's seed-0 fit there, for bench/model-cost.ts.
Deterministic: fixed seeds, single-threaded torch, no timestamps inside hashed files
(createdAt comes from SOURCE_DATE_EPOCH when set).
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import time

import numpy as np
import torch
from sklearn.metrics import confusion_matrix

from . import boundary, card, drift, golden
from .data import (CLASSES, DATA_FILE, FEATURE_NAMES, READING_COLUMNS, TYPE_CODES, VAE_FEATURE_IDX, Dataset,
                   features, references, sha256_file)
from .export import OPSET, build_model
from .model import RuleBoost, Targets, candidates
from .protocol import (SEEDS, TEST_SIZE, boundary_metrics, compare_families, evaluate_vae, selection_score,
                       split)
from .vae import score

VERSION = "2.0.0"
ODD_FILE = "data/anomaly-readings.json"
ATTRIBUTION = ('Stephan Matzka, "AI4I 2020 Predictive Maintenance Dataset", UCI Machine Learning '
               'Repository, 2020, https://doi.org/10.24432/C5HS5C. Licensed CC BY 4.0.')

FULL = dict(size_scale=1.0, mlp_iter=300, vae_epochs=150, vae_calibration=0.2, anomaly_quantile=0.997)
QUICK = dict(size_scale=0.2, mlp_iter=60, vae_epochs=30, vae_calibration=0.2, anomaly_quantile=0.997)
# Near-boundary floors (issue 12) on the shipped model.
BOUNDARY_FLOORS = {"NO_FAILURE": 0.995, "HEAT_DISSIPATION_FAILURE": 0.98, "POWER_FAILURE": 0.98,
                   "OVERSTRAIN_FAILURE": 0.98}
COST_FILE = "bench/model-cost.json"


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
    """Best exportable family by held-out mean F1 over the rule-driven classes (HDF, PWF, OSF), to four
    decimals; ties go to the fewer tree-node visits per row. The near-boundary set plays no part."""
    exportable = {k: v for k, v in results.items() if v["exportable"]}
    return max(exportable, key=lambda k: (round(selection_score(exportable[k]["summary"]), 4),
                                          -exportable[k]["nodeVisitsPerRow"], k))


def measured_costs(path=COST_FILE):
    """bench/model-cost.ts results keyed by ONNX sha256 (measurements are inputs, never computed here)."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def input_columns(train_readings):
    cols = [{"field": field, "column": column, "unit": unit,
             "min": round(float(train_readings[:, i].min()), 4),
             "max": round(float(train_readings[:, i].max()), 4)}
            for i, (field, column, unit) in enumerate(READING_COLUMNS)]
    cols.append({"field": "productType", "column": "Type", "unit": "category", "encoding": TYPE_CODES})
    return cols


def classifier_json(ctx):
    r, fam, model = ctx["results"], ctx["family"], ctx["model"]
    trees = [t for _, t in model.trees()]
    boost = isinstance(model, RuleBoost)
    cost = ctx["costs"]
    by_sha = {c["sha256"]: c for c in cost["results"]} if cost else {}
    return {
        "family": fam,
        "onnxOperator": ("ai.onnx.ml TreeEnsembleRegressor (5 targets: 4 boosting scores, SUM with the "
                         "initial log-priors as base values, then Softmax; target 5 the tool-wear hazard) "
                         "and the priority combination of model.RuleBoost") if boost else
                        ("ai.onnx.ml TreeEnsembleClassifier (aggregate SUM of leaf class probabilities / "
                         "n_trees, post_transform NONE)"),
        "why": ctx["why"],
        "features": FEATURE_NAMES,
        "nTrees": len(trees),
        "nodes": int(sum(t.tree_.node_count for t in trees)),
        "nodeVisitsPerRow": r[fam]["nodeVisitsPerRow"],
        "randomFailureRate": round(model.random_rate, 6) if boost else None,
        "toolWearHazard": ctx["hazard"],
        "thresholds": "float64 sklearn thresholds stored as the largest float32 <= threshold, so "
                      "decisions match sklearn for every float32 input",
        "comparison": {k: {"exportable": v["exportable"],
                           "ruleClassF1Mean": round(selection_score(v["summary"]), 4),
                           "perClassF1": v["summary"]["perClassF1"],
                           "binaryF1": v["summary"]["binaryF1"],
                           "macroF1": v["summary"]["macroF1"],
                           "nearBoundaryF1": v["boundary"],
                           "nodeVisitsPerRow": v["nodeVisitsPerRow"],
                           "candidateOnnxSha256": ctx["candidate_shas"].get(k),
                           "usPerRow": by_sha.get(ctx["candidate_shas"].get(k), {}).get("usPerRow")}
                       for k, v in r.items()},
        "cost": None if not cost else {
            k: cost[k] for k in ("command", "rows", "rounds", "machine", "reference", "results")},
    }


def model_json(ctx):
    r, fam, vae_runs = ctx["results"], ctx["family"], ctx["vae_runs"]
    fire = lambda k: {"mean": round(float(np.mean([v[k] for v in vae_runs])), 4),  # noqa: E731
                      "max": round(float(np.max([v[k] for v in vae_runs])), 4)}
    summary = r[fam]["summary"]
    shipped_vae = next(v for v in vae_runs if v["seed"] == SEEDS[0])
    rates = ("heldOutNormalFireRate", "heldOutFailureFireRate", "oddReadingsFireRate", "nearBoundaryFireRate")
    nb = ctx["nb_shipped"]
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
        "references": ctx["references"],
        "referencesNote": "median of each reading per product type over all dataset rows",
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
            # Plain numbers are the shipped VAE (seed-0 split); acrossSplits has all 5 splits.
            **{k: round(shipped_vae[k], 4) for k in rates},
            "oddReadingsFile": ODD_FILE,
            "nearBoundaryFile": boundary.FILE,
            "acrossSplits": {k: fire(k) for k in rates},
            "perSeed": vae_runs,
        },
        "classifier": classifier_json(ctx),
        "vae": {"inputs": [FEATURE_NAMES[i] for i in VAE_FEATURE_IDX], "latent": 4,
                "hidden": [32, 16], "activation": "tanh", "beta": 0.1,
                "epochs": ctx["cfg"]["vae_epochs"], "optimizer": "Adam lr 2e-3, cosine schedule, batch 128",
                "trainedOn": "No Failure rows of the seed-0 split's training part (80 % of them; "
                             "the other 20 % calibrate the threshold)",
                "standardisation": {"mean": ctx["vae"].mean.tolist(), "std": ctx["vae"].std.tolist()}},
        "training": {"quick": ctx["quick"], "config": ctx["cfg"], "seeds": SEEDS,
                     "shippedModel": "classifier: the chosen family refit on all "
                                     f"{ctx['rows']} rows after the protocol chose family and size; "
                                     f"anomaly VAE: the seed-{SEEDS[0]} split's (its threshold needs "
                                     "rows it never saw), whose held-out rows are listed in heldOutUDIs",
                     "heldOutUDIs": ctx["held_out_udis"]},
        "metrics": {"protocol": f"stratified {int(100 * (1 - TEST_SIZE))}/{int(100 * TEST_SIZE)} "
                                f"train/test splits with seeds {SEEDS}; every number is measured on "
                                "held-out rows only; mean and population std over the splits; "
                                "confusion matrix summed over the held-out parts",
                    **{k: summary[k] for k in ("perClassF1", "binaryF1", "macroF1", "accuracy",
                                               "confusionMatrix", "perSeed")},
                    "nearBoundary": {
                        "protocol": f"{nb['set']['rows']} readings of {boundary.FILE} (never used for "
                                    "fitting or choosing); perClassF1 is the shipped model (refit on all "
                                    "rows), acrossSplits the chosen family's 5 protocol fits",
                        "perClassF1": nb["perClassF1"],
                        "acrossSplits": r[fam]["boundary"],
                        "floors": BOUNDARY_FLOORS,
                        "floorsMet": all(nb["perClassF1"][k] >= v for k, v in BOUNDARY_FLOORS.items()),
                        "confusionMatrix": nb["confusion"],
                        "set": nb["set"]},
                    "toolWearCalibration": {
                        "protocol": "held-out rows of the 5 protocol splits pooled (the chosen family's "
                                    "split fits); observed = share of rows labelled Tool Wear Failure, "
                                    "predicted = mean TOOL_WEAR_FAILURE probability",
                        "bins": r[fam]["twfCalibration"]}},
    }


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def hazard_table(model):
    """The shipped tool-wear hazard as wear intervals (RuleBoost only)."""
    if not isinstance(model, RuleBoost):
        return None
    grid = np.arange(0, 301, dtype=np.float32)
    t = model.twf_hazard(np.column_stack([np.zeros((len(grid), 4), np.float32), grid]))
    rows, start = [], 0
    for i in range(1, len(grid) + 1):
        if i == len(grid) or t[i] != t[start]:
            rows.append({"wear": [int(grid[start]), int(grid[i - 1])], "probability": round(float(t[start]), 4)})
            start = i
    return rows


def main():
    ap = argparse.ArgumentParser(prog="python3 -m training.train", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small models, whole pipeline in a few minutes")
    ap.add_argument("--out", default="models", help="output directory (default models/)")
    ap.add_argument("--candidates", help="also export each family's seed-0 fit as DIR/<family>.onnx")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    t0 = time.time()
    torch.set_num_threads(1)  # reproducible float reductions
    os.makedirs(args.out, exist_ok=True)

    ds = Dataset()
    X = features(ds.readings)
    targets = Targets(ds.labels, ds.rule_labels, ds.flags["TWF"])
    odd_why, odd_X = load_odd_readings()
    V, V_odd = X[:, VAE_FEATURE_IDX], features(odd_X)[:, VAE_FEATURE_IDX]
    log(f"data: {len(ds.labels)} rows, class counts {np.bincount(ds.labels).tolist()}")

    nb_r64, nb_y, nb_strata, gaps, left_out = boundary.build(ds)
    nb_sha = boundary.write_csv(boundary.FILE, nb_r64, nb_y, nb_strata)
    nb_X = features(nb_r64.astype(np.float32))
    nb_set = boundary.describe(nb_y, nb_strata, gaps, left_out, nb_sha)
    log(f"near-boundary set: {len(nb_y)} readings, {nb_set['nearBoundaryRows']} near a boundary, "
        f"classes {nb_set['classCounts']}")

    log("classifier families (5 stratified splits):")
    results, fitted = compare_families(X, targets, cfg, log, nb_X, nb_y)
    family = choose_family(results)
    best_net = max(v["summary"]["perClassF1"]["HEAT_DISSIPATION_FAILURE"]["mean"]
                   for v in results.values() if not v["exportable"])
    why = (f"highest held-out mean F1 over the rule-driven classes (heat dissipation, power, "
           f"overstrain): {selection_score(results[family]['summary']):.4f} (ties to four decimals go to "
           f"the fewer node visits per row); the network baseline reaches heat-dissipation F1 "
           f"{best_net:.4f}. Trees learn the generator's axis-aligned thresholds on the derived features "
           f"directly. The near-boundary set played no part in the choice.")
    log(f"chosen: {family}; refitting on all {len(ds.labels)} rows")
    model = candidates(cfg)[family]["make"](SEEDS[0]).fit(X, targets)
    nb_pred = model.predict_proba(nb_X).argmax(axis=1)
    nb_shipped = {"perClassF1": boundary_metrics(nb_y, nb_pred), "set": nb_set,
                  "confusion": {"labels": [c[0] for c in CLASSES],
                                "matrix": confusion_matrix(nb_y, nb_pred, labels=list(range(len(CLASSES)))).tolist()}}
    log(f"shipped model near-boundary F1: {nb_shipped['perClassF1']}")

    log("anomaly VAE (5 splits):")
    vae_runs, (vae, threshold) = evaluate_vae(V, ds.labels, V_odd, nb_X[:, VAE_FEATURE_IDX], cfg, log)

    candidate_shas = {}
    if args.candidates:
        os.makedirs(args.candidates, exist_ok=True)
        for name, m in fitted.items():
            if results[name]["exportable"]:
                b = build_model(m, vae, len(CLASSES)).SerializeToString()
                candidate_shas[name] = hashlib.sha256(b).hexdigest()
                with open(os.path.join(args.candidates, slug(name) + ".onnx"), "wb") as f:
                    f.write(b)
    else:  # the hashes only; the bench file matches measurements to them
        for name, m in fitted.items():
            if results[name]["exportable"]:
                candidate_shas[name] = hashlib.sha256(build_model(m, vae, len(CLASSES)).SerializeToString()).hexdigest()

    tr, te = split(ds.labels, SEEDS[0])
    onnx_model = build_model(model, vae, len(CLASSES))
    onnx_bytes = onnx_model.SerializeToString()
    with open(os.path.join(args.out, "model.onnx"), "wb") as f:
        f.write(onnx_bytes)

    readings, labels = ds.readings, ds.labels
    cases = (golden.class_cases(readings, labels, te) + golden.physics_cases()
             + golden.range_cases(readings[tr])
             + golden.split_boundary_cases(model, readings)
             + golden.odd_cases(zip(odd_why, odd_X)))
    write(os.path.join(args.out, "golden.json"), json.dumps(golden.build(cases, model, vae), indent=1) + "\n")

    ctx = dict(results=results, family=family, why=why, vae_runs=vae_runs, vae=vae, threshold=threshold,
               model=model, cfg=cfg, quick=args.quick, train_readings=readings[tr],
               held_out_udis=sorted(int(u) for u in ds.udi[te]), rows=len(labels),
               data_sha=sha256_file(DATA_FILE), onnx_sha=hashlib.sha256(onnx_bytes).hexdigest(),
               onnx_bytes=len(onnx_bytes), ir_version=onnx_model.ir_version, nb_shipped=nb_shipped,
               references=references(ds.readings64), hazard=hazard_table(model),
               candidate_shas=candidate_shas, costs=measured_costs())
    normal_tr = tr[ds.labels[tr] == 0]
    meta = drift.with_section(model_json(ctx), drift.reference(
        ds.readings64[tr], ds.labels[tr], score(vae, V[normal_tr]), threshold))
    write(os.path.join(args.out, "model.json"), json.dumps(meta, indent=1) + "\n")
    write(os.path.join(args.out, "README.md"), card.render(meta))
    if not meta["metrics"]["nearBoundary"]["floorsMet"]:
        log(f"WARNING: near-boundary floors {BOUNDARY_FLOORS} not met")
    log(f"wrote {args.out}/ (model.onnx {len(onnx_bytes)} bytes, {meta['version']}) "
        f"in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
