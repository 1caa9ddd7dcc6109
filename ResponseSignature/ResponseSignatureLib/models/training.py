"""Training response signatures (scikit-learn, imported lazily) and exporting them as model files.

Methods (``train_signature(method=...)``):

``dercle`` — coarse-to-fine selection after Dercle et al. (JNCI 2020; Clin Cancer Res 2020):
  1. reproducibility: keep features with ICC(2,1) >= ``icc_threshold`` computed from repeated
     measurements (test-retest pairs, or perturbations: mask eroded/dilated by one voxel, image plus
     small noise — see ``perturbation.py``); skipped (and said so in the model card) without them;
  2. redundancy: among features with |Spearman rho| > 0.9 keep the one with the best univariate AUC;
  3. ranking by univariate discrimination |AUC - 0.5|;
  4. forward search: starting from nothing, add the candidate that most increases the stratified
     3-fold cross-validated AUC of a random forest, up to ``k`` = 4 features, stopping when no
     candidate improves the AUC by at least ``min_gain``;
  5. final random forest on the selected features.
``rf`` — a random forest on all candidate features that pass the reproducibility filter.
``elasticnet`` — after Ligero et al. (Radiology 2021): log transform + z-score with training
  statistics, reproducibility filter, lesion location one-hot dummies as covariates, elastic-net
  logistic regression with (alpha, lambda) chosen by patient-grouped cross-validated AUC and the
  one-standard-error rule (glmnet's lambda.1se analogue). On a lesion table (``lesion_id`` column)
  the model is lesion-level and the patient score is the mean of the lesion scores; the non-zero
  variables are then refitted as a logistic mixed model with a patient random intercept
  (statsmodels ``BinomialBayesMixedGLM``, MAP fit — an approximation of lme4's Laplace ML fit),
  whose fixed effects are stored (population-level prediction, ``re.form = NA``). If that refit
  fails the elastic-net coefficients are kept and the model card says so.

Every selection step uses the training table only. The model card's cross-validated AUC comes
from a nested cross-validation that repeats the whole pipeline (filters, selection, fit) inside
each outer training fold, so it is not inflated by selection. The decision threshold is chosen on
out-of-fold scores of the final configuration (never on in-sample forest predictions).
"""
from __future__ import annotations

import inspect
import math
import re
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..progress import report
from . import evaluation
from .inference import apply_model, design_matrix, patient_scores
from .modelfile import FORMAT, SCHEMA_VERSION, validate_model
from .outcome import declare_outcome

METHODS = ("dercle", "elasticnet", "rf")
RESEARCH_ONLY = "Research use only; not a medical device; not validated for clinical decisions."


# --------------------------------------------------------------------------------------------
# reproducibility: ICC(2,1)
# --------------------------------------------------------------------------------------------
def icc_a1(measurements: np.ndarray) -> float:
    """ICC(2,1) — two-way random effects, absolute agreement, single measurement.

    Shrout & Fleiss (Psychol Bull 1979) ICC(2,1) = McGraw & Wong (1996) ICC(A,1); the form
    recommended for test-retest reliability (Koo & Li, J Chiropr Med 2016). ``measurements`` is
    n subjects x k repeats:
        ICC = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)
    with MSR the between-subjects, MSC the between-repeats and MSE the residual mean squares.
    Absolute agreement (not consistency, ICC(3,1)) because a systematic shift between repeats —
    e.g. a feature that changes whenever the contour moves by one voxel — is exactly the
    unreliability to filter out.
    """
    x = np.asarray(measurements, dtype=float)
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_error = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    msr, msc = ss_rows / (n - 1), ss_cols / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / denominator) if denominator > 0 else float("nan")


def feature_iccs(repeats: pd.DataFrame, features: Sequence[str], id_col: str = "patient_id",
                 repeat_col: str = "repeat") -> dict[str, float]:
    """ICC(2,1) per feature from a long table (one row per subject and repeat).

    The subject is ``id_col`` (plus ``lesion_id`` when the table has one: perturbation repeats are
    per lesion). A training column absent from the repeats table takes the ICC of its last
    ``:``-separated part, so ``volume_weighted:delta:original_firstorder_Entropy`` uses the
    repeatability of ``original_firstorder_Entropy`` measured per lesion. Subjects without every
    repeat are left out (ICC needs a complete two-way layout).
    """
    missing = [c for c in (id_col, repeat_col) if c not in repeats.columns]
    if missing:
        raise InputError(f"The repeated-measurements table needs the column(s): {', '.join(missing)}.")
    subject = repeats[id_col].astype(str)
    if "lesion_id" in repeats.columns:
        subject = subject + "/" + repeats["lesion_id"].astype(str)
    long = repeats.assign(_subject=subject.to_numpy())
    result = {}
    for feature in features:
        source = feature if feature in long.columns else feature.rsplit(":", 1)[-1]
        if source not in long.columns:
            continue
        wide = long.pivot_table(index="_subject", columns=repeat_col, values=source, aggfunc="first").dropna()
        if wide.shape[0] >= 2 and wide.shape[1] >= 2:
            result[feature] = icc_a1(wide.to_numpy(dtype=float))
    return result


def reproducibility_filter(repeats: pd.DataFrame | None, features: Sequence[str], threshold: float = 0.75,
                           id_col: str = "patient_id", repeat_col: str = "repeat") -> tuple[list[str], dict]:
    """Features with ICC(2,1) >= threshold (a feature without an ICC is dropped). Without
    ``repeats`` every feature is kept and the report says the filter was not applied."""
    if repeats is None:
        return list(features), {"applied": False, "reason": "no repeated measurements given"}
    iccs = feature_iccs(repeats, features, id_col, repeat_col)
    kept = [f for f in features if iccs.get(f, -math.inf) >= threshold]
    report_ = {"applied": True, "measure": "ICC(2,1) absolute agreement", "threshold": threshold,
               "n_subjects": int(len(repeats.drop_duplicates([c for c in (id_col, "lesion_id") if c in repeats]))),
               "n_repeats": int(repeats[repeat_col].nunique()), "n_kept": len(kept),
               "n_dropped": len(features) - len(kept), "no_icc": [f for f in features if f not in iccs]}
    return kept, report_


# --------------------------------------------------------------------------------------------
# redundancy and ranking
# --------------------------------------------------------------------------------------------
def univariate_aucs(table: pd.DataFrame, features: Sequence[str], y: np.ndarray) -> dict[str, float]:
    """Mann-Whitney AUC of each feature taken alone as a score (0.5 = no discrimination)."""
    return {f: evaluation.auc_value(y, table[f].to_numpy(dtype=float)) for f in features}


def rank_features(aucs: dict[str, float]) -> list[str]:
    """Features by decreasing |AUC - 0.5| (either direction of association counts); ties by name."""
    return sorted(aucs, key=lambda f: (-abs(aucs[f] - 0.5), f))


def redundancy_filter(table: pd.DataFrame, ranked: Sequence[str], max_abs_rho: float = 0.9) -> list[str]:
    """Walk the features from best to worst univariate AUC and keep a feature only if its
    |Spearman rho| with every feature already kept is <= ``max_abs_rho``; so in each group of
    highly correlated features the best-ranked one survives."""
    if not ranked:
        return []
    ranks = table[list(ranked)].rank().to_numpy(dtype=float)
    ranks = (ranks - ranks.mean(axis=0)) / np.where(ranks.std(axis=0) > 0, ranks.std(axis=0), 1.0)
    kept: list[int] = []
    for index in range(len(ranked)):
        rho = ranks[:, kept].T @ ranks[:, index] / ranks.shape[0] if kept else np.zeros(0)
        if np.all(np.abs(rho) <= max_abs_rho):
            kept.append(index)
    return [ranked[i] for i in kept]


# --------------------------------------------------------------------------------------------
# random forest, forward search
# --------------------------------------------------------------------------------------------
def make_forest(n_trees: int, seed: int, min_samples_leaf: int = 3, max_depth: int | None = None):
    """The random forest used everywhere here (n_jobs=1: reproducible, polite on shared machines)."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_samples_leaf, max_depth=max_depth,
                                  random_state=seed, n_jobs=1)


def _stratified_folds(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(y.size), y))


def cv_forest_auc(x: np.ndarray, y: np.ndarray, folds, n_trees: int, seed: int, **forest) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold AUCs of a forest fitted on each training part, and the out-of-fold scores (of the
    last pass over the data when ``folds`` holds several repetitions)."""
    oof = np.zeros(y.size)
    aucs = []
    for train, test in folds:
        model = make_forest(n_trees, seed, **forest).fit(x[train], y[train])
        oof[test] = model.predict_proba(x[test])[:, 1]
        aucs.append(evaluation.auc_value(y[test], oof[test]))
    return np.asarray(aucs), oof


def forward_search(table: pd.DataFrame, y: np.ndarray, candidates: Sequence[str], k: int = 4, folds: int = 3,
                   seed: int = 0, n_trees: int = 50, min_gain: float = 0.02,
                   repeats: int = 3) -> tuple[list[str], list[dict]]:
    """Greedy forward selection scored by stratified ``folds``-fold CV AUC of a random forest.

    The CV is repeated ``repeats`` times with different fold assignments (one 3-fold split of a
    small cohort is noisy enough for chance features to win). At each step the candidate with the
    best mean fold AUC is added only if its paired gain over the current set, d = AUC_new - AUC_now
    per fold, has mean >= ``min_gain`` and mean >= 2 SE(d) (a heuristic stopping rule: the folds
    of repeated CV are not independent). Returns the selected features and the search path.
    """
    split = [fold for r in range(repeats) for fold in _stratified_folds(y, folds, seed + r)]
    selected: list[str] = []
    path: list[dict] = []
    current = np.full(len(split), 0.5)
    while len(selected) < k:
        scores = {}
        for feature in candidates:
            if feature not in selected:
                x = table[selected + [feature]].to_numpy(dtype=float)
                scores[feature] = cv_forest_auc(x, y, split, n_trees, seed)[0]
        if not scores:
            break
        feature = max(scores, key=lambda f: (scores[f].mean(), -list(candidates).index(f)))
        gain = scores[feature] - current
        se = gain.std(ddof=1) / math.sqrt(gain.size)
        if gain.mean() < max(min_gain, 2 * se):
            break
        selected.append(feature)
        current = scores[feature]
        path.append({"feature": feature, "cv_auc": float(current.mean()), "gain": float(gain.mean()),
                     "gain_se": float(se)})
    return selected, path


def export_random_forest(forest, features: Sequence[str]) -> dict:
    """``model`` content of kind 'random_forest' from a fitted binary RandomForestClassifier.

    Per tree: children_left/right (-1 at leaves), feature (-2 at leaves), threshold, and value as
    [p(class 0), p(class 1)] per node (node class counts/weights normalised to sum 1).
    """
    if list(forest.classes_) != [0, 1]:
        raise InputError(f"The forest must be trained on a 0/1 outcome, got classes {list(forest.classes_)}.")
    trees = []
    for estimator in forest.estimators_:
        tree = estimator.tree_
        value = tree.value[:, 0, :]
        value = value / value.sum(axis=1, keepdims=True)
        trees.append({"children_left": tree.children_left.tolist(), "children_right": tree.children_right.tolist(),
                      "feature": tree.feature.tolist(), "threshold": tree.threshold.tolist(), "value": value.tolist()})
    return {"features": list(features), "classes": [0, 1], "trees": trees, "input_rounding": "float32",
            "n_estimators": len(trees)}


# --------------------------------------------------------------------------------------------
# logistic / elastic net
# --------------------------------------------------------------------------------------------
def make_logistic(c: float, l1_ratio: float, seed: int, max_iter: int = 5000):
    """Elastic-net logistic regression (saga) across scikit-learn versions (``penalty`` is
    deprecated from 1.8 on: ``l1_ratio`` alone then selects the penalty)."""
    from sklearn.linear_model import LogisticRegression

    options = {"C": c, "l1_ratio": l1_ratio, "solver": "saga", "max_iter": max_iter, "random_state": seed, "tol": 1e-6}
    if inspect.signature(LogisticRegression).parameters["penalty"].default != "deprecated":
        options["penalty"] = "elasticnet"
    return LogisticRegression(**options)


def export_logistic(estimator, features: Sequence[str]) -> dict:
    """``model`` content of kind 'logistic' from a fitted binary LogisticRegression."""
    if list(estimator.classes_) != [0, 1]:
        raise InputError(f"The model must be trained on a 0/1 outcome, got classes {list(estimator.classes_)}.")
    return {"features": list(features), "coefficients": [float(v) for v in estimator.coef_[0]],
            "intercept": float(estimator.intercept_[0]), "link": "logit"}


def _grouped_folds(y: np.ndarray, groups: np.ndarray, folds: int, seed: int):
    """Folds that never split a patient's lesions between training and test."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(y.size), y, groups))


def _cv_logistic(x, y, groups, split, c, l1_ratio, seed) -> tuple[list[float], np.ndarray]:
    """Per-fold patient-level AUCs and out-of-fold lesion scores of one (C, l1_ratio)."""
    import warnings

    oof = np.zeros(y.size)
    aucs = []
    for train, test in split:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make_logistic(c, l1_ratio, seed).fit(x[train], y[train])
        oof[test] = model.predict_proba(x[test])[:, 1]
        patient_y, patient_s = _patient_means(y[test], oof[test], groups[test])
        aucs.append(_safe_auc(patient_y, patient_s))
    return aucs, oof


def _safe_auc(y: np.ndarray, s: np.ndarray) -> float:
    return evaluation.auc_value(y, s) if 0 < y.sum() < y.size else 0.5


def _patient_means(y: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.DataFrame({"g": groups, "y": y, "s": scores}).groupby("g", sort=True).mean()
    return frame["y"].to_numpy().round().astype(int), frame["s"].to_numpy()


def fit_elasticnet(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0, folds: int = 4,
                   cs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
                   l1_ratios: Sequence[float] = (0.1, 0.5, 0.9, 1.0)) -> tuple[Any, dict, np.ndarray]:
    """Elastic-net logistic regression with (C, l1_ratio) chosen by patient-grouped CV AUC.

    One-standard-error rule: among all settings whose mean CV AUC is within one SE of the best,
    take the strongest penalty (smallest C), then the largest l1_ratio (sparsest); like glmnet's
    lambda.1se used by Ligero 2021 (who scored misclassification rather than AUC). C = 1/lambda
    in scikit-learn's parametrisation (glmnet's lambda is about 1/(n C)). Returns the estimator
    refitted on all rows, the CV report and the out-of-fold scores of the chosen setting.
    """
    import warnings

    split = _grouped_folds(y, groups, folds, seed)
    results = []
    for c in cs:
        for ratio in l1_ratios:
            aucs, oof = _cv_logistic(x, y, groups, split, c, ratio, seed)
            results.append({"C": c, "l1_ratio": ratio, "mean": float(np.mean(aucs)),
                            "se": float(np.std(aucs, ddof=1) / math.sqrt(len(aucs))), "oof": oof})
    best = max(results, key=lambda r: r["mean"])
    eligible = [r for r in results if r["mean"] >= best["mean"] - best["se"]]
    chosen = min(eligible, key=lambda r: (r["C"], -r["l1_ratio"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = make_logistic(chosen["C"], chosen["l1_ratio"], seed).fit(x, y)
    cv = {"folds": folds, "grouped_by": "patient", "rule": "one standard error, strongest penalty",
          "C": chosen["C"], "l1_ratio": chosen["l1_ratio"], "cv_auc": chosen["mean"], "best_cv_auc": best["mean"]}
    return estimator, cv, chosen["oof"]


def fit_mixed_logistic(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic model with a patient random intercept; returns (fixed-effect slopes, intercept).

    statsmodels ``BinomialBayesMixedGLM`` fitted by MAP (posterior mode; priors N(0, 2^2) on fixed
    effects, the defaults): an approximation of lme4's ``glmer(y ~ x + (1 | patient))`` (Laplace
    ML), which statsmodels does not offer for binomial outcomes.
    """
    import warnings

    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    exog = np.column_stack([np.ones(y.size), x])
    levels, codes = np.unique(groups, return_inverse=True)
    exog_vc = np.zeros((y.size, levels.size))
    exog_vc[np.arange(y.size), codes] = 1.0
    with warnings.catch_warnings():  # posterior SDs of a MAP fit may be NaN; only the mode is used
        warnings.simplefilter("ignore", RuntimeWarning)
        result = BinomialBayesMixedGLM(y, exog, exog_vc, np.zeros(levels.size, dtype=int)).fit_map()
    fixed = np.asarray(result.fe_mean, dtype=float)
    if not np.all(np.isfinite(fixed)):
        raise ValueError("mixed model did not converge")
    return fixed[1:], float(fixed[0])


# --------------------------------------------------------------------------------------------
# Cox (for nomograms and survival signatures)
# --------------------------------------------------------------------------------------------
def export_cox(fitter, features: Sequence[str], score: str = "partial_hazard") -> dict:
    """``model`` content of kind 'cox' from a fitted lifelines CoxPHFitter.

    lifelines centres covariates on their training means: partial hazard = exp((x - mean) b) and
    baseline survival S0(t) is that of a patient at the means, so S(t | x) = S0(t) ** partial hazard.
    """
    params = fitter.params_
    means = fitter._norm_mean  # lifelines' centring values (same order as params_)
    baseline = fitter.baseline_survival_.iloc[:, 0]
    return {"features": list(features), "coefficients": [float(params[f]) for f in features],
            "means": [float(means[f]) for f in features], "score": score,
            "baseline_survival": {"times": [float(t) for t in baseline.index], "survival": [float(v) for v in baseline]}}


def fit_cox(table: pd.DataFrame, duration_col: str, event_col: str, features: Sequence[str],
            penalizer: float = 0.0):
    """A lifelines CoxPHFitter on ``features`` (Breslow baseline)."""
    from lifelines import CoxPHFitter

    _require(table, [duration_col, event_col, *features])
    data = table[[duration_col, event_col, *features]].dropna()
    return CoxPHFitter(penalizer=penalizer).fit(data, duration_col=duration_col, event_col=event_col)


# --------------------------------------------------------------------------------------------
# input preparation
# --------------------------------------------------------------------------------------------
def _require(table: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"The training table has no column(s): {', '.join(missing)}.")


def _outcome_vector(table: pd.DataFrame, outcome: str) -> np.ndarray:
    values = pd.to_numeric(table[outcome], errors="coerce")
    if values.isna().any() or not values.isin([0, 1]).all():
        raise InputError(f"Outcome column '{outcome}' must be coded 0/1 (1 = the event the signature predicts).")
    y = values.to_numpy().astype(int)
    if min(y.sum(), y.size - y.sum()) < 3:
        raise InputError(f"Outcome '{outcome}' needs at least 3 patients in each class to train a signature.")
    return y


#: the ``<time point>:`` part of a radiomics column: baseline, followup, followup2..., delta, reldelta
FEATURE_STAGE = r"(?:baseline|followup\d*|delta|reldelta)"
#: lesion measures that are RECIST/volumetric comparators, not radiomics features (lesion_table.MEASURES)
MEASURE_NAMES = ("longest_diameter_mm", "short_axis_mm", "volume_ml", "mean_hu", "n_voxels")
#: patient-table prefixes that count lesions or vote on probabilities rather than aggregate a feature
NON_FEATURE_METHODS = ("count", "vote", "vote_class")
_RADIOMICS_COLUMN = re.compile(rf"^(?:(?P<method>[a-z_]+):)?{FEATURE_STAGE}:(?P<feature>[^:]+)$")
_ID_NAME = re.compile(r"(^|[_\s])(id|ids|no|nr|number|index|mrn|accession)$", re.IGNORECASE)


def is_radiomics_column(name: str) -> bool:
    """Whether a column holds a radiomic feature: ``<time point>:<feature>`` of the lesion table or
    ``<method>:<time point>:<feature>`` of the patient table (e.g.
    ``volume_weighted:delta:original_firstorder_Entropy``), where the time point is baseline,
    followup[N], delta or reldelta. The RECIST/volumetric measures (diameters, volume, mean HU,
    voxel count), lesion counts and votes are not features."""
    match = _RADIOMICS_COLUMN.match(str(name))
    if not match or match.group("feature") in MEASURE_NAMES:
        return False
    return match.group("method") not in NON_FEATURE_METHODS


def radiomics_feature_columns(table: pd.DataFrame) -> list[str]:
    """The numeric radiomics feature columns of a lesion or patient table (``is_radiomics_column``)."""
    return [c for c in table.columns if is_radiomics_column(c) and pd.api.types.is_numeric_dtype(table[c])
            and not pd.api.types.is_bool_dtype(table[c])]


def leakage_reason(table: pd.DataFrame, column: str, outcome: str, id_col: str, y: np.ndarray) -> str | None:
    """Why a column must not be a feature, or None: it is an identifier, another coding of the
    outcome (equal to it or to 1 - it), or it separates the outcome classes perfectly."""
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    if column in (outcome, id_col, "patient_id", "lesion_id") or _looks_like_identifier(column, values):
        return "looks like an identifier"
    known = np.isfinite(values)
    if known.sum() >= 2 and np.all(np.isin(values[known], (0.0, 1.0))):
        if np.array_equal(values[known], y[known]) or np.array_equal(values[known], 1 - y[known]):
            return f"is another coding of the outcome (equals {outcome}{'' if np.array_equal(values[known], y[known]) else ' reversed'})"
    if evaluation.separates_perfectly(y, values):
        return f"separates {outcome} perfectly (every case above or below every control)"
    return None


def _looks_like_identifier(column: str, values: np.ndarray) -> bool:
    """An id-like name (patient_no, subject_id, MRN...), or a run of consecutive whole numbers (row numbers)."""
    if _ID_NAME.search(str(column)):
        return True
    known = values[np.isfinite(values)]
    if known.size < 5 or not np.all(known == np.round(known)) or np.unique(known).size != known.size:
        return False
    return bool(known.max() - known.min() + 1 == known.size)


def candidate_features(table: pd.DataFrame, outcome: str, id_col: str, feature_columns: Sequence[str] | None,
                       allow_separation: bool = False, require_all: bool = False,
                       prefix: str | None = None) -> tuple[list[str], dict]:
    """Numeric, complete, non-constant candidate columns that do not leak the outcome.

    Default (``feature_columns`` None): the radiomics feature columns only
    (``radiomics_feature_columns``; those starting with ``prefix`` when given), never ids,
    outcomes, times, RECIST or clinical columns.
    Columns named in ``feature_columns`` are used as given, but one that is an identifier or
    another coding of the outcome is refused (InputError naming it), and so is one that separates
    the outcome perfectly unless ``allow_separation``. ``require_all`` (a template's inputs):
    every named column must be usable, else InputError naming it and why.
    Returns (features, {reason: [excluded columns]}).
    """
    y = pd.to_numeric(table[outcome], errors="coerce").to_numpy(dtype=float)
    named = feature_columns is not None
    excluded: dict[str, list[str]] = {}
    if not named:
        feature_columns = [c for c in radiomics_feature_columns(table) if c.startswith(prefix or "")]
        _note_unused_columns(table, outcome, id_col, y, feature_columns, excluded)
        if not feature_columns:
            wanted = f"starting with '{prefix}' " if prefix else ""
            raise InputError(f"No radiomics feature columns {wanted}in the training table (names like "
                             "'delta:<feature>' or 'volume_weighted:reldelta:<feature>', see the README); name the "
                             "candidate columns with --features.")
    _require(table, feature_columns)
    kept = []
    for column in feature_columns:
        reason = _unusable(table[column])
        leak = None if reason else leakage_reason(table, column, outcome, id_col, y)
        if leak and allow_separation and leak.startswith("separates"):
            leak = None
        if named and (leak or (reason and require_all)):
            _refuse(column, leak or reason)
        if reason or leak:
            excluded.setdefault(reason or _leak_key(leak), []).append(column)
        else:
            kept.append(column)
    if not kept:
        summary = "; ".join(f"{key}: {', '.join(columns[:5])}" for key, columns in excluded.items())
        raise InputError(f"No usable feature columns (numeric, complete, not constant, not leaking the outcome) "
                         f"in the training table ({summary}).")
    return kept, excluded


def _unusable(column: pd.Series) -> str | None:
    """'empty', 'missing_values', 'not_numeric' or 'constant' for a column that cannot be a feature."""
    values = pd.to_numeric(column, errors="coerce")
    if column.isna().all():
        return "empty"
    if values.isna().any():
        return "not_numeric" if column.notna().all() else "missing_values"
    if values.nunique() < 2:
        return "constant"
    return None


_REASON_TEXT = {"empty": "is empty (no value in any row)", "missing_values": "has missing values",
                "not_numeric": "is not numeric", "constant": "is constant"}


def _refuse(column: str, reason: str) -> None:
    """InputError naming a named feature column that cannot be used, and why."""
    hint = " (--allow-separation keeps it)" if reason.startswith("separates") else ""
    raise InputError(f"Feature column '{column}' {_REASON_TEXT.get(reason, reason)}; it cannot be a signature "
                     f"input{hint}.")


def _leak_key(reason: str) -> str:
    """The model card's key of a leakage reason."""
    return {"looks": "identifier", "is": "other_outcome", "separates": "separates_outcome"}[reason.split()[0]]


def _note_unused_columns(table, outcome, id_col, y, features, excluded) -> None:
    """Record the numeric non-feature columns by reason (identifier, other outcome, not radiomics)."""
    for column in table.columns:
        if column in features or column == outcome or not pd.api.types.is_numeric_dtype(table[column]):
            continue
        leak = leakage_reason(table, column, outcome, id_col, y)
        if leak and not leak.startswith("separates"):
            key = _leak_key(leak)
        else:
            key = "other_prefix" if is_radiomics_column(column) else "not_a_radiomics_feature"
        excluded.setdefault(key, []).append(column)


def _training_rows(table: pd.DataFrame, outcome: str, id_col: str, method: str) -> tuple[pd.DataFrame, str]:
    """Rows with an outcome; the level ('lesion' if a lesion_id column exists, else 'patient')."""
    _require(table, [outcome, id_col])
    rows = table[table[outcome].notna()].reset_index(drop=True)
    level = "lesion" if "lesion_id" in rows.columns else "patient"
    if level == "patient" and rows[id_col].duplicated().any():
        raise InputError(f"'{id_col}' repeats in a patient-level table; give one row per patient.")
    if level == "lesion" and method != "elasticnet":
        raise InputError(f"Method '{method}' trains patient-level signatures: aggregate the lesion table to "
                         "patients first (LesionAggregate), or use --method elasticnet for a lesion-level model.")
    if level == "lesion" and (rows.groupby(id_col)[outcome].nunique() > 1).any():
        raise InputError(f"Outcome '{outcome}' must be the same for all lesions of a patient.")
    return rows, level


# --------------------------------------------------------------------------------------------
# the methods
# --------------------------------------------------------------------------------------------
def _train_dercle(rows, y, features, options, progress) -> dict:
    """Redundancy -> ranking -> forward search -> random forest (reproducibility done before)."""
    aucs = univariate_aucs(rows, features, y)
    ranked = redundancy_filter(rows, rank_features(aucs), options["max_abs_rho"])
    report(progress, 0.3, f"forward search over {min(len(ranked), options['max_candidates'])} candidates")
    candidates = ranked[: options["max_candidates"]]
    selected, path = forward_search(rows, y, candidates, options["k"], options["folds"], options["seed"],
                                    options["search_trees"], options["min_gain"], options["cv_repeats"])
    selection = {"after_redundancy": len(ranked), "candidates": candidates, "forward_path": path,
                 "univariate_auc": {f: aucs[f] for f in candidates}}
    if not selected:
        selected = candidates[:1]
        selection["fallback"] = ("no candidate improved the cross-validated AUC: the best-ranked feature is used; "
                                 "expect no discrimination")
    return _fit_forest(rows, y, selected, options, selection)


def _fit_forest(rows, y, features, options, selection) -> dict:
    x = rows[features].to_numpy(dtype=float)
    forest = make_forest(options["n_trees"], options["seed"], options["min_samples_leaf"], options["max_depth"])
    forest.fit(x, y)
    split = _stratified_folds(y, options["folds"], options["seed"])
    _, oof = cv_forest_auc(x, y, split, options["n_trees"], options["seed"],
                           min_samples_leaf=options["min_samples_leaf"], max_depth=options["max_depth"])
    return {"kind": "random_forest", "model": export_random_forest(forest, features), "inputs": list(features),
            "preprocessing": {}, "oof_scores": oof, "oof_y": y, "selection": selection,
            "hyperparameters": {"n_estimators": options["n_trees"], "min_samples_leaf": options["min_samples_leaf"],
                                "max_depth": options["max_depth"], "max_features": "sqrt"}}


def _log_zscore(rows: pd.DataFrame, features: Sequence[str]) -> dict:
    """Training-set preprocessing: offset = 1 - min, then mean/SD (ddof=1) of log(x + offset)."""
    logs, scales = {}, {}
    for f in features:
        values = rows[f].to_numpy(dtype=float)
        logs[f] = float(1.0 - values.min())
        logged = np.log(values + logs[f])
        sd = float(logged.std(ddof=1))
        scales[f] = [float(logged.mean()), sd if sd > 0 else 1.0]
    return {"log_transform": logs, "standardize": scales}


def _location_spec(rows: pd.DataFrame, all_levels: Sequence[str] | None = None) -> dict | None:
    """One-hot spec for a 'location' column: reference 'other' if present, else the commonest.

    ``all_levels`` (the values of the whole table, not outcome information) keeps the spec the
    same inside nested-CV folds, so a held-out lesion in a location absent from the training fold
    is still scored (its dummy column is all zeros in training, so its coefficient stays 0).
    """
    if "location" not in rows.columns or rows["location"].isna().any():
        return None
    levels = sorted(set(rows["location"].astype(str)) | set(all_levels or ()))
    if len(levels) < 2:
        return None
    reference = "other" if "other" in levels else rows["location"].astype(str).value_counts().index[0]
    return {"levels": [v for v in levels if v != reference], "reference": reference}


def _train_elasticnet(rows, y, features, level, id_col, options, progress) -> dict:
    prep = _log_zscore(rows, features)
    location = _location_spec(rows, options.get("location_levels"))
    inputs = list(features) + (["location"] if location else [])
    if location:
        prep["one_hot"] = {"location": location}
    probe = {"name": "training", "inputs": inputs, "preprocessing": prep,
             "model": {"features": list(features) + [f"location={v}" for v in (location or {}).get("levels", [])]}}
    x = design_matrix(probe, rows)
    groups = rows[id_col].astype(str).to_numpy() if level == "lesion" else np.arange(len(rows)).astype(str)
    report(progress, 0.3, "elastic net: cross-validating the penalty")
    estimator, cv, oof = fit_elasticnet(x, y, groups, options["seed"], options["enet_folds"])
    coefficients, intercept = estimator.coef_[0], float(estimator.intercept_[0])
    keep = np.flatnonzero(coefficients != 0)
    if keep.size == 0:
        keep = np.array([int(np.argmax(np.abs(coefficients)))])
    names = [probe["model"]["features"][i] for i in keep]
    refit = {"mixed_model": "not applicable (one row per patient)"}
    if level == "lesion":
        coefficients, intercept, refit = _mixed_refit(x[:, keep], y, groups, coefficients[keep], intercept)
        if refit.pop("refitted"):
            try:
                split = _grouped_folds(y, groups, options["enet_folds"], options["seed"])
                oof = _mixed_oof(x[:, keep], y, groups, split)
            except Exception as error:  # keep the elastic-net out-of-fold scores, say so
                refit["threshold_scores"] = f"elastic-net out-of-fold scores (mixed refit failed in a fold: {error})"
    else:
        coefficients = coefficients[keep]
    used_inputs = [c for c in features if c in names] + (["location"] if any(n.startswith("location=") for n in names) else [])
    used_prep = {"log_transform": {c: prep["log_transform"][c] for c in names if c in features},
                 "standardize": {c: prep["standardize"][c] for c in names if c in features}}
    if "location" in used_inputs:
        used_prep["one_hot"] = prep["one_hot"]
    model = {"features": names, "coefficients": [float(v) for v in coefficients], "intercept": intercept, "link": "logit"}
    oof_y, oof_s = _patient_means(y, oof, groups) if level == "lesion" else (y, oof)
    return {"kind": "logistic", "model": model, "inputs": used_inputs, "preprocessing": used_prep,
            "oof_scores": oof_s, "oof_y": oof_y, "selection": {"elastic_net": cv, **refit},
            "hyperparameters": {"C": cv["C"], "l1_ratio": cv["l1_ratio"], "solver": "saga"}}


def _mixed_refit(x, y, groups, coefficients, intercept):
    """Fixed effects of the patient-random-intercept refit, or the elastic-net ones if it fails."""
    try:
        slopes, b0 = fit_mixed_logistic(x, y, groups)
        return slopes, b0, {"refitted": True,
                            "mixed_model": "BinomialBayesMixedGLM (statsmodels, MAP), patient random intercept; "
                                           "fixed effects stored (population-level prediction)"}
    except Exception as error:  # statsmodels missing or not converging: keep the elastic net
        return coefficients, intercept, {"refitted": False,
                                         "mixed_model": f"not fitted ({error}); elastic-net coefficients stored. "
                                                        "Patient clustering is then handled only by grouped CV."}


def _mixed_oof(x, y, groups, split) -> np.ndarray:
    """Out-of-fold lesion scores of the mixed-model refit (fixed effects only), so that the
    threshold is chosen on scores of the model that is stored."""
    from .inference import expit

    oof = np.zeros(y.size)
    for train, test in split:
        slopes, b0 = fit_mixed_logistic(x[train], y[train], groups[train])
        oof[test] = expit(x[test] @ slopes + b0)
    return oof


# --------------------------------------------------------------------------------------------
# the public entry point
# --------------------------------------------------------------------------------------------
DEFAULT_OPTIONS = {"k": 4, "folds": 3, "n_trees": 200, "search_trees": 50, "min_samples_leaf": 3, "max_depth": None,
                   "max_candidates": 10, "min_gain": 0.02, "cv_repeats": 3, "max_abs_rho": 0.9, "icc_threshold": 0.75,
                   "enet_folds": 4, "outer_folds": 3, "seed": 0}


def train_signature(table: pd.DataFrame, outcome: str, method: str = "dercle", id_col: str = "patient_id",
                    feature_columns: Sequence[str] | None = None, icc_table: pd.DataFrame | None = None,
                    threshold_method: str = "youden", seed: int = 0, progress=None, name: str | None = None,
                    positive_means: str | None = None, unfavourable: bool | None = None,
                    allow_separation: bool = False, require_all_features: bool = False,
                    feature_prefix: str | None = None, **options: Any) -> dict:
    """Train a signature and return a validated model document (save it with ``save_model``).

    ``table``: one row per patient (or per lesion, with ``lesion_id``, for ``elasticnet``) with the
    0/1 ``outcome``; ``positive_means`` says in words what outcome 1 is and ``unfavourable`` whether
    it is bad news (None: not stated), for the model file's ``outcome`` block (``outcome.py``).
    ``icc_table``: repeated measurements (``id_col``, ``repeat``, features) for the
    reproducibility filter. ``feature_columns`` default to the radiomics feature columns (those
    starting with ``feature_prefix`` if given); see
    ``candidate_features`` for what is refused (identifiers, other outcome codings, perfect
    separators unless ``allow_separation``; with ``require_all_features`` every named column must
    be usable, as a template's inputs). ``options`` override DEFAULT_OPTIONS (k, folds, n_trees, search_trees,
    min_samples_leaf, max_depth, max_candidates, min_gain, max_abs_rho, icc_threshold, enet_folds,
    outer_folds — 0 skips the nested CV).
    """
    if method not in METHODS:
        raise InputError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise InputError(f"Unknown training option(s): {', '.join(sorted(unknown))}.")
    settings = {**DEFAULT_OPTIONS, **options, "seed": seed}
    rows, level = _training_rows(table, outcome, id_col, method)
    if "location" in rows.columns and rows["location"].notna().all():
        settings["location_levels"] = sorted(rows["location"].astype(str).unique())
    y = _outcome_vector(rows, outcome)
    report(progress, 0.02, "checking candidate features")
    features, excluded = candidate_features(rows, outcome, id_col, feature_columns, allow_separation,
                                            require_all_features, feature_prefix)
    fitted = _fit_pipeline(rows, y, features, icc_table, method, level, id_col, settings, progress)
    threshold = evaluation.choose_threshold(fitted["oof_y"], fitted["oof_scores"], threshold_method)
    doc = _document(fitted, method, level, outcome, name, threshold, threshold_method)
    doc["outcome"] = declare_outcome(outcome, positive_means, unfavourable)
    report(progress, 0.7, "nested cross-validation of the whole pipeline")
    performance = _nested_cv(rows, y, outcome, id_col, features, icc_table, method, level, settings, threshold_method)
    doc["model_card"] = _model_card(rows, y, level, id_col, outcome, method, settings, fitted, excluded, performance)
    validate_model(doc, check_hash=False)
    report(progress, 1.0, "done")
    return doc


def _fit_pipeline(rows, y, features, icc_table, method, level, id_col, settings, progress) -> dict:
    """Reproducibility filter, then the method; returns the fitted parts (no model card yet)."""
    kept, icc_report = reproducibility_filter(icc_table, features, settings["icc_threshold"], id_col)
    if not kept:
        raise InputError(f"No feature reaches ICC >= {settings['icc_threshold']}; nothing to train on.")
    report(progress, 0.1, f"{len(kept)} of {len(features)} features pass the reproducibility filter")
    if method == "dercle":
        fitted = _train_dercle(rows, y, kept, settings, progress)
    elif method == "rf":
        fitted = _fit_forest(rows, y, kept, settings, {"all_reproducible_features": True})
    else:
        fitted = _train_elasticnet(rows, y, kept, level, id_col, settings, progress)
    fitted["selection"] = {"reproducibility": icc_report, **fitted["selection"]}
    return fitted


def _document(fitted: dict, method: str, level: str, outcome: str, name: str | None, threshold: float,
              threshold_method: str) -> dict:
    doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "name": name or f"{method} signature for {outcome}",
           "version": "1", "kind": fitted["kind"], "level": level, "inputs": fitted["inputs"],
           "preprocessing": fitted["preprocessing"], "model": fitted["model"],
           "threshold": {"value": float(threshold), "method": threshold_method, "direction": ">=",
                         "chosen_on": _threshold_basis(threshold_method, level)},
           "model_card": {}, "extraction_settings": None}
    if level == "lesion":
        doc["patient_score"] = "mean_of_lesions"
    return doc


def _threshold_basis(threshold_method: str, level: str) -> str:
    if threshold_method == "fixed":
        return "fixed value 0.5 (not data-driven)"
    return "out-of-fold training scores" + (" (patient means of lesion scores)" if level == "lesion" else "")


def _nested_cv(rows, y, outcome, id_col, features, icc_table, method, level, settings, threshold_method) -> dict:
    """Outer stratified k-fold over patients; the whole pipeline is refitted in each training part
    and scores the held-out patients; AUC (DeLong CI) of the pooled out-of-fold patient scores."""
    folds = int(settings["outer_folds"])
    if folds < 2:
        return {"nested_cv": "not run"}
    patients = pd.DataFrame({"id": rows[id_col].astype(str), "y": y}).groupby("id", sort=True)["y"].first()
    split = _stratified_folds(patients.to_numpy(), folds, settings["seed"] + 1)
    inner = {**settings, "outer_folds": 0}
    collected = []
    for train, test in split:
        in_train = rows[id_col].astype(str).isin(patients.index[train])
        fitted = _fit_pipeline(rows[in_train].reset_index(drop=True), y[in_train.to_numpy()], features, icc_table,
                               method, level, id_col, inner, None)
        probe = {"name": "nested", "kind": fitted["kind"], "model": fitted["model"], "inputs": fitted["inputs"],
                 "preprocessing": fitted["preprocessing"], "threshold": {"value": 0.5}, "patient_score": "mean_of_lesions"}
        collected.append(_held_out_patient_scores(probe, rows[~in_train], id_col, outcome, level))
    pooled = pd.concat(collected)
    auc = evaluation.auc_delong(pooled["y"].to_numpy(), pooled["score"].to_numpy())
    return {"nested_cv": {"folds": folds, "n_patients": int(len(pooled)), **auc,
                          "note": "whole pipeline (filters, selection, fit) refitted in each outer training fold"}}


def _held_out_patient_scores(probe, test_rows, id_col, outcome, level) -> pd.DataFrame:
    test_rows = test_rows.reset_index(drop=True).rename(columns={id_col: "patient_id"})
    scored = apply_model(probe, test_rows)
    if level == "lesion":
        scored = patient_scores(probe, scored)
    outcomes = test_rows.groupby("patient_id")[outcome].first()
    return pd.DataFrame({"score": scored["score"].to_numpy(), "y": outcomes.loc[scored["patient_id"]].to_numpy().astype(int)})


def _model_card(rows, y, level, id_col, outcome, method, settings, fitted, excluded, performance) -> dict:
    from .. import __version__

    n_patients = int(rows[id_col].nunique())
    patient_y = pd.Series(y).groupby(rows[id_col].astype(str).to_numpy()).first()
    oof_auc = evaluation.auc_delong(fitted["oof_y"], fitted["oof_scores"])
    return {
        "intended_use": RESEARCH_ONLY,
        "research_use_only": True,
        "outcome": {"column": outcome, "positive_class": 1, "definition": f"'{outcome}' == 1"},
        "training_cohort": {"n_patients": n_patients, "n_rows": int(len(rows)), "level": level,
                            "n_positive_patients": int(patient_y.sum())},
        "method": method,
        "settings": dict(settings),
        "hyperparameters": fitted["hyperparameters"],
        "selection": _json_ready(fitted["selection"]),
        "excluded_columns": excluded,
        "performance": {"cv_auc": performance.get("nested_cv"),
                        "out_of_fold_auc_final_configuration": {**oof_auc,
                            "note": "optimistic when features were selected on the same data"}},
        "software": {"radiomics-response": __version__, "scikit-learn": _sklearn_version()},
    }


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def _json_ready(value: Any) -> Any:
    """numpy scalars/arrays -> plain Python, recursively."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value
