"""Classifier families, all with one interface: fit(X, targets) and predict_proba(X) over the six classes.

`Targets` carries what a family may learn from for the same rows: the six-class single label, the
rule-driven label (RULE_CLASSES, from the HDF/PWF/OSF flags only) and the TWF flag.
"""
import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from .data import CLASS_INDEX, CLASSES, RULE_CLASSES

N_CLASSES = len(CLASSES)
WEAR_FEATURE = 4  # tool wear [min] in the feature matrix
V1_FEATURES = 9  # the v1 model's features: all but the overstrain margin (the last column)
TWF, RNF = CLASS_INDEX["TOOL_WEAR_FAILURE"], CLASS_INDEX["RANDOM_FAILURES"]


class Targets:
    def __init__(self, labels, rule_labels, twf):
        self.labels, self.rule_labels, self.twf = labels, rule_labels, twf

    def take(self, rows):
        return Targets(self.labels[rows], self.rule_labels[rows], self.twf[rows])


class SklearnSixClass:
    """A scikit-learn classifier fitted on the six-class single label directly.

    n_features < all reads only the first n feature columns (the v1 model had no overstrain margin);
    its tree feature ids then still index the full feature matrix.
    """

    def __init__(self, estimator, n_features=None):
        self.estimator, self.n_features = estimator, n_features

    def _cols(self, X):
        return X if self.n_features is None else X[:, :self.n_features]

    def fit(self, X, t):
        self.estimator.fit(self._cols(X), t.labels)
        return self

    def predict_proba(self, X):
        p = np.zeros((len(X), N_CLASSES))
        p[:, self.estimator.classes_] = self.estimator.predict_proba(self._cols(X))
        return p

    def trees(self):
        """(tree_id, fitted sklearn tree) pairs, for export and golden cases."""
        return list(enumerate(self.estimator.estimators_))


class RuleBoost:
    """Gradient-boosted trees over the rule-driven classes, times a tool-wear hazard and a random rate.

    The rules (HDF, PWF, OSF) are deterministic functions of one reading; tool wear failure is a
    random event in the 200-240 min window and random failure a constant 0.1 %. So:
    - softmax(boosted trees) gives p_no, p_hdf, p_pwf, p_osf for the rule-driven label;
    - a depth-limited regression tree on tool wear alone gives t = P(TWF event | wear);
    - r = random-failure rate among rows no rule or TWF explains (training rows);
    and the single-label priority (PWF, HDF, TWF, OSF, RNF) combines them:
    NO = p_no (1 - t)(1 - r), HDF = p_hdf, PWF = p_pwf, OSF = p_osf (1 - t),
    TWF = t (p_no + p_osf), RNF = p_no (1 - t) r; the six sum to 1.
    """

    def __init__(self, rounds, depth=3, learning_rate=0.1, seed=0, wear_leaves=8, wear_min_leaf=100):
        self.gb = GradientBoostingClassifier(n_estimators=rounds, max_depth=depth, learning_rate=learning_rate,
                                             random_state=seed)
        self.wear = DecisionTreeRegressor(max_leaf_nodes=wear_leaves, min_samples_leaf=wear_min_leaf,
                                          random_state=seed)

    def fit(self, X, t):
        self.gb.fit(X, t.rule_labels)
        assert list(self.gb.classes_) == list(range(len(RULE_CLASSES)))
        self.wear.fit(X[:, [WEAR_FEATURE]], t.twf.astype(np.float64))
        unexplained = (t.rule_labels == 0) & ~t.twf
        self.random_rate = float((t.labels[unexplained] == RNF).mean())
        return self

    def twf_hazard(self, X):
        return np.clip(self.wear.predict(np.asarray(X)[:, [WEAR_FEATURE]]), 0.0, 1.0)

    def predict_proba(self, X):
        p = self.gb.predict_proba(X)
        t, r = self.twf_hazard(X), self.random_rate
        return np.column_stack([p[:, 0] * (1 - t) * (1 - r), p[:, 1], p[:, 2], p[:, 3] * (1 - t),
                                t * (p[:, 0] + p[:, 3]), p[:, 0] * (1 - t) * r])

    def trees(self):
        """Boosting trees (one per round and class) then the wear tree."""
        gb = [est for stage in self.gb.estimators_ for est in stage]
        return list(enumerate(gb + [self.wear]))


def node_visits_per_row(model, X):
    """Mean number of tree nodes a row passes through (root to leaf, all trees): the cost proxy."""
    total = 0
    for _, tree in model.trees():
        cols = X[:, [WEAR_FEATURE]] if tree is getattr(model, "wear", None) else X[:, :tree.n_features_in_]
        total += tree.decision_path(cols).sum()
    return float(total) / len(X)


def candidates(cfg):
    """Families and sizes compared on the protocol; --quick shrinks them."""
    q = cfg["size_scale"]

    def forest(n, n_features=None, **kw):
        return lambda s: SklearnSixClass(RandomForestClassifier(max(1, int(n * q)), random_state=s, n_jobs=2, **kw),
                                         n_features)

    def boost(rounds, lr=0.1):
        return lambda s: RuleBoost(max(1, int(rounds * q)), learning_rate=lr, seed=s)

    return {
        # The v1 model's recipe exactly (its seed-0 fit is the v1 shipped model): no overstrain margin.
        "v1: RandomForest(200, max_features=5, balanced_subsample) without the overstrain margin": dict(
            exportable=True, make=forest(200, n_features=V1_FEATURES, max_features=5,
                                         class_weight="balanced_subsample")),
        "RandomForest(200, max_features=5, balanced_subsample)": dict(
            exportable=True, make=forest(200, max_features=5, class_weight="balanced_subsample")),
        "RandomForest(50, max_features=5, balanced_subsample)": dict(
            exportable=True, make=forest(50, max_features=5, class_weight="balanced_subsample")),
        "ExtraTrees(200, max_features=sqrt)": dict(
            exportable=True, make=lambda s: SklearnSixClass(
                ExtraTreesClassifier(max(1, int(200 * q)), random_state=s, n_jobs=2))),
        "RuleBoost(depth 3, 50 rounds, lr 0.2)": dict(exportable=True, make=boost(50, 0.2)),
        "RuleBoost(depth 3, 100 rounds, lr 0.1)": dict(exportable=True, make=boost(100)),
        "RuleBoost(depth 3, 200 rounds, lr 0.1)": dict(exportable=True, make=boost(200)),
        "MLP(64,32) on standardised features": dict(
            exportable=False, make=lambda s: SklearnSixClass(make_pipeline(
                StandardScaler(), MLPClassifier((64, 32), max_iter=cfg["mlp_iter"], random_state=s)))),
    }
