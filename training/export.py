"""Builds the single ONNX graph: float32 feature front end -> tree ensemble + VAE score.

Graph (input `readings` [N,6]):
  Split -> air, proc, speed, torque, wear, type      ([N,1] each)
  temp_diff = Sub(proc, air); power = Mul(Mul(torque, speed), 2*pi/60); wear_x_torque = Mul(wear, torque)
  overstrain_margin = Sub(wear_x_torque, Add(Mul(type, 1000), 11000))
  features = Concat(readings, temp_diff, power, wear_x_torque, overstrain_margin)   [N,10]
  probabilities                                                                      [N,6]
    forest:    TreeEnsembleClassifier(features)
    RuleBoost: TreeEnsembleRegressor(features) -> 4 boosting scores + tool-wear hazard t;
               Softmax(scores) combined with t and the random-failure rate (see model.RuleBoost)
  reconstruction_error = VAE(Gather(features, VAE_FEATURE_IDX))                      [N]
These ops mirror data.features() exactly so that tree decisions are bit-identical.
"""
import io

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from .data import OSF_LIMIT_BASE, OSF_LIMIT_STEP, RPM_TO_RAD_S, VAE_FEATURE_IDX
from .model import RuleBoost, WEAR_FEATURE

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


def _tree_nodes(a, tree_id, t, feature_map=None):
    """Appends one sklearn tree's nodes (float32-safe thresholds) to the ensemble attributes."""
    for node in range(t.node_count):
        leaf = t.children_left[node] == -1
        feature = 0 if leaf else int(t.feature[node])
        a["nodes_treeids"].append(tree_id)
        a["nodes_nodeids"].append(node)
        a["nodes_featureids"].append(feature_map[feature] if feature_map and not leaf else feature)
        a["nodes_values"].append(0.0 if leaf else float32_threshold(t.threshold[node]))
        a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
        a["nodes_truenodeids"].append(0 if leaf else int(t.children_left[node]))
        a["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[node]))


def boost_attributes(model):
    """TreeEnsembleRegressor attributes with 5 targets: the 4 raw boosting scores and the wear hazard.

    Raw score k = init_k + learning_rate * sum of class-k tree leaves (sklearn's decision_function);
    target 4 is the wear tree's leaf value (its own input is tool wear, feature 4 of the graph).
    """
    gb = model.gb
    prefix = ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
              "nodes_truenodeids", "nodes_falsenodeids"]
    a = {k: [] for k in prefix + ["target_treeids", "target_nodeids", "target_ids", "target_weights"]}
    trees = model.trees()
    n_boost = len(trees) - 1
    for tree_id, est in trees:
        t = est.tree_
        wear_tree = tree_id == n_boost
        _tree_nodes(a, tree_id, t, {0: WEAR_FEATURE} if wear_tree else None)
        target = 4 if wear_tree else tree_id % gb.n_classes_
        scale = 1.0 if wear_tree else gb.learning_rate
        for node in np.nonzero(t.children_left == -1)[0]:
            a["target_treeids"].append(tree_id)
            a["target_nodeids"].append(int(node))
            a["target_ids"].append(target)
            a["target_weights"].append(float(scale * t.value[node][0][0]))
    init = gb._raw_predict_init(np.zeros((1, gb.n_features_in_), dtype=np.float32))[0]
    return a, [float(v) for v in init] + [0.0]


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
        _tree_nodes(a, tree_id, t)
        for node in range(t.node_count):
            leaf = t.children_left[node] == -1
            if leaf:
                value = t.value[node][0]
                proba = value / value.sum()
                for j, cls in enumerate(forest.classes_):  # value columns follow classes_
                    if proba[j] > 0:  # zero weights are implicit; keeps the file small
                        a["class_treeids"].append(tree_id)
                        a["class_nodeids"].append(node)
                        a["class_ids"].append(int(cls))
                        a["class_weights"].append(float(proba[j] / n_trees))
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
        helper.make_node("Mul", ["type", "osf_limit_step"], ["osf_limit_steps"], name="osf_limit_steps"),
        helper.make_node("Add", ["osf_limit_steps", "osf_limit_base"], ["osf_limit"], name="osf_limit"),
        helper.make_node("Sub", ["wear_x_torque", "osf_limit"], ["overstrain_margin"], name="overstrain_margin"),
        helper.make_node("Concat", ["readings", "temp_diff", "power", "wear_x_torque", "overstrain_margin"],
                         ["features"], axis=1, name="features"),
        helper.make_node("Gather", ["features", "vae_feature_idx"], ["vae_features"], axis=1,
                         name="vae_features"),
    ]
    limits = [numpy_helper.from_array(np.array(OSF_LIMIT_STEP, dtype=np.float32), "osf_limit_step"),
              numpy_helper.from_array(np.array(OSF_LIMIT_BASE, dtype=np.float32), "osf_limit_base")]
    return nodes, [c, split, vae_idx] + limits


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


def boost_nodes(model):
    """probabilities [N,6] from RuleBoost: one TreeEnsembleRegressor, Softmax, the priority combination."""
    attrs, base = boost_attributes(model)
    f = lambda v, name: numpy_helper.from_array(np.array(v, dtype=np.float32), name)  # noqa: E731
    i = lambda v, name: numpy_helper.from_array(np.array(v, dtype=np.int64), name)  # noqa: E731
    inits = [i([0], "rb/zero"), i([4], "rb/four"), i([5], "rb/five"), i([1], "rb/axis"), f(1.0, "rb/one"),
             f(0.0, "rb/zero_f"), f(model.random_rate, "rb/random_rate"), i([1, 1, 1, 1], "rb/split4")]
    n = helper.make_node
    nodes = [
        n("TreeEnsembleRegressor", ["features"], ["rb/raw"], domain="ai.onnx.ml", name="failure_type_trees",
          n_targets=5, aggregate_function="SUM", post_transform="NONE", base_values=base, **attrs),
        n("Slice", ["rb/raw", "rb/zero", "rb/four", "rb/axis"], ["rb/scores"], name="rb/scores"),
        n("Slice", ["rb/raw", "rb/four", "rb/five", "rb/axis"], ["rb/hazard_raw"], name="rb/hazard_raw"),
        n("Clip", ["rb/hazard_raw", "rb/zero_f", "rb/one"], ["rb/t"], name="rb/t"),
        n("Softmax", ["rb/scores"], ["rb/p"], axis=1, name="rb/softmax"),
        n("Split", ["rb/p", "rb/split4"], ["rb/p_no", "rb/p_hdf", "rb/p_pwf", "rb/p_osf"], axis=1, name="rb/split"),
        n("Sub", ["rb/one", "rb/t"], ["rb/not_t"], name="rb/not_t"),
        n("Mul", ["rb/p_no", "rb/not_t"], ["rb/no_not_t"], name="rb/no_not_t"),
        n("Mul", ["rb/no_not_t", "rb/random_rate"], ["rb/out_rnf"], name="rb/out_rnf"),
        n("Sub", ["rb/no_not_t", "rb/out_rnf"], ["rb/out_no"], name="rb/out_no"),
        n("Mul", ["rb/p_osf", "rb/not_t"], ["rb/out_osf"], name="rb/out_osf"),
        n("Add", ["rb/p_no", "rb/p_osf"], ["rb/no_or_osf"], name="rb/no_or_osf"),
        n("Mul", ["rb/t", "rb/no_or_osf"], ["rb/out_twf"], name="rb/out_twf"),
        n("Concat", ["rb/out_no", "rb/p_hdf", "rb/p_pwf", "rb/out_osf", "rb/out_twf", "rb/out_rnf"],
          ["probabilities"], axis=1, name="rb/probabilities"),
    ]
    return nodes, inits


def build_model(classifier, vae, n_classes):
    nodes, inits = front_end_nodes()
    if isinstance(classifier, RuleBoost):
        tree_nodes, tree_inits = boost_nodes(classifier)
        nodes, inits = nodes + tree_nodes, inits + tree_inits
    else:
        forest = classifier.estimator
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
