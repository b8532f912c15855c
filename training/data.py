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
                 "temp_diff_K", "power_W", "wear_x_torque"]
# Columns of the 9-wide feature matrix the VAE sees (the type code is categorical, left out).
VAE_FEATURE_IDX = [0, 1, 2, 3, 4, 6, 7, 8]


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


def load_dataset(path=DATA_FILE):
    """Returns (udi int64[N], readings float32[N,6], labels int64[N]).

    UDI is returned only to persist split membership; it is never a feature.
    """
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    udi = np.array([int(r["UDI"]) for r in rows], dtype=np.int64)
    readings = np.array(
        [[float(r[col]) for _, col, _ in READING_COLUMNS] + [TYPE_CODES[r["Type"]]] for r in rows],
        dtype=np.float32)
    labels = np.array([label_of(r) for r in rows], dtype=np.int64)
    return udi, readings, labels


def features(readings):
    """float32 [N,6] readings -> float32 [N,9] features, same ops/order as the ONNX graph."""
    x = np.asarray(readings, dtype=np.float32)
    air, proc, speed, torque, wear = (x[:, i:i + 1] for i in range(5))
    temp_diff = proc - air                      # ONNX Sub(proc, air)
    power = (torque * speed) * RPM_TO_RAD_S     # ONNX Mul(Mul(torque, speed), c)
    wear_torque = wear * torque                 # ONNX Mul(wear, torque)
    out = np.concatenate([x, temp_diff, power, wear_torque], axis=1)
    assert out.dtype == np.float32
    return out
