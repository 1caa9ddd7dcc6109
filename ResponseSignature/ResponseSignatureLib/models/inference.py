"""Applying a model file with numpy only: preprocessing, logistic / random-forest / Cox scores.

Validates the model kinds ``logistic`` (plain, L1, L2 or elastic-net logistic regression),
``random_forest`` and ``cox`` (``VALIDATORS``, registered with the model-file loader by the
``models`` package; see ``docs/model-file.md``).

Scores (a higher score always means the positive outcome / higher risk is more likely):

* ``logistic``: p = 1 / (1 + exp(-(b0 + sum_k b_k z_k))) with z the preprocessed design row.
  A logistic mixed model stores its fixed effects only; applying it this way is the
  population-level prediction (``predict(..., re.form = NA)`` in lme4, as Ligero 2021).
* ``random_forest``: mean over trees of the class-1 probability of the leaf each row falls in,
  exactly as scikit-learn's ``RandomForestClassifier.predict_proba``. A row goes left at a node
  when ``x[feature] <= threshold``; x is first rounded to float32, because scikit-learn's trees
  compare float32 inputs with float64 thresholds.
* ``cox``: the partial hazard exp(sum_k b_k (x_k - mean_k)) (lifelines' ``predict_partial_hazard``;
  1 = the risk of a patient at the training means). ``model["score"] = "linear_predictor"``
  returns sum_k b_k (x_k - mean_k) instead.

Class: 1 when ``score >= threshold["value"]`` (``threshold["direction"] == ">="``), else 0.

Preprocessing (``doc["preprocessing"]``, each part optional), in this order:
1. log transform: x -> log(max(x + offset, 1)); offset = 1 - (training minimum), so training values
   map to >= 0 and values below the training minimum are clipped to it (log is undefined there);
2. standardisation: x -> (x - mean) / sd with training mean and SD (never the new cohort's own);
3. one-hot: a categorical column c with levels [l1, l2, ...] gives design columns "c=l1", "c=l2",
   ...; the reference level (all zeros) is ``reference``; any other value is refused.

Only numpy (and the model-file module) is imported here, so applying a model inside Slicer pulls
in nothing heavy; ``apply_model`` and ``patient_scores`` accept pandas DataFrames (pandas is a core
dependency) but do not import pandas themselves.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..errors import InputError, ModelFileError
from .modelfile import require_columns

KINDS = ("logistic", "random_forest", "cox")
ID_COLUMNS = ("patient_id", "lesion_id")
#: the columns a signature adds to a patient (or lesion) table: read by nomograms and reports
SIGNATURE_SCORE, SIGNATURE_CLASS = "signature_score", "signature_class"
PATIENT_SCORE_RULES = ("mean_of_lesions",)


# --------------------------------------------------------------------------------------------
# validators (registered with modelfile)
# --------------------------------------------------------------------------------------------
def _fail(doc: Mapping, message: str) -> None:
    raise ModelFileError(f"Model '{doc.get('name')}' ({doc.get('kind')}): {message}")


def _numbers(doc: Mapping, value: Any, what: str, length: int | None = None) -> np.ndarray:
    """``value`` as a finite float array (1-D, of ``length`` if given), or ModelFileError."""
    if not isinstance(value, list) or not all(_is_number(item) for item in value):
        _fail(doc, f"'{what}' must be a list of numbers.")
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)):
        _fail(doc, f"'{what}' holds non-finite numbers.")
    if length is not None and array.size != length:
        _fail(doc, f"'{what}' has {array.size} values, expected {length}.")
    return array


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _feature_list(doc: Mapping) -> list[str]:
    features = doc["model"].get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        _fail(doc, "'model.features' must be a non-empty list of design column names.")
    if len(set(features)) != len(features):
        _fail(doc, "'model.features' lists a column twice.")
    return features


def _validate_common(doc: Mapping) -> list[str]:
    """Checks shared by every kind: threshold, preprocessing, features derivable from inputs."""
    threshold = doc["threshold"]
    if not _is_number(threshold.get("value")) or not math.isfinite(threshold["value"]):
        _fail(doc, "'threshold.value' must be a finite number.")
    if threshold.get("direction", ">=") != ">=":
        _fail(doc, "'threshold.direction' must be '>=' (class 1 when score >= value).")
    rule = doc.get("patient_score")
    if rule is not None and rule not in PATIENT_SCORE_RULES:
        _fail(doc, f"'patient_score' must be one of {PATIENT_SCORE_RULES} or absent, got {rule!r}.")
    _validate_preprocessing(doc)
    features = _feature_list(doc)
    available = set(_design_sources(doc))
    unknown = [f for f in features if f not in available]
    if unknown:
        _fail(doc, f"model features not derivable from 'inputs' and 'preprocessing': {', '.join(unknown)}.")
    return features


def _validate_preprocessing(doc: Mapping) -> None:
    prep = doc.get("preprocessing") or {}
    if not isinstance(prep, Mapping):
        _fail(doc, "'preprocessing' must be an object.")
    inputs = set(doc["inputs"])
    for column, offset in (prep.get("log_transform") or {}).items():
        if column not in inputs or not _is_number(offset):
            _fail(doc, f"log_transform entry {column!r} must name an input and hold a number.")
    for column, pair in (prep.get("standardize") or {}).items():
        ok = isinstance(pair, list) and len(pair) == 2 and all(_is_number(v) for v in pair)
        if column not in inputs or not ok or not pair[1] > 0:
            _fail(doc, f"standardize entry {column!r} must name an input and hold [mean, sd > 0].")
    for column, spec in (prep.get("one_hot") or {}).items():
        levels = spec.get("levels") if isinstance(spec, Mapping) else None
        if column not in inputs or not isinstance(levels, list) or not all(isinstance(v, str) for v in levels):
            _fail(doc, f"one_hot entry {column!r} must name an input and hold 'levels' (strings) and 'reference'.")
        if not isinstance(spec.get("reference"), str) or spec["reference"] in levels:
            _fail(doc, f"one_hot entry {column!r} needs a 'reference' level that is not among 'levels'.")


def _design_sources(doc: Mapping) -> list[str]:
    """Every design column the inputs can produce: numeric inputs and one-hot dummies."""
    one_hot = (doc.get("preprocessing") or {}).get("one_hot") or {}
    names = [c for c in doc["inputs"] if c not in one_hot]
    for column, spec in one_hot.items():
        names += [f"{column}={level}" for level in spec["levels"]]
    return names


def validate_logistic(doc: Mapping) -> None:
    """kind 'logistic': model = {features, coefficients, intercept}."""
    features = _validate_common(doc)
    _numbers(doc, doc["model"].get("coefficients"), "model.coefficients", len(features))
    if not _is_number(doc["model"].get("intercept")):
        _fail(doc, "'model.intercept' must be a number.")


def validate_random_forest(doc: Mapping) -> None:
    """kind 'random_forest': model = {features, classes [0, 1], trees [{children_left, ...}]}."""
    features = _validate_common(doc)
    model = doc["model"]
    if model.get("classes") != [0, 1]:
        _fail(doc, "'model.classes' must be [0, 1] (binary forests only).")
    trees = model.get("trees")
    if not isinstance(trees, list) or not trees:
        _fail(doc, "'model.trees' must be a non-empty list.")
    for number, tree in enumerate(trees):
        _validate_tree(doc, tree, number, len(features))


def _validate_tree(doc: Mapping, tree: Any, number: int, n_features: int) -> None:
    """Arrays of equal length; internal nodes point forward (child index > node index, so the
    traversal always ends); leaves have children -1; features in range; leaf values are
    class-probability pairs summing to 1."""
    where = f"tree {number}"
    if not isinstance(tree, Mapping):
        _fail(doc, f"{where} must be an object.")
    left = _numbers(doc, tree.get("children_left"), f"{where}.children_left")
    size = left.size
    right = _numbers(doc, tree.get("children_right"), f"{where}.children_right", size)
    feature = _numbers(doc, tree.get("feature"), f"{where}.feature", size)
    _numbers(doc, tree.get("threshold"), f"{where}.threshold", size)
    value = tree.get("value")
    if not isinstance(value, list) or len(value) != size:
        _fail(doc, f"{where}.value must hold one [p0, p1] pair per node.")
    probabilities = np.asarray([_numbers(doc, pair, f"{where}.value", 2) for pair in value])
    nodes = np.arange(size)
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        _fail(doc, f"{where}: a node has exactly one child.")
    internal = ~leaf
    if np.any(left[internal] <= nodes[internal]) or np.any(right[internal] <= nodes[internal]) \
            or np.any(left[internal] >= size) or np.any(right[internal] >= size):
        _fail(doc, f"{where}: child indices must point to later nodes of the same tree.")
    if np.any((feature[internal] < 0) | (feature[internal] >= n_features)) or np.any(feature != np.round(feature)):
        _fail(doc, f"{where}: feature indices out of range.")
    if np.any(probabilities < 0) or np.any(np.abs(probabilities.sum(axis=1) - 1) > 1e-9):
        _fail(doc, f"{where}: node values must be class probabilities summing to 1.")


def validate_cox(doc: Mapping) -> None:
    """kind 'cox': model = {features, coefficients, means, [score], [baseline_survival]}."""
    features = _validate_common(doc)
    model = doc["model"]
    _numbers(doc, model.get("coefficients"), "model.coefficients", len(features))
    _numbers(doc, model.get("means"), "model.means", len(features))
    if model.get("score", "partial_hazard") not in ("partial_hazard", "linear_predictor"):
        _fail(doc, "'model.score' must be 'partial_hazard' or 'linear_predictor'.")
    baseline = model.get("baseline_survival")
    if baseline is not None:
        times = _numbers(doc, baseline.get("times") if isinstance(baseline, Mapping) else None, "baseline_survival.times")
        _numbers(doc, baseline.get("survival"), "baseline_survival.survival", times.size)


#: model kind -> validator of its ``model`` content (registered by the package, models/__init__.py)
VALIDATORS = {"logistic": validate_logistic, "random_forest": validate_random_forest, "cox": validate_cox}


# --------------------------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------------------------
def _column(table, name: str) -> np.ndarray:
    return np.asarray(table[name])


def _numeric_input(model: Mapping, table, column: str) -> np.ndarray:
    """One numeric input column as float, refusing text and missing values (naming the column)."""
    try:
        values = np.asarray(_column(table, column), dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"Column '{column}' needed by model '{model['name']}' is not numeric.") from None
    bad = ~np.isfinite(values)
    if np.any(bad):
        raise InputError(
            f"Column '{column}' needed by model '{model['name']}' has {int(bad.sum())} missing or non-finite "
            f"value(s) (rows {', '.join(str(i) for i in np.flatnonzero(bad)[:10])}); the model cannot score them."
        )
    return values


def design_matrix(model: Mapping, table) -> np.ndarray:
    """The preprocessed design matrix (rows of ``table``, columns ``model['model']['features']``).

    ``table`` is a pandas DataFrame or a mapping of column name -> values.
    """
    require_columns(model, list(table.keys()))
    prep = model.get("preprocessing") or {}
    logs, scales, one_hot = prep.get("log_transform") or {}, prep.get("standardize") or {}, prep.get("one_hot") or {}
    columns = {}
    for feature in model["model"]["features"]:
        source, _, level = feature.partition("=")
        if source in one_hot and level:
            columns[feature] = _dummy(model, table, source, one_hot[source], level)
            continue
        values = _numeric_input(model, table, feature)
        if feature in logs:
            values = np.log(np.maximum(values + logs[feature], 1.0))
        if feature in scales:
            mean, sd = scales[feature]
            values = (values - mean) / sd
        columns[feature] = values
    return np.column_stack([columns[f] for f in model["model"]["features"]]).astype(float)


def _dummy(model: Mapping, table, column: str, spec: Mapping, level: str) -> np.ndarray:
    values = np.asarray(_column(table, column)).astype(str)
    allowed = set(spec["levels"]) | {spec["reference"]}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InputError(
            f"Column '{column}' has value(s) {', '.join(unknown)} that model '{model['name']}' does not know; "
            f"expected one of {', '.join(sorted(allowed))}."
        )
    return (values == level).astype(float)


# --------------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------------
def expit(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), computed without overflow."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp_x = np.exp(x[~positive])
    out[~positive] = exp_x / (1.0 + exp_x)
    return out


def _logistic_scores(model: Mapping, design: np.ndarray) -> np.ndarray:
    beta = np.asarray(model["coefficients"], dtype=float)
    return expit(design @ beta + float(model["intercept"]))


def _tree_probability(tree: Mapping, x: np.ndarray) -> np.ndarray:
    """Class-1 probability of the leaf each row of x (float32-rounded) reaches."""
    left = np.asarray(tree["children_left"], dtype=np.int64)
    right = np.asarray(tree["children_right"], dtype=np.int64)
    feature = np.asarray(tree["feature"], dtype=np.int64)
    threshold = np.asarray(tree["threshold"], dtype=float)
    p1 = np.asarray(tree["value"], dtype=float)[:, 1]
    node = np.zeros(x.shape[0], dtype=np.int64)
    rows = np.arange(x.shape[0])
    while True:
        internal = left[node] != -1
        if not internal.any():
            return p1[node]
        go_left = x[rows, np.maximum(feature[node], 0)] <= threshold[node]
        node = np.where(internal, np.where(go_left, left[node], right[node]), node)


def _forest_scores(model: Mapping, design: np.ndarray) -> np.ndarray:
    x = design.astype(np.float32).astype(np.float64)
    total = np.zeros(design.shape[0])
    for tree in model["trees"]:
        total += _tree_probability(tree, x)
    return total / len(model["trees"])


def _cox_scores(model: Mapping, design: np.ndarray) -> np.ndarray:
    beta = np.asarray(model["coefficients"], dtype=float)
    lp = (design - np.asarray(model["means"], dtype=float)) @ beta
    return lp if model.get("score", "partial_hazard") == "linear_predictor" else np.exp(lp)


_SCORERS = {"logistic": _logistic_scores, "random_forest": _forest_scores, "cox": _cox_scores}


def predict_scores(model: Mapping, table) -> np.ndarray:
    """Score every row of ``table`` with a loaded (validated) model; see the module docstring."""
    scorer = _SCORERS.get(model["kind"])
    if scorer is None:
        raise ModelFileError(f"Model kind {model['kind']!r} has no numpy scorer; known: {', '.join(KINDS)}.")
    return scorer(model["model"], design_matrix(model, table))


def classify(model: Mapping, scores) -> np.ndarray:
    """0/1 class: 1 when score >= the model's threshold value."""
    return (np.asarray(scores, dtype=float) >= float(model["threshold"]["value"])).astype(int)


def apply_model(model: Mapping, table):
    """A new DataFrame: the id columns present (patient_id, lesion_id), ``score`` and ``class``."""
    scores = predict_scores(model, table)
    out = table[[c for c in ID_COLUMNS if c in table.columns]].copy()
    out["score"] = scores
    out["class"] = classify(model, scores)
    return out


def model_identity(model: Mapping) -> dict:
    """Name, version and SHA-256 of a model: what provenance records about it."""
    return {key: model.get(key) for key in ("name", "version", "sha256")}


def with_signature_scores(model: Mapping, table, lesions=None):
    """A copy of ``table`` with the model's score and class as ``signature_score`` / ``signature_class``.

    A patient-level model scores the rows of ``table``. A lesion-level model scores ``lesions``
    (its lesion table) and gives each patient row of ``table`` the mean of its lesion scores
    (``patient_scores``); without ``lesions`` it scores the rows of ``table`` themselves. The
    copy's ``attrs['provenance']`` adds the model's identity (``signature_model``) to the table's.
    """
    if model["level"] == "lesion" and lesions is not None:
        scored = patient_scores(model, apply_model(model, lesions))
        by_patient = scored.set_index(scored["patient_id"].astype(str))
        keys = table["patient_id"].astype(str)
        missing = sorted(set(keys) - set(by_patient.index))
        if missing:
            raise InputError(f"No lesion of patient(s) {', '.join(missing[:5])} in the lesion table: "
                             f"model '{model['name']}' scores lesions.")
        score, klass = by_patient.loc[keys, "score"].to_numpy(), by_patient.loc[keys, "class"].to_numpy()
    else:
        scored = apply_model(model, table)
        score, klass = scored["score"].to_numpy(), scored["class"].to_numpy()
    out = table.copy()
    out[SIGNATURE_SCORE] = score
    out[SIGNATURE_CLASS] = klass
    out.attrs = {**table.attrs, "provenance": {**dict(table.attrs.get("provenance") or {}),
                                               "signature_model": model_identity(model)}}
    return out


def patient_scores(model: Mapping, scored_lesions):
    """Patient score = mean of the patient's lesion scores (``patient_score == "mean_of_lesions"``).

    The mean is of probabilities (not of logits), as the lesion scores are reported; the model's
    threshold is applied to that mean. Returns DataFrame(patient_id, n_lesions, score, class).
    """
    rule = model.get("patient_score")
    if rule != "mean_of_lesions":
        raise InputError(f"Model '{model['name']}' does not define a lesion -> patient rule (patient_score={rule!r}).")
    if "patient_id" not in scored_lesions.columns:
        raise InputError("The scored lesion table has no 'patient_id' column.")
    grouped = scored_lesions.groupby("patient_id", sort=False)["score"]
    out = grouped.agg(["size", "mean"]).reset_index()
    out.columns = ["patient_id", "n_lesions", "score"]
    out["class"] = classify(model, out["score"].to_numpy())
    return out
