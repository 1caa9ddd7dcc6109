"""Evaluation statistics, plots and the train / evaluate / apply command line.

References used:
* DeLong AUC, SE and CI are checked against an independent O(n^2) implementation of the
  structural components of DeLong, DeLong & Clarke-Pearson (Biometrics 1988;44:837), written here
  from the paper's definitions (psi kernel, V10, V01, S10, S01) and not sharing code with the
  library's mid-rank (Sun & Xu 2014) algorithm; agreement to 1e-10 (acceptance: 1e-4).
* The AUC of the published worked example of Hanley & McNeil (Radiology 1982;143:29, Table 1:
  109 CT images rated 1-5; 58 normal: 33/6/6/11/2, 51 abnormal: 3/2/2/11/33) is 0.893.
* AUC also equals scikit-learn's roc_auc_score; Clopper-Pearson CIs equal statsmodels'
  proportion_confint(method="beta").
"""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.models import evaluation, plots
from ResponseSignatureLib.models.cli import main as cli_main


# --------------------------------------------------------------------------------------------
# independent O(n^2) DeLong (from the 1988 paper's definitions)
# --------------------------------------------------------------------------------------------
def psi_matrix(cases, controls):
    """psi(X_i, Y_j) = 1 if X > Y, 1/2 if X = Y, 0 otherwise (m x n)."""
    x = np.asarray(cases, dtype=float)[:, None]
    y = np.asarray(controls, dtype=float)[None, :]
    return (x > y) + 0.5 * (x == y)


def delong_direct(y, scores_list):
    """AUCs and their DeLong covariance matrix S = S10/m + S01/n, by explicit double loops."""
    y = np.asarray(y)
    components = []
    for scores in scores_list:
        s = np.asarray(scores, dtype=float)
        psi = psi_matrix(s[y == 1], s[y == 0])
        components.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    m, n = (y == 1).sum(), (y == 0).sum()
    k = len(scores_list)
    s10, s01 = np.zeros((k, k)), np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            v10a, v10b = components[a][1], components[b][1]
            v01a, v01b = components[a][2], components[b][2]
            s10[a, b] = np.sum((v10a - v10a.mean()) * (v10b - v10b.mean())) / (m - 1)
            s01[a, b] = np.sum((v01a - v01a.mean()) * (v01b - v01b.mean())) / (n - 1)
    return np.array([c[0] for c in components]), s10 / m + s01 / n


def tied_sample(seed=0, n=80):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = [0, 1]
    a = np.round(rng.normal(size=n) + 1.0 * y, 1)  # rounding creates ties
    b = np.round(0.5 * a + rng.normal(size=n), 0)
    return y, a, b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_direct_implementation(seed):
    y, a, _ = tied_sample(seed)
    result = evaluation.auc_delong(y, a)
    aucs, cov = delong_direct(y, [a])
    se = math.sqrt(cov[0, 0])
    assert result["auc"] == pytest.approx(aucs[0], abs=1e-10)
    assert result["se"] == pytest.approx(se, abs=1e-10)
    z = stats.norm.ppf(0.975)
    assert result["auc_ci_low"] == pytest.approx(max(0, aucs[0] - z * se), abs=1e-10)
    assert result["auc_ci_high"] == pytest.approx(min(1, aucs[0] + z * se), abs=1e-10)


def test_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    y, a, b = tied_sample(5, 200)
    for s in (a, b):
        assert evaluation.auc_delong(y, s)["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_hanley_mcneil_published_example():
    y = [0] * 58 + [1] * 51
    ratings = [1] * 33 + [2] * 6 + [3] * 6 + [4] * 11 + [5] * 2 + [1] * 3 + [2] * 2 + [3] * 2 + [4] * 11 + [5] * 33
    result = evaluation.auc_delong(y, ratings)
    assert result["auc"] == pytest.approx(0.893, abs=5e-4)
    assert result["auc_ci_low"] < 0.893 < result["auc_ci_high"]


def test_delong_paired_test_matches_direct():
    y, a, b = tied_sample(7, 120)
    result = evaluation.delong_test(y, a, b)
    aucs, cov = delong_direct(y, [a, b])
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (aucs[0] - aucs[1]) / math.sqrt(variance)
    assert result["auc_a"] == pytest.approx(aucs[0], abs=1e-10)
    assert result["auc_b"] == pytest.approx(aucs[1], abs=1e-10)
    assert result["z"] == pytest.approx(z, abs=1e-8)
    assert result["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-8)
    same = evaluation.delong_test(y, a, a)
    assert same["difference"] == 0 and same["p_value"] == 1.0


def test_delong_rejects_single_class_and_nan():
    with pytest.raises(InputError, match="both outcome classes"):
        evaluation.auc_delong([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="missing"):
        evaluation.auc_delong([0, 1, 1], [0.1, float("nan"), 0.3])


# --------------------------------------------------------------------------------------------
# bootstrap, thresholds, classification metrics
# --------------------------------------------------------------------------------------------
def test_bootstrap_ci_covers_true_auc():
    """Binormal model: cases N(d, 1), controls N(0, 1) -> true AUC = Phi(d / sqrt 2)."""
    d = 1.0
    true_auc = stats.norm.cdf(d / math.sqrt(2))
    rng = np.random.default_rng(0)
    covered = 0
    repetitions = 40
    for rep in range(repetitions):
        y = np.repeat([0, 1], 60)
        s = rng.normal(size=120) + d * y
        low, high = evaluation.bootstrap_ci(y, s, evaluation.auc_value, n_boot=200, seed=rep)
        covered += low <= true_auc <= high
        delong = evaluation.auc_delong(y, s)
        assert abs(low - delong["auc_ci_low"]) < 0.06 and abs(high - delong["auc_ci_high"]) < 0.06
    assert covered / repetitions >= 0.85  # nominal 95 %; binomial slack for 40 repetitions


def test_thresholds_on_hand_made_data():
    y = [0, 0, 0, 1, 1, 1]
    s = [0.1, 0.2, 0.6, 0.4, 0.8, 0.9]
    # Youden J: 0.9 -> 1/3, 0.8 -> 2/3, 0.6 -> 1/3, 0.4 -> 2/3, 0.2 -> 1/3; tie -> higher threshold
    assert evaluation.choose_threshold(y, s, "youden") == 0.8
    # specificity >= 0.5 allows 0.9, 0.8, 0.6, 0.4; the best sensitivity (1.0) is at 0.4
    assert evaluation.choose_threshold(y, s, "sens_at_spec50") == 0.4
    assert evaluation.choose_threshold(y, s, "fixed") == 0.5
    with pytest.raises(InputError):
        evaluation.choose_threshold(y, s, "median")


def test_classification_metrics_and_exact_cis():
    from statsmodels.stats.proportion import proportion_confint

    m = evaluation.classification_metrics([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.6, 0.4, 0.8, 0.9], 0.5)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 2, 1)
    for key in ("sensitivity", "specificity", "ppv", "npv"):
        assert m[key] == pytest.approx(2 / 3)
        low, high = proportion_confint(2, 3, method="beta")
        assert (m[f"{key}_ci_low"], m[f"{key}_ci_high"]) == pytest.approx((low, high), abs=1e-12)
    edge = evaluation.classification_metrics([0, 1], [0.1, 0.9], 0.5)
    assert edge["sensitivity_ci_high"] == 1.0 and edge["sensitivity_ci_low"] == pytest.approx(0.025)


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------
def test_hosmer_lemeshow_calibrated_vs_miscalibrated():
    """Under perfect calibration HL p-values are ~uniform: few fall below 0.05. A model that
    squares the true probability is rejected most of the time."""
    rng = np.random.default_rng(1)
    calibrated, miscalibrated = [], []
    for _ in range(60):
        p = rng.uniform(0.05, 0.95, size=500)
        y = (rng.random(500) < p).astype(int)
        calibrated.append(evaluation.hosmer_lemeshow(y, p)["p_value"])
        miscalibrated.append(evaluation.hosmer_lemeshow(y, p ** 2)["p_value"])
    assert np.mean(np.array(calibrated) < 0.05) <= 0.15
    assert np.median(calibrated) > 0.2
    assert np.mean(np.array(miscalibrated) < 0.05) >= 0.9
    result = evaluation.hosmer_lemeshow(y, p)
    assert result["df"] == 8 and result["groups"] == 10


def test_hosmer_lemeshow_statistic_by_hand():
    y = np.array([0, 0, 1, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    # three groups of two: (0.1, 0.2) O=0 E=0.3; (0.3, 0.6) O=1 E=0.9; (0.7, 0.8) O=2 E=1.5
    expected = sum((o - e) ** 2 / (e * (1 - e / 2)) for o, e in [(0, 0.3), (1, 0.9), (2, 1.5)])
    result = evaluation.hosmer_lemeshow(y, p, groups=3)
    assert result["statistic"] == pytest.approx(expected)
    assert result["df"] == 1
    assert result["p_value"] == pytest.approx(stats.chi2.sf(expected, 1))


def test_brier_and_calibration_curve():
    y = [0, 1, 1, 0]
    p = [0.2, 0.9, 0.6, 0.4]
    assert evaluation.brier_score(y, p) == pytest.approx((0.04 + 0.01 + 0.16 + 0.16) / 4)
    curve = evaluation.calibration_curve(y, p, bins=2)
    assert list(curve["n"]) == [2, 2]
    assert list(curve["mean_predicted"]) == pytest.approx([0.3, 0.75])
    assert list(curve["observed"]) == [0.0, 1.0]
    with pytest.raises(InputError, match="probabilities"):
        evaluation.brier_score(y, [2, 0, 0, 0])


def test_evaluate_scores_is_json_ready():
    y, a, _ = tied_sample(3, 100)
    p = 1 / (1 + np.exp(-a))
    metrics = evaluation.evaluate_scores(y, p, 0.5, n_boot=100)
    text = json.dumps(metrics, allow_nan=False)
    for key in ("auc", "auc_ci_low", "auc_ci_high", "threshold", "sensitivity", "specificity", "ppv", "npv",
                "brier", "hosmer_lemeshow_p", "n", "n_positive"):
        assert key in metrics, key
    assert json.loads(text)["n"] == 100
    assert metrics["auc_boot_ci_low"] < metrics["auc"] < metrics["auc_boot_ci_high"]
    unbounded = evaluation.evaluate_scores(y, a, 0.0, n_boot=0)
    assert unbounded["brier"] is None and unbounded["auc"] == pytest.approx(metrics["auc"])


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------
def test_svg_plots_are_well_formed(artifacts_dir):
    y, a, _ = tied_sample(4, 100)
    p = 1 / (1 + np.exp(-a))
    for svg in (plots.roc_svg(y, a, "ROC <test> & co"), plots.calibration_svg(y, p, "Calibration")):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert root.findall(".//{http://www.w3.org/2000/svg}polyline")
    roc = plots.roc_svg(y, a, "ROC")
    assert f"AUC {evaluation.auc_delong(y, a)['auc']:.3f}" in roc
    (artifacts_dir / "signature_roc_example.svg").write_text(roc, encoding="utf-8")
    (artifacts_dir / "signature_calibration_example.svg").write_text(plots.calibration_svg(y, p, "Calibration"),
                                                                     encoding="utf-8")


# --------------------------------------------------------------------------------------------
# command line, end to end
# --------------------------------------------------------------------------------------------
def test_cli_train_evaluate_apply(tmp_path, capsys):
    from ResponseSignatureLib.models.demo import synthetic_cohort

    train = synthetic_cohort(n_patients=120, n_noise_features=3, seed=41, n_unreliable=0, redundant_copy=False)
    test = synthetic_cohort(n_patients=80, n_noise_features=3, seed=42, n_unreliable=0, redundant_copy=False)
    test.table["recist_percent_change"] = np.random.default_rng(0).normal(size=80) - test.table["outcome"]
    train.table.to_csv(tmp_path / "train.csv", index=False)
    unknown_outcome = test.table.assign(outcome=test.table["outcome"].astype(float))
    unknown_outcome.loc[0, "outcome"] = np.nan  # a patient without follow-up: scored, not evaluated
    unknown_outcome.to_csv(tmp_path / "test.csv", index=False)
    model_path, metrics_path = tmp_path / "model.json", tmp_path / "metrics.json"

    assert cli_main(["train", "--table", str(tmp_path / "train.csv"), "--outcome", "outcome", "--method", "rf",
                     "--id-col", "patient_id", "--out", str(model_path), "--features",
                     "feature_01,feature_02,feature_03", "--n-trees", "30"]) == 0
    assert json.loads(model_path.read_text(encoding="utf-8"))["kind"] == "random_forest"

    assert cli_main(["evaluate", "--model", str(model_path), "--table", str(tmp_path / "test.csv"),
                     "--outcome", "outcome", "--out", str(metrics_path), "--n-boot", "100",
                     "--compare", "recist_percent_change", "--compare-lower-is-positive"]) == 0
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    for key in ("auc", "auc_ci_low", "auc_ci_high", "threshold", "sensitivity", "specificity", "n"):
        assert key in metrics
    assert metrics["n"] == 79 and metrics["auc"] > 0.75
    assert metrics["comparison"]["column"] == "recist_percent_change"
    assert (tmp_path / "metrics_roc.svg").is_file() and (tmp_path / "metrics_calibration.svg").is_file()

    scored_path = tmp_path / "scored.csv"
    assert cli_main(["apply", "--model", str(model_path), "--table", str(tmp_path / "test.csv"),
                     "--out", str(scored_path)]) == 0
    scored = pd.read_csv(scored_path, dtype={"patient_id": str})
    assert list(scored.columns) == ["patient_id", "score", "class"]
    assert list(scored["patient_id"]) == list(test.table["patient_id"])
    assert ((scored["score"] >= metrics["threshold"]).astype(int) == scored["class"]).all()

    # a table without one input: exit code 2 and the column named
    test.table.drop(columns=["feature_02"]).to_csv(tmp_path / "missing.csv", index=False)
    capsys.readouterr()
    assert cli_main(["apply", "--model", str(model_path), "--table", str(tmp_path / "missing.csv"),
                     "--out", str(tmp_path / "x.csv")]) == 2
    assert "feature_02" in capsys.readouterr().err

    # a tampered model: refused
    doc = json.loads(model_path.read_text(encoding="utf-8"))
    doc["threshold"]["value"] = 0.1
    (tmp_path / "tampered.json").write_text(json.dumps(doc))
    assert cli_main(["apply", "--model", str(tmp_path / "tampered.json"), "--table", str(tmp_path / "test.csv"),
                     "--out", str(tmp_path / "y.csv")]) == 2
    assert "SHA-256" in capsys.readouterr().err
