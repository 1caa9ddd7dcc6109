"""Evaluation of a score against a binary outcome: AUC with DeLong CI, paired DeLong test,
threshold choice, sensitivity/specificity/PPV/NPV with exact CIs, Brier score, Hosmer-Lemeshow,
calibration curve and bootstrap CIs.

Conventions (see ``shared/reference/clinical_methods.md`` §5):

* ``y`` is 0/1 with 1 = the outcome the score predicts (the "positive" class); a higher score
  means the positive class is more likely. The direction is fixed (controls < cases), never
  re-chosen from the data (pROC's ``direction="auto"`` pitfall).
* A case is classified positive when ``score >= threshold``.
* AUC = P(score_case > score_control) + 0.5 P(tie) (Mann-Whitney). Its variance is DeLong's
  (DeLong, DeLong & Clarke-Pearson, Biometrics 1988;44:837), computed with the O(n log n)
  mid-rank algorithm of Sun & Xu (IEEE Signal Process Lett 2014;21:1389). The 95 % CI is
  AUC +- 1.96 SE clipped to [0, 1], as ``pROC::ci.auc(method="delong")``.

Only numpy and scipy are used.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
from ..errors import InputError

THRESHOLD_METHODS = ("youden", "fixed", "sens_at_spec50")


def _stats():
    """scipy.stats, imported on first use: it costs ~0.7 s, and building the command line must not pay it."""
    from scipy import stats

    return stats


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _outcome(y) -> np.ndarray:
    """``y`` as a 0/1 integer array; raises InputError for anything else."""
    values = np.asarray(y, dtype=float).ravel()
    if values.size == 0:
        raise InputError("The outcome is empty.")
    if not np.all(np.isin(values, (0.0, 1.0))):
        raise InputError("The outcome must be coded 0/1 (1 = the event the score predicts), without missing values.")
    return values.astype(int)


def _scores(scores, n: int, name: str = "score") -> np.ndarray:
    values = np.asarray(scores, dtype=float).ravel()
    if values.size != n:
        raise InputError(f"{name} has {values.size} values for {n} outcomes.")
    if not np.all(np.isfinite(values)):
        raise InputError(f"{name} holds missing or non-finite values.")
    return values


def _both_classes(y: np.ndarray) -> None:
    if y.min() == y.max():
        raise InputError("AUC needs both outcome classes (at least one 0 and one 1).")


# --------------------------------------------------------------------------------------------
# DeLong
# --------------------------------------------------------------------------------------------
def _midranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` with ties given their average rank (Sun & Xu 2014, Algorithm 'midrank')."""
    return _stats().rankdata(x, method="average")


def _structural_components(y: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's placement values V10 (per case) and V01 (per control).

    With m cases X and n controls Y, psi(X, Y) = 1, 1/2, 0 for X >, =, < Y;
    V10(X_i) = mean_j psi(X_i, Y_j), V01(Y_j) = mean_i psi(X_i, Y_j), AUC = mean V10.
    Sun & Xu: V10_i = (R_i - T_i) / n and V01_j = 1 - (R_j - S_j) / m where R is the mid-rank in
    the pooled sample, T the mid-rank among cases and S the mid-rank among controls.
    """
    cases, controls = scores[y == 1], scores[y == 0]
    m, n = cases.size, controls.size
    pooled = _midranks(np.concatenate([cases, controls]))
    v10 = (pooled[:m] - _midranks(cases)) / n
    v01 = 1.0 - (pooled[m:] - _midranks(controls)) / m
    return float(v10.mean()), v10, v01


def auc_delong(y_true, scores, level: float = 0.95) -> dict:
    """AUC with DeLong standard error and CI: dict(auc, auc_ci_low, auc_ci_high, se).

    Var(AUC) = S10/m + S01/n, S10 and S01 the sample variances (ddof=1) of V10 and V01.
    CI = AUC +- z * SE, clipped to [0, 1].
    """
    y = _outcome(y_true)
    s = _scores(scores, y.size)
    _both_classes(y)
    auc, v10, v01 = _structural_components(y, s)
    variance = _var(v10) / v10.size + _var(v01) / v01.size
    se = math.sqrt(max(variance, 0.0))
    z = float(_stats().norm.ppf(0.5 + level / 2))
    return {"auc": auc, "auc_ci_low": max(0.0, auc - z * se), "auc_ci_high": min(1.0, auc + z * se), "se": se}


def _var(values: np.ndarray) -> float:
    return float(np.var(values, ddof=1)) if values.size > 1 else 0.0


def delong_test(y_true, scores_a, scores_b) -> dict:
    """Paired DeLong test of two scores on the same patients.

    z = (A - B) / sqrt(Var A + Var B - 2 Cov(A, B)) with the DeLong covariance
    Cov = C10/m + C01/n (C10, C01 the sample covariances of the two scores' placement values);
    two-sided p-value from the normal distribution (as ``pROC::roc.test(method="delong")``).
    Returns dict(auc_a, auc_b, difference, se, z, p_value).
    """
    y = _outcome(y_true)
    a = _scores(scores_a, y.size, "scores_a")
    b = _scores(scores_b, y.size, "scores_b")
    _both_classes(y)
    auc_a, v10_a, v01_a = _structural_components(y, a)
    auc_b, v10_b, v01_b = _structural_components(y, b)
    s10 = np.cov(np.vstack([v10_a, v10_b]), ddof=1)
    s01 = np.cov(np.vstack([v01_a, v01_b]), ddof=1)
    cov = s10 / v10_a.size + s01 / v01_a.size
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    difference = auc_a - auc_b
    if variance <= 0:
        z = 0.0 if difference == 0 else math.copysign(math.inf, difference)
    else:
        z = difference / math.sqrt(variance)
    p_value = float(2 * _stats().norm.sf(abs(z)))
    return {"auc_a": auc_a, "auc_b": auc_b, "difference": difference, "se": math.sqrt(max(variance, 0.0)),
            "z": float(z), "p_value": p_value}


# --------------------------------------------------------------------------------------------
# thresholds and classification metrics
# --------------------------------------------------------------------------------------------
def roc_points(y_true, scores) -> pd.DataFrame:
    """ROC curve: one row per distinct threshold (descending), plus the (0, 0) start.

    Columns threshold, sensitivity (TPR), specificity (1 - FPR), fpr. Each threshold t
    classifies ``score >= t`` as positive.
    """
    y = _outcome(y_true)
    s = _scores(scores, y.size)
    _both_classes(y)
    thresholds = np.unique(s)[::-1]
    positive = s[None, :] >= thresholds[:, None]
    tpr = (positive & (y == 1)).sum(axis=1) / (y == 1).sum()
    fpr = (positive & (y == 0)).sum(axis=1) / (y == 0).sum()
    table = pd.DataFrame({"threshold": thresholds, "sensitivity": tpr, "specificity": 1 - fpr, "fpr": fpr})
    start = pd.DataFrame({"threshold": [np.inf], "sensitivity": [0.0], "specificity": [1.0], "fpr": [0.0]})
    return pd.concat([start, table], ignore_index=True)


def choose_threshold(y_true, scores, method: str = "youden") -> float:
    """Decision threshold (classify positive when score >= threshold).

    * ``youden``: maximise J = sensitivity + specificity - 1 over the observed scores
      (ties: the highest threshold, i.e. the more specific rule);
    * ``fixed``: 0.5 (Dercle 2020: signature > 0.5 = high risk);
    * ``sens_at_spec50``: maximal sensitivity subject to specificity >= 0.5 (Ligero 2021,
      ``cutpointr(metric = sens_constrain)``); among equal sensitivities the highest threshold.
    Choose it on training (or out-of-fold) scores and keep it fixed for validation.
    """
    if method == "fixed":
        return 0.5
    if method not in THRESHOLD_METHODS:
        raise InputError(f"Unknown threshold method {method!r}; choose one of {', '.join(THRESHOLD_METHODS)}.")
    roc = roc_points(y_true, scores).iloc[1:]
    if method == "youden":
        j = np.round((roc["sensitivity"] + roc["specificity"] - 1).to_numpy(), 12)  # ties despite rounding
        return float(roc["threshold"].iloc[int(np.argmax(j))])
    allowed = roc[roc["specificity"] >= 0.5 - 1e-12]
    if allowed.empty:
        return float(roc["threshold"].iloc[0])
    best = allowed["sensitivity"].max()
    return float(allowed.loc[allowed["sensitivity"] == best, "threshold"].iloc[0])


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float | None, float | None]:
    """Exact binomial CI: Beta(a/2; x, n-x+1) .. Beta(1-a/2; x+1, n-x); (None, None) if n = 0."""
    if trials == 0:
        return None, None
    alpha = 1 - level
    low = 0.0 if successes == 0 else float(_stats().beta.ppf(alpha / 2, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(_stats().beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return low, high


def _proportion(name: str, successes: int, trials: int) -> dict:
    low, high = clopper_pearson(successes, trials)
    value = successes / trials if trials else None
    return {name: value, f"{name}_ci_low": low, f"{name}_ci_high": high}


def classification_metrics(y_true, scores, threshold: float) -> dict:
    """Sensitivity, specificity, PPV, NPV at ``score >= threshold`` with Clopper-Pearson 95 % CIs,
    plus the counts tp, fp, tn, fn and accuracy. A proportion with no denominator is None."""
    y = _outcome(y_true)
    s = _scores(scores, y.size)
    predicted = s >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    tn = int(np.sum(~predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    result = {"threshold": float(threshold), "tp": tp, "fp": fp, "tn": tn, "fn": fn, "accuracy": (tp + tn) / y.size}
    result.update(_proportion("sensitivity", tp, tp + fn))
    result.update(_proportion("specificity", tn, tn + fp))
    result.update(_proportion("ppv", tp, tp + fp))
    result.update(_proportion("npv", tn, tn + fn))
    return result


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------
def _probabilities(p, n: int) -> np.ndarray:
    values = _scores(p, n, "predicted probability")
    if values.min() < 0 or values.max() > 1:
        raise InputError("Calibration needs predicted probabilities in [0, 1].")
    return values


def brier_score(y_true, p) -> float:
    """BS = (1/N) sum (p_i - y_i)^2 (Brier 1950)."""
    y = _outcome(y_true)
    return float(np.mean((_probabilities(p, y.size) - y) ** 2))


def _quantile_groups(p: np.ndarray, groups: int) -> list[np.ndarray]:
    """Indices of ``groups`` groups of (nearly) equal size after sorting by p (stable sort).

    Tied probabilities at a group border may fall in two groups; that is one of the known
    tie-handling variants of Hosmer-Lemeshow (results depend on it, see clinical_methods §5).
    """
    order = np.argsort(p, kind="mergesort")
    return [chunk for chunk in np.array_split(order, min(groups, p.size)) if chunk.size]


def hosmer_lemeshow(y_true, p, groups: int = 10) -> dict:
    """Hosmer-Lemeshow goodness of fit (Hosmer & Lemeshow 1980).

    Sort by p, split into g groups of equal size; HL = sum_g (O_g - E_g)^2 / (E_g (1 - E_g/n_g))
    with O_g observed events and E_g = sum of p in the group; chi-square with g - 2 df.
    Groups with E_g (1 - E_g/n_g) = 0 carry no information and are left out (df shrinks).
    Returns dict(statistic, df, p_value, groups).
    """
    y = _outcome(y_true)
    prob = _probabilities(p, y.size)
    statistic, used = 0.0, 0
    for index in _quantile_groups(prob, groups):
        observed, expected, size = y[index].sum(), prob[index].sum(), index.size
        denominator = expected * (1 - expected / size)
        if denominator > 0:
            statistic += (observed - expected) ** 2 / denominator
            used += 1
    df = used - 2
    p_value = float(_stats().chi2.sf(statistic, df)) if df > 0 else None
    return {"statistic": float(statistic), "df": int(df), "p_value": p_value, "groups": used}


def calibration_curve(y_true, p, bins: int = 10) -> pd.DataFrame:
    """Observed event rate per group of predicted probability (equal-count groups by sorted p).

    Columns: bin, n, mean_predicted, observed, observed_ci_low, observed_ci_high (Clopper-Pearson).
    """
    y = _outcome(y_true)
    prob = _probabilities(p, y.size)
    rows = []
    for number, index in enumerate(_quantile_groups(prob, bins), start=1):
        events = int(y[index].sum())
        low, high = clopper_pearson(events, index.size)
        rows.append({"bin": number, "n": int(index.size), "mean_predicted": float(prob[index].mean()),
                     "observed": events / index.size, "observed_ci_low": low, "observed_ci_high": high})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------
def bootstrap_ci(y_true, scores, metric_fn: Callable[[np.ndarray, np.ndarray], float], n_boot: int = 1000,
                 seed: int = 0, stratified: bool = True, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of ``metric_fn(y, scores)`` (Efron & Tibshirani 1993).

    ``stratified`` resamples cases and controls separately (keeps their numbers, as pROC's
    stratified bootstrap). Resamples where the metric is undefined (raises, or returns None/NaN)
    are skipped.
    """
    y = _outcome(y_true)
    s = _scores(scores, y.size)
    rng = np.random.default_rng(seed)
    strata = [np.flatnonzero(y == 1), np.flatnonzero(y == 0)] if stratified else [np.arange(y.size)]
    values = []
    for _ in range(int(n_boot)):
        index = np.concatenate([rng.choice(stratum, stratum.size, replace=True) for stratum in strata if stratum.size])
        value = _safe_metric(metric_fn, y[index], s[index])
        if value is not None:
            values.append(value)
    if not values:
        raise InputError("The bootstrap metric was undefined in every resample.")
    alpha = 1 - level
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _safe_metric(metric_fn, y: np.ndarray, s: np.ndarray) -> float | None:
    try:
        value = metric_fn(y, s)
    except (InputError, ValueError, ZeroDivisionError):
        return None
    if value is None or not np.isfinite(value):
        return None
    return float(value)


def separates_perfectly(y_true, values) -> bool:
    """True when every case lies strictly above every control, or strictly below (AUC 1 or 0).

    A variable (or a fitted linear predictor) that separates the outcome classes completely makes
    a maximum-likelihood fit diverge and, as a candidate feature, usually means leakage (a copy of
    the outcome, a value measured after it). Rows with a missing value are left out.
    """
    y = np.asarray(y_true, dtype=float).ravel()
    x = np.asarray(values, dtype=float).ravel()
    known = np.isfinite(x) & np.isin(y, (0.0, 1.0))
    cases, controls = x[known & (y == 1)], x[known & (y == 0)]
    if cases.size == 0 or controls.size == 0:
        return False
    return bool(cases.min() > controls.max() or cases.max() < controls.min())


def auc_value(y_true, scores) -> float:
    """Mann-Whitney AUC (P(case > control) + 0.5 P(tie))."""
    return auc_delong(y_true, scores)["auc"]


# --------------------------------------------------------------------------------------------
# everything at once
# --------------------------------------------------------------------------------------------
def evaluate_scores(y_true, scores, threshold: float, n_boot: int = 1000, seed: int = 0,
                    hl_groups: int = 10) -> dict:
    """All metrics of one score, JSON-ready (plain floats/ints/None).

    Keys: n, n_positive, auc, auc_ci_low, auc_ci_high, auc_se, auc_ci_method, auc_boot_ci_low,
    auc_boot_ci_high, threshold, sensitivity/specificity/ppv/npv (+ _ci_low/_ci_high), tp, fp, tn,
    fn, accuracy, and when the scores are probabilities in [0, 1]: brier, hosmer_lemeshow
    (statistic, df, p) and calibration (list of bins); otherwise those are None.
    """
    y = _outcome(y_true)
    s = _scores(scores, y.size)
    result = {"n": int(y.size), "n_positive": int(y.sum())}
    result.update(auc_delong(y, s))
    result["auc_se"] = result.pop("se")
    result["auc_ci_method"] = "DeLong 1988 (Sun & Xu 2014), AUC +- 1.96 SE"
    if n_boot:
        low, high = bootstrap_ci(y, s, auc_value, n_boot=n_boot, seed=seed)
        result.update({"auc_boot_ci_low": low, "auc_boot_ci_high": high, "n_boot": int(n_boot)})
    result.update(classification_metrics(y, s, threshold))
    result.update(_calibration_metrics(y, s, hl_groups))
    return result


def _calibration_metrics(y: np.ndarray, s: np.ndarray, hl_groups: int) -> dict:
    if s.min() < 0 or s.max() > 1:
        return {"brier": None, "hosmer_lemeshow_statistic": None, "hosmer_lemeshow_df": None,
                "hosmer_lemeshow_p": None, "calibration": None}
    hl = hosmer_lemeshow(y, s, hl_groups)
    curve = calibration_curve(y, s, hl_groups)
    return {"brier": brier_score(y, s), "hosmer_lemeshow_statistic": hl["statistic"],
            "hosmer_lemeshow_df": hl["df"], "hosmer_lemeshow_p": hl["p_value"],
            "calibration": curve.to_dict(orient="records")}
