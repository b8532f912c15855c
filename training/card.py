"""Renders models/README.md (the model card) from model.json so the two never drift.

`python3 -m training.card [DIR]` re-renders DIR/README.md (default models/) from DIR/model.json after
folding in the ONNX cost measurements of bench/model-cost.json (matched by file hash); training does
the same on every run.
"""
import argparse
import json
import os

COST_FILE = "bench/model-cost.json"


def _ms(d):
    return f"{d['mean']:.4f} ± {d['std']:.4f}"


def _metrics_table(m):
    rows = ["| metric | held-out mean ± std |", "| --- | --- |"]
    rows += [f"| F1 {enum} | {_ms(v)} |" for enum, v in m["perClassF1"].items()]
    rows += [f"| binary F1 (any failure vs none) | {_ms(m['binaryF1'])} |",
             f"| six-class macro-F1 | {_ms(m['macroF1'])} |",
             f"| accuracy | {_ms(m['accuracy'])} |"]
    return "\n".join(rows)


def _confusion(cm):
    short = [label.replace("_FAILURES", "").replace("_FAILURE", "") for label in cm["labels"]]
    rows = ["| true \\ predicted | " + " | ".join(short) + " |", "| --- " * (len(short) + 1) + "|"]
    rows += [f"| {short[i]} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(cm["matrix"])]
    return "\n".join(rows)


def _us(v):
    return "not measured" if v.get("usPerRow") is None else f"{v['usPerRow']:.2f}"


def _comparison(c):
    rows = ["| family and size | protocol HDF F1 | protocol PWF F1 | protocol OSF F1 | protocol macro-F1 | "
            "near-boundary NO / HDF / PWF / OSF F1 | node visits per row | ONNX µs per row |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, v in c.items():
        f, nb = v["perClassF1"], v["nearBoundaryF1"]
        nb_text = " / ".join(f"{nb[k]['mean']:.4f}" for k in ("NO_FAILURE", "HEAT_DISSIPATION_FAILURE",
                                                              "POWER_FAILURE", "OVERSTRAIN_FAILURE"))
        visits = "-" if v["nodeVisitsPerRow"] is None else f"{v['nodeVisitsPerRow']:.0f}"
        rows.append(f"| {name} | {_ms(f['HEAT_DISSIPATION_FAILURE'])} | {_ms(f['POWER_FAILURE'])} | "
                    f"{_ms(f['OVERSTRAIN_FAILURE'])} | {_ms(v['macroF1'])} | {nb_text} | {visits} | "
                    f"{_us(v) if v['exportable'] else 'not exportable'} |")
    return "\n".join(rows)


def _cost(c):
    cost = c.get("cost")
    if not cost:
        return "No cost measurement matches these files yet (run bench/model-cost.ts, then `python3 -m training.card`)."
    rows = [f"Measured with `{cost['command']}` ({cost['rows']}-row runs, {cost['rounds']} interleaved rounds, "
            f"medians; {cost['machine']}); every file below ran in that one process.", "",
            "| ONNX file | µs per row | ratio to the previous model |", "| --- | --- | --- |"]
    rows += [f"| {r['file']}{' (previous model, v1)' if r['sha256'] == cost['reference']['sha256'] else ''} | "
             f"{r['usPerRow']:.2f} | {r['ratioToReference']:.3f} |" for r in cost["results"]]
    return "\n".join(rows)


def _boundary(nb):
    s = nb["set"]
    floors = nb["floors"]
    rows = ["| class | shipped model (refit on all rows) | floor | 5 protocol fits, mean ± std |",
            "| --- | --- | --- | --- |"]
    rows += [f"| {k} | {v:.4f} | {floors[k]} | {_ms(nb['acrossSplits'][k])} |" for k, v in nb["perClassF1"].items()]
    gaps = "\n".join(f"| {k} | {v[0]} | {v[1]} |" for k, v in s["gaps"].items())
    rules = "\n".join(f"- {k}: {v}" for k, v in s["rules"].items() if k != "source")
    return f"""`{s['file']}` ({s['rows']} readings, sha256 `{s['sha256']}`), written by the pipeline from the
dataset alone (seed {s['seed']}); never used for fitting or for choosing the family and size.

Rules (source: {s['rules']['source']}):
{rules}

Method: {METHOD}

Strata (readings kept): {', '.join(f'{k} {v}' for k, v in s['strata'].items())}; {s['nearBoundaryRows']} near a
boundary. Readings left out as undecidable while generating: {', '.join(f'{k} {v}' for k, v in s['leftOut'].items())}.
Labels: {', '.join(f'{k} {v}' for k, v in s['classCounts'].items())}.

Gaps the data cannot decide (open intervals of the rule quantity; readings inside are left out):

| quantity | last value on the failing / passing side | first value on the other side |
| --- | --- | --- |
{gaps}

{"All floors met." if nb['floorsMet'] else "**Floors not met.**"}

{chr(10).join(rows)}

Confusion matrix of the shipped model on this set:

{_confusion(nb['confusionMatrix'])}"""


METHOD = ("fresh readings recombine the dataset's own values (temperatures and torque on its 0.1 grid, "
          "speed and wear as integers, taken from different rows); 13,000 background readings combine "
          "(air, process) of one row, (speed, torque) of another, wear of a third and type of a fourth; "
          "7,000 near-boundary readings draw the rule's inputs from dataset values so that the rule "
          "quantity lands within a band around the rule's gap (half-widths: temperature difference 0.8 K, "
          "speed 80 rpm, power 280 W low / 720 W high, wear x torque 700 min Nm). The rules are applied "
          "in float64 to the decimal values (on the dataset they reproduce every HDF, PWF and OSF flag), "
          "three-valued: fails, passes, or unknown when the quantity lies inside a gap between the last "
          "failing and first passing dataset value (this also removes the 8.6 K rows whose dataset "
          "labels disagree through float rounding); first match wins in the order PWF, HDF, TWF, OSF; "
          "tool wear from 200 min on makes TWF unknown. Readings with an unknown label are left out.")


def _calibration(cal, hazard):
    rows = ["| tool wear [min] | held-out rows | observed Tool Wear Failure rate | mean predicted probability |",
            "| --- | --- | --- | --- |"]
    for b in cal["bins"]:
        obs = "-" if b["observed"] is None else f"{b['observed']:.4f}"
        pred = "-" if b["predicted"] is None else f"{b['predicted']:.4f}"
        rows.append(f"| {b['wear'][0]} to < {b['wear'][1]} | {b['rows']} | {obs} | {pred} |")
    text = f"{cal['protocol']}.\n\n" + "\n".join(rows)
    if hazard:
        text += ("\n\nShipped tool-wear hazard t (P(tool wear failure event | wear), fitted on all rows; the "
                 "TOOL_WEAR_FAILURE output is t x (p_no + p_overstrain)):\n\n| tool wear [min] | t |\n| --- | --- |\n"
                 + "\n".join(f"| {h['wear'][0]} to {h['wear'][1]} | {h['probability']:.4f} |" for h in hazard))
    return text


def _fire_rows(a):
    names = [("heldOutNormalFireRate", "held-out No Failure rows flagged (floor: at most 0.01)"),
             ("heldOutFailureFireRate", "held-out failure rows flagged"),
             ("oddReadingsFireRate",
              f"physically odd readings (`{a['oddReadingsFile']}`) flagged (floor: at least 0.95)"),
             ("nearBoundaryFireRate", f"near-boundary readings (`{a['nearBoundaryFile']}`) flagged")]
    return "\n".join(f"| {text} | {a[k]:.4f} | {a['acrossSplits'][k]['mean']:.4f} | "
                     f"{a['acrossSplits'][k]['max']:.4f} |" for k, text in names)


def render(meta):
    m, a, c, v, t = meta["metrics"], meta["anomaly"], meta["classifier"], meta["vae"], meta["training"]
    cols = meta["inputs"]["columns"]
    col_rows = "\n".join(
        f"| {i} | {x['field']} | {x['unit']} | " +
        (f"{x['min']} .. {x['max']}" if "min" in x else "L = 0, M = 1, H = 2") + " |"
        for i, x in enumerate(cols))
    labels = ", ".join(f"{i} {x['enum']}" for i, x in enumerate(meta["outputs"]["probabilities"]["labels"]))
    quick_note = (f"**This is a --quick build: every family's size (trees, rounds) is scaled by "
                  f"{t['config']['size_scale']}, so the names overstate them; ship only the full build.**"
                  if t["quick"] else "")
    random_rate = "" if c.get("randomFailureRate") is None else \
        f"Random-failure rate r (training rows no rule or tool wear explains): {c['randomFailureRate']}."
    return f"""# Model card: {meta['name']} {meta['version']}

Generated by `python3 -m training.train` (or `python3 -m training.card`) from `model.json`; do not edit by hand.
{quick_note}

## Data and licence
`{meta['dataset']['file']}` ({meta['dataset']['rows']} rows, sha256 `{meta['dataset']['sha256']}`).
{meta['dataset']['attribution']}
Any copy of this model must keep this attribution (CC BY 4.0). Provenance and generation rules: `data/README.md`.

## What the model does
One ONNX file `{meta['onnx']['file']}` ({meta['onnx']['bytes']} bytes, sha256 `{meta['onnx']['sha256']}`,
opsets ai.onnx {meta['onnx']['opset']['ai.onnx']} + ai.onnx.ml {meta['onnx']['opset']['ai.onnx.ml']},
IR {meta['onnx']['irVersion']}).

Input `readings`: float32 [N, 6], columns (min .. max seen in the training part of the seed-0 split, the
rows the anomaly VAE learned from):

| # | field | unit | training range |
| --- | --- | --- | --- |
{col_rows}

Outputs:
- `probabilities`: float32 [N, 6], columns {labels}; rows sum to 1 (no ZipMap).
- `reconstruction_error`: float32 [N]: {meta['outputs']['reconstructionError']['definition']}.

Inside the graph the readings get four derived quantities in float32 (process minus air temperature,
power = torque x speed x 2π/60, tool wear x torque, and the overstrain margin = tool wear x torque minus the
published limit of the product type, 11,000 + 1,000 x type code min Nm); every threshold is learned by the
trees. `model.json` also carries `references`: the median of each reading per product type over all rows.

## Which figures come from which fits
- Family comparison and the protocol table: each family fitted on the training part (80 %) of each of
  the {len(t['seeds'])} protocol splits, measured on that split's held-out 20 %.
- Near-boundary F1 of the families: the same {len(t['seeds'])} split fits; near-boundary F1 of the shipped model: the
  shipped model itself, the chosen family **refit on all {meta['dataset']['rows']} rows** after the protocol chose it.
- Tool-wear calibration: held-out rows of the chosen family's split fits.
- µs per row: ONNX exports of the seed-0 split fits (each with the shipped VAE) and the shipped file,
  measured in one process (bench/model-cost.ts).
- Anomaly VAE and its fire rates: {t['shippedModel'].split('anomaly VAE: ')[-1]}.

## Labels
Six single labels from the mode flags, first match wins: PWF -> Power Failure, HDF -> Heat Dissipation
Failure, TWF -> Tool Wear Failure, OSF -> Overstrain Failure, RNF -> Random Failures, else No Failure
(9652 / 112 / 95 / 78 / 45 / 18 rows). Features are the five readings and the product type only
(never UDI, Product ID, row order or the flags).

## Classifier
Family: **{c['family']}**, {c['nTrees']} trees, {c['nodes']} nodes, {c['nodeVisitsPerRow']:.0f} node visits per row,
exported as {c['onnxOperator']}.
Why: {c['why']}
Thresholds: {c['thresholds']}.
{random_rate}

Families and sizes tried (RuleBoost: gradient-boosted depth-3 trees over the rule-driven classes, see
`training/model.py`):

{_comparison(c['comparison'])}

Cost (ONNX time per row at {c['cost']['rows'] if c.get('cost') else 1000}-row runs):

{_cost(c)}

## Near-boundary evaluation
{_boundary(m['nearBoundary'])}

## Tool wear failure probability
{_calibration(m['toolWearCalibration'], c.get('toolWearHazard'))}

## Evaluation protocol and metrics
{m['protocol']}.

{_metrics_table(m)}

Six-class macro-F1 is reported as it is; it is low because tool-wear and random failures are not
predictable from one reading (see limits).

Confusion matrix (held-out rows of all {len(t['seeds'])} splits summed):

{_confusion(m['confusionMatrix'])}

Shipped model: {t['shippedModel']}.

## isAnomaly
`{a['rule']}` with threshold **{a['threshold']:.6g}**. Method: {a['method']}.
The VAE ({v['hidden']} tanh hidden layers, latent {v['latent']}, beta {v['beta']}) is trained on No Failure rows only,
so the flag means "this reading lies outside the envelope of normal operation seen in training" (units
mistaken, sensors broken, machine outside its operating range), not "a failure is coming".

| rate | shipped VAE (seed-0 split) | mean over the {len(t['seeds'])} splits | max over the splits |
| --- | --- | --- | --- |
{_fire_rows(a)}

{_drift(meta.get('drift'))}
## Known limits
- Tool Wear Failure and Random Failures are essentially unpredictable from a single reading (tool
  replacement wear is random in 200-240 min, random failures have 0.1 % probability regardless of the
  readings); their F1 is near zero and they pull macro-F1 down. Their probabilities are still output:
  tool wear as the calibrated hazard above, random failures as a constant rate.
- Heat Dissipation: the generator compared process minus air temperature against 8.6 K in float64 on
  decimal values; at exactly 8.6 K the float32 inputs cannot tell failing and passing rows apart
  (12 failing rows share their float32 temperature difference with 10 passing ones), which bounds
  the achievable F1 (see data/README.md).
- Held-out test sets are small (about 22 / 19 / 16 rows for heat dissipation / power / overstrain per split),
  hence the std column.
- Between the last failing and the first passing dataset value of a rule (the gaps above; for the
  overstrain limit of M and H products several hundred min Nm wide) the data cannot place the
  threshold; predictions there follow the learned split, not necessarily the published limit.
- The data is synthetic (AI4I 2020); the model reflects the generator's rules, not a real machine.
- The classifier extrapolates flatly outside the training range: check `isAnomaly` before trusting it.

## Reproduce / retrain
```
apt-get install -y python3-torch python3-onnx python3-sklearn
npm run train            # = /usr/bin/python3 -m training.train  (full run, writes models/ and data/near-boundary.csv)
/usr/bin/python3 -m training.train --quick --out /tmp/m   # whole pipeline with small models
/usr/bin/python3 -m training.train --candidates /tmp/cand   # also export every family's seed-0 fit
npx tsc -p tsconfig.json
node dist/bench/model-cost.js --json bench/model-cost.json old.onnx models/model.onnx /tmp/cand/*.onnx
/usr/bin/python3 -m training.card   # fold the measurements into model.json and this card
```
Seeds are fixed ({t['seeds']}); two runs give identical metrics and an identical `model.onnx`.
Set `SOURCE_DATE_EPOCH` to pin `createdAt`. `golden.json` holds {'{'}inputs, expected outputs{'}'} computed with
sklearn/PyTorch at export; `test/model.parity.test.ts` checks onnxruntime-node against it.
"""


def _drift(d):
    """The drift reference (training.drift): what live PSI per reading is measured against."""
    if not d:
        return ""
    mix = ", ".join(f"{k} {v:.2%}" for k, v in d["classMix"].items())
    rows = "\n".join(
        f"| {f['field']} | {', '.join(f'{e:g}' for e in f['edges'])} | "
        f"{' / '.join(f'{x:.3f}' for x in f['fractions'])} |"
        for f in d["fields"])
    return f"""## Drift reference
The server counts every served reading into these bins over a sliding window and reports the
Population Stability Index per reading against the training fractions (docs/monitoring.md).
Rows: {d['rows']}, {d['rowsNote']}. Binning: {d['binning']}. PSI epsilon for empty bins: {d['psiEpsilon']}.

| reading | bin edges | training fraction per bin |
| --- | --- | --- |
{rows}

Training class mix: {mix}.
Anomaly rate on normal training readings: {d['anomalyRate']:.4%} ({d['anomalyRateNote']}).

"""


def fold_costs(meta, cost):
    """Attaches bench/model-cost.ts measurements to model.json's classifier entries by ONNX hash."""
    c = meta["classifier"]
    if not cost:
        return meta
    by_sha = {r["sha256"]: r for r in cost["results"]}
    for v in c["comparison"].values():
        v["usPerRow"] = by_sha.get(v.get("candidateOnnxSha256"), {}).get("usPerRow")
    c["cost"] = {k: cost[k] for k in ("command", "rows", "rounds", "machine", "reference", "results")}
    return meta


def main():
    ap = argparse.ArgumentParser(prog="python3 -m training.card", description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", default="models", help="folder with model.json (default models/)")
    ap.add_argument("--cost", default=COST_FILE, help=f"bench/model-cost.ts output (default {COST_FILE})")
    args = ap.parse_args()
    path = os.path.join(args.dir, "model.json")
    with open(path, encoding="utf-8") as f:
        meta = json.load(f)
    cost = None
    if os.path.exists(args.cost):
        with open(args.cost, encoding="utf-8") as f:
            cost = json.load(f)
    meta = fold_costs(meta, cost)
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(meta, indent=1) + "\n")
    with open(os.path.join(args.dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(render(meta))


if __name__ == "__main__":
    main()
