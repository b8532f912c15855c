"""Golden cases: inputs with outputs computed in Python (sklearn + PyTorch) at export time."""
import numpy as np

from .data import CLASSES, VAE_FEATURE_IDX, features
from .vae import score


def _row(air=300.0, proc=310.0, speed=1500.0, torque=40.0, wear=100.0, ptype=0.0):
    return [air, proc, speed, torque, wear, ptype]


def class_cases(readings, labels, test_rows, per_class=6):
    """Dataset rows of every class, held-out rows first."""
    cases = []
    order = np.concatenate([test_rows, np.setdiff1d(np.arange(len(labels)), test_rows)])
    for c, (enum, _) in enumerate(CLASSES):
        rows = [i for i in order if labels[i] == c][:per_class]
        cases += [(f"dataset row {i} ({enum})", readings[i].tolist()) for i in rows]
    return cases


def physics_cases():
    """Readings near the generator's physical rules (the model learned its own thresholds)."""
    c = []
    for speed in (1379.0, 1381.0):
        for air, proc in ((302.3, 310.9), (302.2, 310.8), (300.0, 308.5), (300.0, 308.7)):
            c.append((f"heat dissipation edge dT={proc - air:.1f} speed={speed}", _row(air, proc, speed)))
    for speed, torque in ((1500.0, 22.2), (1500.0, 22.3), (1300.0, 66.0), (1300.0, 66.2)):
        c.append((f"power edge {speed} rpm x {torque} Nm", _row(speed=speed, torque=torque)))
    for ptype, limit in ((0.0, 11000.0), (1.0, 12000.0), (2.0, 13000.0)):
        for wear in (limit / 55.0 - 2, limit / 55.0 + 2):
            c.append((f"overstrain edge type={int(ptype)} wear={wear:.1f} torque=55", _row(
                speed=1400.0, torque=55.0, wear=round(wear), ptype=ptype)))
    for wear in (150.0, 199.0, 200.0, 205.0, 215.0, 225.0, 235.0, 240.0, 250.0):
        c.append((f"tool wear {wear:.0f} min", _row(wear=wear)))
    return c


def range_cases(train_readings):
    lo, hi = train_readings.min(axis=0), train_readings.max(axis=0)
    return [("all training minima (type L)", lo[:5].tolist() + [0.0]),
            ("all training maxima (type H)", hi[:5].tolist() + [2.0]),
            ("training minima temperatures, maxima mechanics (type M)",
             lo[:2].tolist() + hi[2:5].tolist() + [1.0])]


def split_boundary_cases(model, readings, n=8):
    """Raw features placed exactly on a float32 split threshold and one ulp above it.

    Only splits whose float64 threshold would round *up* to float32 and whose two sides give a
    different tree output are used: exactly where a naive float32 cast of the thresholds would
    disagree with sklearn, so the parity test catches it.
    """
    F, cases = features(readings), []
    for tree_id, est in model.trees():
        if est.n_features_in_ == 1:
            continue  # the tool-wear tree reads one column; its splits are covered by the wear cases
        cols = est.n_features_in_  # leading feature columns the tree reads
        t, paths = est.tree_, est.decision_path(F[:, :cols]).tocsc()
        for node in range(t.node_count):
            f, thr = int(t.feature[node]), float(t.threshold[node])
            if t.children_left[node] == -1 or f > 4 or float(np.float32(thr)) <= thr:
                continue
            rows = paths[:, node].nonzero()[0]  # training rows reaching this split
            if len(rows) == 0:
                continue
            # Largest float32 <= thr, computed here independently of export.py on purpose.
            on = np.nextafter(np.float32(thr), np.float32(-np.inf))
            pair = np.repeat(readings[rows[:1]], 2, axis=0)
            pair[:, f] = [on, np.nextafter(on, np.float32(np.inf))]
            if np.array_equal(*t.value[est.apply(features(pair)[:, :cols])]):
                continue
            cases += [(f"tree {tree_id} node {node} feature {f} {tag} float32 threshold", row.tolist())
                      for tag, row in zip(("on", "one ulp above"), pair)]
            break  # one split per tree, for variety
        if len(cases) >= 2 * n:
            break
    return cases


def odd_cases(odd_readings, n=12):
    return [(f"odd: {why}", r.tolist()) for why, r in list(odd_readings)[:n]]


def build(cases, model, vae):
    X = np.array([c[1] for c in cases], dtype=np.float32)
    F = features(X)
    proba = model.predict_proba(F)
    err = score(vae, F[:, VAE_FEATURE_IDX])
    return {
        "tolerance": {"absolute": 1e-5, "relative": 1e-5,
                      "rule": "|onnx - golden| <= absolute + relative * |golden| (reconstruction "
                              "errors of odd readings can be huge, hence the relative part)"},
        "inputColumns": ["airTemperature", "processTemperature", "rotationalSpeed", "torque",
                         "toolWear", "productType"],
        "outputLabels": [c[0] for c in CLASSES],
        "cases": [{"name": name, "input": [float(v) for v in X[i]],
                   "probabilities": [float(p) for p in proba[i]],
                   "reconstructionError": float(err[i])}
                  for i, (name, _) in enumerate(cases)],
    }
