"""Dataset loading, label derivation and the float32 feature pipeline.

The feature pipeline here must match the ONNX front end op for op (see export.py):
every derived quantity is computed in float32 with the same operand order, so the
trees see bit-identical inputs in Python and in onnxruntime.
"""
import csv
import hashlib
import math

import numpy as np

DATA_FILE = "data/ai4i2020.csv"

# Contract column order of the `readings` input.
READING_COLUMNS = [
    ("airTemperature", "Air temperature [K]", "K"),
    ("processTemperature", "Process temperature [K]", "K"),
    ("rotationalSpeed", "Rotational speed [rpm]", "rpm"),
    ("torque", "Torque [Nm]", "Nm"),
    ("toolWear", "Tool wear [min]", "min"),
]
TYPE_CODES = {"L": 0, "M": 1, "H": 2}

# Contract class order of the `probabilities` output; class index == position.
CLASSES = [
    ("NO_FAILURE", "No Failure"),
    ("HEAT_DISSIPATION_FAILURE", "Heat Dissipation Failure"),
    ("POWER_FAILURE", "Power Failure"),
    ("OVERSTRAIN_FAILURE", "Overstrain Failure"),
    ("TOOL_WEAR_FAILURE", "Tool Wear Failure"),
    ("RANDOM_FAILURES", "Random Failures"),
]
CLASS_INDEX = {enum: i for i, (enum, _) in enumerate(CLASSES)}
# Single-label form: first matching flag wins (data/README.md).
FLAG_PRIORITY = [("PWF", "POWER_FAILURE"), ("HDF", "HEAT_DISSIPATION_FAILURE"),
                 ("TWF", "TOOL_WEAR_FAILURE"), ("OSF", "OVERSTRAIN_FAILURE"),
                 ("RNF", "RANDOM_FAILURES")]

# rpm -> rad/s, as a float32 constant shared with the ONNX graph.
RPM_TO_RAD_S = np.float32(2.0 * math.pi / 60.0)

FEATURE_NAMES = ["air_K", "process_K", "speed_rpm", "torque_Nm", "wear_min", "type",
                 "temp_diff_K", "power_W", "wear_x_torque", "overstrain_margin"]
# The published overstrain limit is 11000 + 1000 x type code (L 0, M 1, H 2) min Nm; the margin
# wear x torque - limit puts the three product types on one scale, so one learned split serves all.
OSF_LIMIT_BASE, OSF_LIMIT_STEP = np.float32(11000.0), np.float32(1000.0)
# Columns of the feature matrix the VAE sees (the type code is categorical, left out).
VAE_FEATURE_IDX = [0, 1, 2, 3, 4, 6, 7, 8]

# The generating rules published with the dataset (UCI description, data/README.md). They are
# evaluated in float64 on the decimal readings, as the generator did; on the dataset they
# reproduce the HDF, PWF and OSF flags of every row exactly.
HDF_TEMP_DIFF_K = 8.6       # fails if process - air < 8.6 K ...
HDF_SPEED_RPM = 1380.0      # ... and speed < 1380 rpm
PWF_LOW_W, PWF_HIGH_W = 3500.0, 9000.0  # fails if power < 3500 W or > 9000 W
OSF_LIMIT = {0: 11000.0, 1: 12000.0, 2: 13000.0}  # fails if wear x torque > limit (L, M, H)
TWF_WINDOW_MIN = (200.0, 240.0)  # tool replaced or failing at a random wear in this window
# Classes of the rule-driven part of the model: the deterministic rules only (TWF and RNF are random).
RULE_CLASSES = ["NO_FAILURE", "HEAT_DISSIPATION_FAILURE", "POWER_FAILURE", "OVERSTRAIN_FAILURE"]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def label_of(row):
    for flag, enum in FLAG_PRIORITY:
        if row[flag] == "1":
            return CLASS_INDEX[enum]
    return CLASS_INDEX["NO_FAILURE"]


class Dataset:
    """The CSV as arrays. UDI is kept only to persist split membership; it is never a feature."""

    def __init__(self, path=DATA_FILE):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.udi = np.array([int(r["UDI"]) for r in rows], dtype=np.int64)
        # float64 holds the decimal readings as the generator saw them; the model reads float32.
        self.readings64 = np.array(
            [[float(r[col]) for _, col, _ in READING_COLUMNS] + [TYPE_CODES[r["Type"]]] for r in rows],
            dtype=np.float64)
        self.readings = self.readings64.astype(np.float32)
        self.labels = np.array([label_of(r) for r in rows], dtype=np.int64)
        self.flags = {k: np.array([r[k] == "1" for r in rows]) for k in ("TWF", "HDF", "PWF", "OSF", "RNF")}
        self.rule_labels = rule_label(self.flags["HDF"], self.flags["PWF"], self.flags["OSF"])


def rule_label(hdf, pwf, osf):
    """Index into RULE_CLASSES, same priority as the single-label form (PWF, HDF, then OSF)."""
    return np.where(pwf, 2, np.where(hdf, 1, np.where(osf, 3, 0))).astype(np.int64)


def rule_quantities(readings64):
    """float64 [N,6] decimal readings -> the quantities the rules compare, in float64."""
    r = np.asarray(readings64, dtype=np.float64)
    return {"temp_diff": r[:, 1] - r[:, 0], "speed": r[:, 2],
            "power": r[:, 3] * r[:, 2] * (2.0 * math.pi / 60.0),
            "wear_x_torque": r[:, 4] * r[:, 3],
            "osf_limit": np.vectorize(OSF_LIMIT.get)(r[:, 5].astype(np.int64)).astype(np.float64)}


def rule_flags(readings64):
    """The published rules applied to readings: dict of boolean arrays HDF, PWF, OSF."""
    q = rule_quantities(readings64)
    return {"HDF": (q["temp_diff"] < HDF_TEMP_DIFF_K) & (q["speed"] < HDF_SPEED_RPM),
            "PWF": (q["power"] < PWF_LOW_W) | (q["power"] > PWF_HIGH_W),
            "OSF": q["wear_x_torque"] > q["osf_limit"]}


def references(readings64):
    """Median of each numeric reading per product type over the whole dataset."""
    out = {}
    for ptype, code in TYPE_CODES.items():
        rows = readings64[readings64[:, 5] == code]
        out[ptype] = {field: round(float(np.median(rows[:, i])), 4)
                      for i, (field, _, _) in enumerate(READING_COLUMNS)}
    return out


def features(readings):
    """float32 [N,6] readings -> float32 [N,10] features, same ops/order as the ONNX graph."""
    x = np.asarray(readings, dtype=np.float32)
    air, proc, speed, torque, wear = (x[:, i:i + 1] for i in range(5))
    temp_diff = proc - air                      # ONNX Sub(proc, air)
    power = (torque * speed) * RPM_TO_RAD_S     # ONNX Mul(Mul(torque, speed), c)
    wear_torque = wear * torque                 # ONNX Mul(wear, torque)
    limit = x[:, 5:6] * OSF_LIMIT_STEP + OSF_LIMIT_BASE  # ONNX Add(Mul(type, step), base)
    margin = wear_torque - limit                # ONNX Sub(wear_x_torque, limit)
    out = np.concatenate([x, temp_diff, power, wear_torque, margin], axis=1)
    assert out.dtype == np.float32
    return out
