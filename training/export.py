"""Builds the single ONNX graph: float32 feature front end -> TreeEnsembleClassifier + VAE score.

Graph (input `readings` [N,6]):
  Split -> air, proc, speed, torque, wear, type      ([N,1] each)
  temp_diff = Sub(proc, air); power = Mul(Mul(torque, speed), 2*pi/60); wear_x_torque = Mul(wear, torque)
  features = Concat(readings, temp_diff, power, wear_x_torque)            [N,9]
  probabilities = TreeEnsembleClassifier(features)                        [N,6]
  reconstruction_error = VAE(Gather(features, VAE_FEATURE_IDX))           [N]
These ops mirror data.features() exactly so that tree decisions are bit-identical.
"""
import io

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from data import RPM_TO_RAD_S, VAE_FEATURE_IDX

OPSET = {"ai.onnx": 13, "ai.onnx.ml": 3}
IR_VERSION = 8  # onnx 1.12 default, accepted by onnxruntime 1.30


def float32_threshold(t):
    """Largest float32 <= t: for every float32 x, (x <= t) == (x <= result).

    sklearn compares float32 inputs against float64 thresholds; ONNX stores float32 ones.
    """
    t32 = np.float32(t)
    if float(t32) > t:
        t32 = np.nextafter(t32, np.float32(-np.inf))
    return float(t32)


def forest_attributes(forest, n_classes):
    """TreeEnsembleClassifier attributes reproducing RandomForest/ExtraTrees predict_proba.

    predict_proba = mean over trees of the leaf's normalised class weights, so each leaf
    carries value/sum/n_trees and the ensemble aggregates with SUM and no post transform.
    """
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
                         "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids",
                         "class_treeids", "class_nodeids", "class_ids", "class_weights"]}
    n_trees = len(forest.estimators_)
    for tree_id, est in enumerate(forest.estimators_):
        t = est.tree_
        for node in range(t.node_count):
            leaf = t.children_left[node] == -1
            a["nodes_treeids"].append(tree_id)
            a["nodes_nodeids"].append(node)
            a["nodes_featureids"].append(0 if leaf else int(t.feature[node]))
            a["nodes_values"].append(0.0 if leaf else float32_threshold(t.threshold[node]))
            a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            a["nodes_truenodeids"].append(0 if leaf else int(t.children_left[node]))
            a["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[node]))
            if leaf:
                value = t.value[node][0]
                proba = value / value.sum()
                for cls in range(n_classes):
                    if proba[cls] > 0:  # zero weights are implicit; keeps the file small
                        a["class_treeids"].append(tree_id)
                        a["class_nodeids"].append(node)
                        a["class_ids"].append(cls)
                        a["class_weights"].append(float(proba[cls] / n_trees))
    return a


def front_end_nodes():
    c = numpy_helper.from_array(np.array(RPM_TO_RAD_S, dtype=np.float32), "rpm_to_rad_s")
    split = numpy_helper.from_array(np.ones(6, dtype=np.int64), "split_sizes")
    vae_idx = numpy_helper.from_array(np.array(VAE_FEATURE_IDX, dtype=np.int64), "vae_feature_idx")
    cols = ["air", "proc", "speed", "torque", "wear", "type"]
    nodes = [
        helper.make_node("Split", ["readings", "split_sizes"], cols, axis=1, name="split_readings"),
        helper.make_node("Sub", ["proc", "air"], ["temp_diff"], name="temp_diff"),
        helper.make_node("Mul", ["torque", "speed"], ["torque_x_speed"], name="torque_x_speed"),
        helper.make_node("Mul", ["torque_x_speed", "rpm_to_rad_s"], ["power"], name="power"),
        helper.make_node("Mul", ["wear", "torque"], ["wear_x_torque"], name="wear_x_torque"),
        helper.make_node("Concat", ["readings", "temp_diff", "power", "wear_x_torque"], ["features"],
                         axis=1, name="features"),
        helper.make_node("Gather", ["features", "vae_feature_idx"], ["vae_features"], axis=1,
                         name="vae_features"),
    ]
    return nodes, [c, split, vae_idx]


def vae_graph(vae, n_features):
    """Exports the VAE scorer with torch and returns its graph, names prefixed with `vae/`."""
    buf = io.BytesIO()
    dummy = torch.zeros(2, n_features, dtype=torch.float32)
    torch.onnx.export(vae, dummy, buf, input_names=["x"], output_names=["err"],
                      dynamic_axes={"x": {0: "N"}, "err": {0: "N"}}, opset_version=13,
                      do_constant_folding=True)
    g = onnx.load_from_string(buf.getvalue()).graph
    rename = {"x": "vae_features", "err": "reconstruction_error", "": ""}

    def name(n):
        return rename.get(n, "vae/" + n)

    for node in g.node:
        node.input[:] = [name(n) for n in node.input]
        node.output[:] = [name(n) for n in node.output]
        node.name = "vae/" + node.name
    for init in g.initializer:
        init.name = name(init.name)
    return list(g.node), list(g.initializer)


def build_model(forest, vae, n_classes):
    nodes, inits = front_end_nodes()
    attrs = forest_attributes(forest, n_classes)
    nodes.append(helper.make_node(
        "TreeEnsembleClassifier", ["features"], ["tree_label", "probabilities"], domain="ai.onnx.ml",
        name="failure_type_trees", classlabels_int64s=list(range(n_classes)), post_transform="NONE",
        **attrs))
    vae_nodes, vae_inits = vae_graph(vae, len(VAE_FEATURE_IDX))
    graph = helper.make_graph(
        nodes + vae_nodes, "ai4i2020_failure_model",
        inputs=[helper.make_tensor_value_info("readings", TensorProto.FLOAT, ["N", 6])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes]),
                 helper.make_tensor_value_info("reconstruction_error", TensorProto.FLOAT, ["N"])],
        initializer=inits + vae_inits)
    model = helper.make_model(graph, producer_name="ai4i2020-training", ir_version=IR_VERSION,
                              opset_imports=[helper.make_opsetid("", OPSET["ai.onnx"]),
                                             helper.make_opsetid("ai.onnx.ml", OPSET["ai.onnx.ml"])])
    onnx.checker.check_model(model, full_check=True)
    return model
