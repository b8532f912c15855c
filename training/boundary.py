"""Near-boundary evaluation set: fresh readings recombined from the dataset's own values, labelled by
the generating rules published with the dataset, concentrated near the rules' thresholds.

Never used for fitting or model selection; the pipeline only reports the models' F1 on it.

Method (also written into the model card):
1. Gaps. For every rule quantity the dataset decides the label only up to the nearest values it holds
   on either side of the threshold: between the last failing value and the first passing one, any
   threshold fits the data. Readings whose rule quantity falls inside such a gap are left out. The
   same test removes the float rounding ambiguity at the heat-dissipation threshold: rows at exactly
   8.6 K carry both labels in the dataset, so 8.6 K lies inside the gap.
2. Readings. Every value is one the dataset holds (temperatures, torque on its 0.1 grid, speed and wear
   as integers); a reading combines values from different rows. 13,000 background readings take
   (air, process) from one row, (speed, torque) from another, wear from a third, type from a fourth.
   7,000 near-boundary readings pick the rule's inputs from dataset values so that the rule quantity
   lands within a band around the gap: heat dissipation 2,000, power low 1,250, power high 1,250,
   overstrain 2,500 (product type from a random row).
3. Labels: the rules in float64 on the decimal values, three-valued (fails / passes / inside a gap),
   first match wins in the single-label order PWF, HDF, TWF, OSF. Tool wear failure happens at a
   random wear in 200-240 min, so from 200 min on it is unknown: such readings are kept only when a
   power or heat-dissipation failure decides the label first. Random failures (0.1 %, independent of
   the readings) are not modelled: the labels are what the deterministic rules say.
A reading is kept only when its label is decided; generation continues (one seeded generator) until
every stratum has its count.
"""
import csv
import hashlib

import numpy as np

from .data import (CLASSES, HDF_SPEED_RPM, HDF_TEMP_DIFF_K, OSF_LIMIT, PWF_HIGH_W, PWF_LOW_W, READING_COLUMNS,
                   TWF_WINDOW_MIN, TYPE_CODES, rule_quantities)

SEED = 20200
FILE = "data/near-boundary.csv"
BACKGROUND = 13000
STRATA = {"heat dissipation": 2000, "power low": 1250, "power high": 1250, "overstrain": 2500}
# Band half-widths around a gap, in the rule quantity's unit.
BAND = {"temp_diff": 0.8, "speed": 80.0, "power_low": 280.0, "power_high": 720.0, "wear_x_torque": 700.0}
RPM_TO_RAD_S64 = 2.0 * np.pi / 60.0
TYPE_LETTERS = {code: letter for letter, code in TYPE_CODES.items()}
UNKNOWN = -1  # third truth value: inside a gap


def _gap_below(fail_values, pass_values):
    """Rule `fails iff q < c`: open interval (last failing value below every passing one, first passing
    value above every failing one)."""
    lo = fail_values[fail_values < pass_values.min()].max()
    hi = pass_values[pass_values > fail_values.max()].min()
    return float(lo), float(hi)


def gaps(ds):
    """Undecidable intervals of each rule quantity, from the dataset's rows and labels."""
    q = rule_quantities(ds.readings64)
    hdf, pwf, osf = ds.flags["HDF"], ds.flags["PWF"], ds.flags["OSF"]
    slow = q["speed"] < HDF_SPEED_RPM
    diff = np.round(q["temp_diff"], 1)  # one decimal: the 0.1 K grid, without float noise
    g = {"temp_diff": _gap_below(diff[hdf], diff[slow & ~hdf])}
    cool = diff <= g["temp_diff"][0]
    g["speed"] = _gap_below(q["speed"][hdf], q["speed"][cool & ~hdf])
    low = q["power"] < (PWF_LOW_W + PWF_HIGH_W) / 2
    g["power_low"] = _gap_below(q["power"][low & pwf], q["power"][low & ~pwf])
    hi_fail, hi_pass = -q["power"][~low & pwf], -q["power"][~low & ~pwf]
    lo_neg, hi_neg = _gap_below(hi_fail, hi_pass)
    g["power_high"] = (-hi_neg, -lo_neg)
    for code, letter in TYPE_LETTERS.items():
        t = ds.readings64[:, 5] == code
        w = q["wear_x_torque"]
        neg = _gap_below(-w[t & osf], -w[t & ~osf])
        g[f"wear_x_torque_{letter}"] = (-neg[1], -neg[0])
    return g


def _inside(x, gap):
    return (x > gap[0]) & (x < gap[1])


def decide(readings64, g):
    """Three-valued rule outcome per reading -> label index, or UNKNOWN where the data cannot decide."""
    q = rule_quantities(readings64)
    diff = np.round(q["temp_diff"], 1)

    def tri(fails, unknown):
        return np.where(unknown, UNKNOWN, fails.astype(np.int64))

    hdf_diff = tri(diff < HDF_TEMP_DIFF_K, _inside(diff, g["temp_diff"]))
    hdf_speed = tri(q["speed"] < HDF_SPEED_RPM, _inside(q["speed"], g["speed"]))
    hdf = np.where((hdf_diff == 0) | (hdf_speed == 0), 0, np.where((hdf_diff == 1) & (hdf_speed == 1), 1, UNKNOWN))
    p_low = tri(q["power"] < PWF_LOW_W, _inside(q["power"], g["power_low"]))
    p_high = tri(q["power"] > PWF_HIGH_W, _inside(q["power"], g["power_high"]))
    pwf = np.where((p_low == 1) | (p_high == 1), 1, np.where((p_low == 0) & (p_high == 0), 0, UNKNOWN))
    osf_gap = np.array([g[f"wear_x_torque_{TYPE_LETTERS[int(c)]}"] for c in readings64[:, 5]])
    osf = tri(q["wear_x_torque"] > q["osf_limit"],
              (q["wear_x_torque"] > osf_gap[:, 0]) & (q["wear_x_torque"] < osf_gap[:, 1]))
    twf = np.where(readings64[:, 4] >= TWF_WINDOW_MIN[0], UNKNOWN, 0)
    label = np.full(len(readings64), UNKNOWN)
    open_ = np.ones(len(readings64), dtype=bool)  # no earlier rule decided or blocked the label
    for rule, cls in ((pwf, 2), (hdf, 1), (twf, 4), (osf, 3)):
        label[open_ & (rule == 1)] = cls
        open_ &= rule == 0
    label[open_] = 0
    return label


class _Pool:
    """Dataset values of one column, sorted, for drawing a value inside a range."""

    def __init__(self, values):
        self.v = np.sort(values)

    def draw(self, rng, lo, hi):
        a, b = np.searchsorted(self.v, lo, "left"), np.searchsorted(self.v, hi, "right")
        return None if b <= a else float(self.v[rng.integers(a, b)])


def _near_candidate(stratum, rng, r, pools, g):
    """Base row r's readings with the rule's inputs replaced by dataset values landing near the gap."""
    x = r.copy()
    if stratum == "heat dissipation":
        # Half near the temperature edge (at failing speeds), half near the speed edge (at failing
        # temperature differences), so both edges of the failing corner are visited.
        d_gap, s_gap = g["temp_diff"], g["speed"]
        if rng.random() < 0.5:
            d_lo, d_hi = d_gap[0] - BAND["temp_diff"], d_gap[1] + BAND["temp_diff"]
            s_lo, s_hi = -np.inf, s_gap[0]
        else:
            d_lo, d_hi = -np.inf, d_gap[0]
            s_lo, s_hi = s_gap[0] - BAND["speed"], s_gap[1] + BAND["speed"]
        proc = pools["proc"].draw(rng, x[0] + d_lo, x[0] + d_hi)
        speed = pools["speed"].draw(rng, s_lo, s_hi)
        if proc is None or speed is None:
            return None
        x[1], x[2] = proc, speed
    elif stratum.startswith("power"):
        key = "power_low" if stratum == "power low" else "power_high"
        lo, hi = g[key][0] - BAND[key], g[key][1] + BAND[key]
        torque = pools["torque"].draw(rng, lo / (x[2] * RPM_TO_RAD_S64), hi / (x[2] * RPM_TO_RAD_S64))
        if torque is None:
            return None
        x[3] = torque
    else:
        gap = g[f"wear_x_torque_{TYPE_LETTERS[int(x[5])]}"]
        # One side of the gap at a time, so failing and passing readings come in about equal numbers.
        lo, hi = (gap[0] - BAND["wear_x_torque"], gap[0]) if rng.random() < 0.5 else \
            (gap[1], gap[1] + BAND["wear_x_torque"])
        last_wear = TWF_WINDOW_MIN[0] - 1  # later wear is left out anyway (tool wear window)
        torque = pools["torque"].draw(rng, lo / last_wear, np.inf)
        if torque is None:
            return None
        wear = pools["wear"].draw(rng, lo / torque, min(hi / torque, last_wear))
        if wear is None:
            return None
        # A speed that keeps the power inside the passing range, else power failure decides the label.
        p_lo, p_hi = g["power_low"][1], g["power_high"][0]
        speed = pools["speed"].draw(rng, p_lo / (torque * RPM_TO_RAD_S64), p_hi / (torque * RPM_TO_RAD_S64))
        if speed is None:
            return None
        x[2], x[3], x[4] = speed, torque, wear
    return x


def build(ds):
    """Returns (readings64 [N,6], labels [N], strata [N], gaps, excluded counts per stratum)."""
    rng = np.random.default_rng(SEED)
    g = gaps(ds)
    r64, n = ds.readings64, len(ds.readings64)
    pools = {"proc": _Pool(r64[:, 1]), "speed": _Pool(r64[:, 2]), "torque": _Pool(r64[:, 3]),
             "wear": _Pool(r64[:, 4])}
    out, labels, strata, excluded = [], [], [], {}
    plan = [("background", BACKGROUND)] + list(STRATA.items())
    for stratum, count in plan:
        kept, left_out = 0, 0
        while kept < count:  # batches of candidates; decide() is vectorised
            if stratum == "background":
                idx = rng.integers(0, n, (1000, 4))
                xs = np.column_stack([r64[idx[:, 0], 0], r64[idx[:, 0], 1], r64[idx[:, 1], 2], r64[idx[:, 1], 3],
                                      r64[idx[:, 2], 4], r64[idx[:, 3], 5]])
            else:
                xs = [_near_candidate(stratum, rng, r64[i], pools, g) for i in rng.integers(0, n, 1000)]
                xs = np.array([x for x in xs if x is not None])
            decided = decide(xs, g)
            for x, label in zip(xs, decided):
                if kept == count:
                    break
                if label == UNKNOWN:
                    left_out += 1
                    continue
                out.append(x)
                labels.append(int(label))
                strata.append(stratum)
                kept += 1
        excluded[stratum] = left_out
    return np.array(out), np.array(labels, dtype=np.int64), np.array(strata), g, excluded


def write_csv(path, readings64, labels, strata):
    """Values at the dataset's own resolution, so every reader gets the same float32 inputs."""
    fields = [f for f, _, _ in READING_COLUMNS] + ["productType", "label", "stratum"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(fields)
        for x, y, s in zip(readings64, labels, strata):
            w.writerow([f"{x[0]:.1f}", f"{x[1]:.1f}", f"{x[2]:.0f}", f"{x[3]:.1f}", f"{x[4]:.0f}",
                        TYPE_LETTERS[int(x[5])], CLASSES[y][0], s])
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def describe(labels, strata, g, excluded, sha):
    """The set's summary for model.json."""
    names = [c for c, _ in CLASSES]
    return {
        "file": FILE, "sha256": sha, "rows": int(len(labels)), "seed": SEED,
        "nearBoundaryRows": int((strata != "background").sum()),
        "strata": {s: int((strata == s).sum()) for s in ["background", *STRATA]},
        "classCounts": {names[c]: int((labels == c).sum()) for c in range(len(names)) if (labels == c).any()},
        "leftOut": excluded,
        "gaps": {k: [round(v[0], 4), round(v[1], 4)] for k, v in g.items()},
        "bands": BAND,
        "rules": {"source": "UCI Machine Learning Repository, AI4I 2020 Predictive Maintenance Dataset "
                            "(https://doi.org/10.24432/C5HS5C), variable description; data/README.md",
                  "HDF": f"process - air temperature < {HDF_TEMP_DIFF_K} K and speed < {HDF_SPEED_RPM:.0f} rpm",
                  "PWF": f"torque x speed x 2pi/60 < {PWF_LOW_W:.0f} W or > {PWF_HIGH_W:.0f} W",
                  "OSF": "tool wear x torque > "
                         + ", ".join(f"{v:.0f} ({TYPE_LETTERS[k]})" for k, v in OSF_LIMIT.items()) + " min Nm",
                  "TWF": f"random tool wear in {TWF_WINDOW_MIN[0]:.0f}-{TWF_WINDOW_MIN[1]:.0f} min: "
                         "undecidable from one reading, readings from 200 min on are left out unless "
                         "PWF or HDF decides first",
                  "RNF": "0.1 % at random, independent of the readings: not modelled"},
    }
