"""NomogramScoreLib: points and risks against hand calculation, CIs against the bootstrap, C-index
against lifelines, training against statsmodels/lifelines predictions, clinical validation."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from NomogramScoreLib import clinical, nomogram as nm, training
from NomogramScoreLib.demo import DEMO_NAME, PREDICTORS, demo_cohort, train_demo_nomogram
from ResponseSignatureLib.errors import InputError, ModelFileError
from ResponseSignatureLib.models.evaluation import choose_threshold
from ResponseSignatureLib.models.modelfile import content_hash, load_model, save_model

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json"
Z = 1.959963984540054


def _doc(kind: str, content: dict, inputs: list[str], threshold: float = 0.5) -> dict:
    doc = {"format": "radiomics-response-model", "schema_version": 1, "name": f"small {kind}", "version": "0.1",
           "kind": kind, "level": "patient", "inputs": inputs, "model": content,
           "threshold": {"value": threshold, "method": "fixed"}, "model_card": {"intended_use": "test"}}
    doc["sha256"] = content_hash(doc)
    return load_model(doc)


def small_logistic() -> dict:
    """logit p = -2 + 0.3 x1 + {A: 0, B: -0.5, C: 1.0}; x1 axis 0..10."""
    return _doc("nomogram_logistic", {
        "predictors": [
            {"name": "x1", "label": "X1", "unit": "", "type": "continuous", "min": 0, "max": 10, "coefficient": 0.3,
             "plausible_min": -5, "plausible_max": 20},
            {"name": "x2", "label": "X2", "type": "categorical", "levels": ["A", "B", "C"], "coefficients": [-0.5, 1.0]},
        ],
        "intercept": -2.0,
        "design_columns": ["(intercept)", "x1", "x2=B", "x2=C"],
        "covariance": [[0.25, 0, 0, 0], [0, 0.01, 0, 0], [0, 0, 0.09, 0], [0, 0, 0, 0.16]],
        "risk_bands": [{"name": "low", "lower": 0, "upper": 0.3, "color": "#00aa00"},
                       {"name": "high", "lower": 0.3, "upper": 1, "color": "#aa0000"}],
    }, ["x1", "x2"])


def small_cox() -> dict:
    """lp = 0.7 x1 + 0.5 [x2 = yes] - 0.9 (means 1.0 and 0.4); S0(12) = 0.8, S0(24) = 0.6."""
    return _doc("nomogram_cox", {
        "predictors": [
            {"name": "x1", "label": "X1", "unit": "", "type": "continuous", "min": 0, "max": 2, "coefficient": 0.7,
             "plausible_min": 0, "plausible_max": 5},
            {"name": "x2", "label": "X2", "type": "categorical", "levels": ["no", "yes"], "coefficients": [0.5]},
        ],
        "design_columns": ["x1", "x2=yes"],
        "design_means": [1.0, 0.4],
        "centering": 0.9,
        "covariance": [[0.04, 0.01], [0.01, 0.09]],
        "baseline_survival": {"12": 0.8, "24": 0.6},
        "time": 12, "time_unit": "months",
    }, ["x1", "x2"], threshold=0.3)


# --------------------------------------------------------------------------------------------
# hand-calculated points and probabilities
# --------------------------------------------------------------------------------------------

def test_logistic_points_and_probability_by_hand():
    model = small_logistic()
    # R_x1 = 0.3 * 10 = 3.0, R_x2 = 1.0 - (-0.5) = 1.5 -> sc = 100 / 3 points per unit lp
    assert nm.points_per_unit(model) == pytest.approx(100 / 3)
    # Intercept* = -2 + min f_x1 (0) + min f_x2 (-0.5) = -2.5
    assert nm.shifted_intercept(model) == pytest.approx(-2.5)
    result = nm.score_patient(model, {"x1": 4, "x2": "C"})
    # x1 = 4: 0.3 * 4 * 100/3 = 40 points; x2 = C: (1.0 + 0.5) * 100/3 = 50 points
    assert result["points"] == pytest.approx({"x1": 40.0, "x2": 50.0})
    assert result["total_points"] == pytest.approx(90.0)
    # lp = 90 / (100/3) - 2.5 = 0.2 = -2 + 1.2 + 1.0; p = expit(0.2)
    assert result["linear_predictor"] == pytest.approx(0.2)
    assert result["risk"] == pytest.approx(0.549833997312478, abs=1e-12)
    assert nm.total_points_to_risk(model, 90.0) == pytest.approx(0.549833997312478, abs=1e-12)
    # SE^2 = d' V d with d = (1, 4, 0, 1): 0.25 + 16 * 0.01 + 0.16 = 0.57
    assert result["se_linear_predictor"] == pytest.approx(math.sqrt(0.57))
    assert result["ci_low"] == pytest.approx(0.21759442359038886, abs=1e-9)
    assert result["ci_high"] == pytest.approx(0.842870147204496, abs=1e-9)
    assert result["band"] == "high" and result["above_threshold"] is True
    # reference level A: 0.5 * 100/3 points; level B (lowest effect) gets 0
    assert nm.score_patient(model, {"x1": 0, "x2": "B"})["total_points"] == pytest.approx(0.0)
    assert nm.score_patient(model, {"x1": 0, "x2": "A"})["points"]["x2"] == pytest.approx(50 / 3)


def test_logistic_points_table_and_total_points_table():
    model = small_logistic()
    table = nm.points_table(model)
    x1 = table[table.predictor == "x1"].set_index("value")["points"]
    assert x1.loc[0] == pytest.approx(0) and x1.loc[10] == pytest.approx(100) and x1.loc[5] == pytest.approx(50)
    x2 = table[table.predictor == "x2"].set_index("value")["points"]
    assert x2.to_dict() == pytest.approx({"A": 50 / 3, "B": 0.0, "C": 50.0})
    totals = nm.total_points_table(model, step=10)
    assert totals.total_points.iloc[-1] == pytest.approx(150.0)  # 100 + 50
    expected = 1 / (1 + np.exp(-(totals.total_points / (100 / 3) - 2.5)))
    assert np.allclose(totals.risk, expected)
    # inverse: the total points where the risk is 0.549834 are 90
    assert nm.risk_to_total_points(model, 0.549833997312478) == pytest.approx(90.0)


def test_cox_points_and_survival_by_hand():
    model = small_cox()
    # R_x1 = 0.7 * 2 = 1.4, R_x2 = 0.5 -> sc = 100 / 1.4; Intercept* = -centering = -0.9
    assert nm.points_per_unit(model) == pytest.approx(100 / 1.4)
    assert nm.shifted_intercept(model) == pytest.approx(-0.9)
    result = nm.score_patient(model, {"x1": 1.5, "x2": "yes"})
    assert result["points"] == pytest.approx({"x1": 75.0, "x2": 100 / 1.4 * 0.5})
    # lp = 0.7 * 1.5 + 0.5 - 0.9 = 0.65; S(12) = 0.8 ** exp(0.65)
    assert result["linear_predictor"] == pytest.approx(0.65)
    assert result["survival"] == pytest.approx(0.6521761510169356, abs=1e-12)
    assert result["risk"] == pytest.approx(0.3478238489830644, abs=1e-12)
    assert nm.total_points_to_risk(model, result["total_points"]) == pytest.approx(result["risk"])
    assert 1 - nm.total_points_to_risk(model, result["total_points"], time=24) == pytest.approx(0.37587172946691555)
    # SE^2 = d' V d with d = x - means = (0.5, 0.6): 0.25*0.04 + 2*0.3*0.01 + 0.36*0.09 = 0.0484
    assert result["se_linear_predictor"] == pytest.approx(0.22)
    assert result["ci_low"] == pytest.approx(0.24249316815930178, abs=1e-9)
    assert result["ci_high"] == pytest.approx(0.48204660753798034, abs=1e-9)
    assert result["time"] == 12 and result["band"] == "Intermediate risk"  # default thirds when none stored


def test_unknown_time_and_bad_models_are_refused():
    model = small_cox()
    with pytest.raises(ModelFileError, match="no baseline survival at time 36"):
        nm.total_points_to_risk(model, 50, time=36)
    broken = copy.deepcopy(small_logistic())
    broken["model"]["covariance"] = [[1.0]]
    with pytest.raises(ModelFileError, match="covariance"):
        load_model({**broken, "sha256": content_hash(broken)})
    broken = copy.deepcopy(small_logistic())
    broken["model"]["risk_bands"][1]["lower"] = 0.4
    with pytest.raises(ModelFileError, match="without gaps"):
        load_model({**broken, "sha256": content_hash(broken)})
    broken = copy.deepcopy(small_cox())
    broken["model"]["centering"] = 1.5
    with pytest.raises(ModelFileError, match="centering"):
        load_model({**broken, "sha256": content_hash(broken)})


def test_model_file_round_trip_and_tampering(tmp_path):
    path = tmp_path / "small.json"
    saved = save_model(small_logistic(), path)
    loaded = load_model(path)
    assert loaded["sha256"] == saved["sha256"]
    document = json.loads(path.read_text(encoding="utf-8"))
    document["model"]["intercept"] = 5.0
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_model(path)


# --------------------------------------------------------------------------------------------
# training against the fitting libraries
# --------------------------------------------------------------------------------------------

def simulated_logistic(n: int = 500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"signature_score": rng.uniform(0, 1, n), "albumin": rng.normal(38, 5, n),
                          "stage": rng.choice(["II", "III", "IV"], n)})
    lp = -0.5 + 2.0 * (table.signature_score - 0.5) - 0.08 * (table.albumin - 38) + np.where(table.stage == "IV", 0.7, 0)
    table["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    return table


def simulated_survival(n: int = 400, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"signature_score": rng.uniform(0, 1, n), "cea": np.exp(rng.normal(1.5, 1.0, n)),
                          "stage": rng.choice(["III", "IV"], n)})
    lp = 1.5 * table.signature_score + 0.3 * np.log(table.cea) + np.where(table.stage == "IV", 0.6, 0)
    event_time = rng.exponential(24 * np.exp(-lp))
    censor_time = rng.uniform(6, 60, n)
    table["months"] = np.round(np.minimum(event_time, censor_time), 1)
    table["death"] = (event_time <= censor_time).astype(int)
    return table


PREDICTOR_SPECS = ["signature_score", {"name": "albumin", "unit": "g/L"}, "stage"]


def test_logistic_training_matches_statsmodels():
    import statsmodels.api as sm

    table = simulated_logistic()
    model = training.train_nomogram(table, "y", PREDICTOR_SPECS, name="sim")
    load_model(model)
    design = pd.DataFrame({"const": 1.0, "s": table.signature_score, "a": table.albumin,
                           "III": (table.stage == "III") * 1.0, "IV": (table.stage == "IV") * 1.0})
    fit = sm.Logit(table.y, design).fit(disp=0)
    predicted = training.predict_table(model, table)
    assert np.allclose(predicted.risk, fit.predict(design), atol=1e-8)
    assert np.allclose(np.asarray(model["model"]["covariance"]), fit.cov_params().to_numpy(), rtol=1e-6)
    # Youden cut-off chosen on the training predictions; bands split at it
    assert model["threshold"]["value"] == pytest.approx(choose_threshold(table.y, predicted.risk, "youden"))
    assert model["model"]["risk_bands"][0]["upper"] == pytest.approx(model["threshold"]["value"])


def test_cox_training_matches_lifelines_predictions():
    from lifelines import CoxPHFitter

    table = simulated_survival()
    model = training.train_nomogram(table, None, ["signature_score", {"name": "cea", "unit": "ng/mL", "transform": "log"},
                                                  "stage"], kind="cox", time_col="months", event_col="death",
                                    times=[12, 24], time_unit="months")
    load_model(model)
    frame = pd.DataFrame({"s": table.signature_score, "logcea": np.log(table.cea), "IV": (table.stage == "IV") * 1.0,
                          "months": table.months, "death": table.death})
    fitter = CoxPHFitter().fit(frame, "months", "death")
    for t in (12, 24):
        # Breslow step function at t (lifelines' ``times=`` would interpolate linearly between event times)
        curves = fitter.predict_survival_function(frame.iloc[:25])
        expected = 1 - curves.loc[:t].iloc[-1].to_numpy()
        got = [nm.score_patient(model, row, time=t)["risk"] for row in table.iloc[:25].to_dict("records")]
        assert np.allclose(got, expected, atol=1e-6)
    performance = model["model_card"]["training_performance"]
    assert performance["c_index"] == pytest.approx(fitter.concordance_index_, abs=1e-9)


# --------------------------------------------------------------------------------------------
# CI of an individual prediction vs the bootstrap
# --------------------------------------------------------------------------------------------

def test_logistic_ci_matches_bootstrap():
    table = simulated_logistic(n=600, seed=11)
    model = training.train_nomogram(table, "y", PREDICTOR_SPECS)
    patient = {"signature_score": 0.8, "albumin": 33.0, "stage": "IV"}
    result = nm.score_patient(model, patient)
    declared = training.declare_predictors(table, PREDICTOR_SPECS)
    design = training.design_matrix(declared, table, with_intercept=True)
    row = nm.design_row(model, result["values"])
    rng = np.random.default_rng(0)
    y = table.y.to_numpy()
    lps = []
    for _ in range(400):
        index = rng.integers(0, len(table), len(table))
        beta, _ = training.fit_logistic(design.iloc[index], y[index])
        lps.append(float(row @ beta))
    lps = np.array(lps)
    # delta-method SE of the linear predictor vs the bootstrap SD: within 15 %
    assert np.std(lps, ddof=1) == pytest.approx(result["se_linear_predictor"], rel=0.15)
    low, high = np.quantile(1 / (1 + np.exp(-lps)), [0.025, 0.975])
    assert result["ci_low"] == pytest.approx(low, abs=0.03)
    assert result["ci_high"] == pytest.approx(high, abs=0.03)


def test_cox_linear_predictor_se_matches_bootstrap():
    table = simulated_survival(n=300, seed=8)
    specs = ["signature_score", {"name": "cea", "unit": "ng/mL", "transform": "log"}, "stage"]
    model = training.train_nomogram(table, None, specs, kind="cox", time_col="months", event_col="death", times=[12])
    values = {"signature_score": 0.9, "cea": 40.0, "stage": "IV"}
    result = nm.score_patient(model, values)
    declared = training.declare_predictors(table, specs)
    design = training.design_matrix(declared, table, with_intercept=False)
    row = nm.design_row(model, result["values"])
    rng = np.random.default_rng(1)
    lps = []
    for _ in range(120):
        index = rng.integers(0, len(table), len(table))
        sample = design.iloc[index].reset_index(drop=True)
        fitter = training.fit_cox(sample, table.months.to_numpy()[index], table.death.to_numpy()[index])
        beta = fitter.params_.reindex(sample.columns).to_numpy()
        lps.append(float((row - sample.mean().to_numpy()) @ beta))
    assert np.std(lps, ddof=1) == pytest.approx(result["se_linear_predictor"], rel=0.2)


# --------------------------------------------------------------------------------------------
# discrimination, calibration, decision curves
# --------------------------------------------------------------------------------------------

def test_harrell_c_index_equals_lifelines_with_ties():
    from lifelines.utils import concordance_index

    rng = np.random.default_rng(4)
    n = 300
    risk = np.round(rng.normal(size=n), 1)  # tied risks
    time = np.round(rng.exponential(np.exp(-0.8 * risk)) * 10)  # tied times
    event = rng.uniform(size=n) < 0.7
    ours = training.harrell_c_index(time, event, risk)
    # lifelines wants predicted survival (higher = longer): pass -risk
    assert ours == pytest.approx(concordance_index(time, -risk, event), abs=1e-12)
    assert ours > 0.6  # higher risk = shorter survival
    assert training.harrell_c_index(time, event, -risk) == pytest.approx(1 - ours, abs=1e-12)


def test_harrell_c_index_small_example_by_hand():
    # times 1(event), 2(censored), 3(event), 4(censored); risks 4, 3, 1, 2
    # comparable pairs: (1,2) (1,3) (1,4) (3,4): concordant 1-2, 1-3, 1-4; discordant 3-4 -> 3/4
    assert training.harrell_c_index([1, 2, 3, 4], [1, 0, 1, 0], [4, 3, 1, 2]) == pytest.approx(0.75)


def test_time_dependent_auc():
    rng = np.random.default_rng(9)
    n = 2000
    risk = rng.normal(size=n)
    event_time = rng.exponential(np.exp(-risk))
    t = float(np.median(event_time))
    cases, controls = risk[event_time <= t], risk[event_time > t]
    truth = np.mean(cases[:, None] > controls[None, :])
    # no censoring: the plain Mann-Whitney AUC of cases (T <= t) vs controls (T > t)
    assert training.time_dependent_auc(event_time, np.ones(n), risk, t) == pytest.approx(truth, abs=1e-12)
    # independent censoring: the IPCW estimate stays close to the uncensored AUC
    censor = rng.exponential(2.0, n)
    observed = np.minimum(event_time, censor)
    estimate = training.time_dependent_auc(observed, event_time <= censor, risk, t)
    assert estimate == pytest.approx(truth, abs=0.02)


def test_decision_curve_by_hand():
    y = [1, 1, 0, 0, 0]
    p = [0.9, 0.4, 0.6, 0.2, 0.1]
    curve = training.decision_curve(y, p, [0.5]).iloc[0]
    # pt = 0.5 (odds 1): positives p >= 0.5 -> TP 1, FP 1: NB = 1/5 - 1/5 = 0; all: 0.4 - 0.6 = -0.2
    assert curve.net_benefit_model == pytest.approx(0.0)
    assert curve.net_benefit_all == pytest.approx(-0.2)
    assert curve.net_benefit_none == 0.0
    curve = training.decision_curve(y, p, [0.25]).iloc[0]
    # odds 1/3: TP 2, FP 1 -> 2/5 - 1/5 / 3 = 0.3333; all: 0.4 - 0.6 / 3 = 0.2
    assert curve.net_benefit_model == pytest.approx(2 / 5 - 1 / 15)
    assert curve.net_benefit_all == pytest.approx(0.2)


def test_calibration_of_true_probabilities():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    result = training.calibration(y, p)
    assert result["calibration_slope"] == pytest.approx(1.0, abs=0.15)
    assert result["calibration_intercept"] == pytest.approx(0.0, abs=0.1)
    assert len(result["table"]) == 10


def test_evaluate_nomogram_logistic_and_cox():
    table = simulated_logistic()
    model = training.train_nomogram(table, "y", PREDICTOR_SPECS)
    metrics = training.evaluate_nomogram(model, table, outcome="y")
    assert metrics["auc"] == pytest.approx(model["model_card"]["training_performance"]["auc"])
    assert len(metrics["decision_curve"]) == 99 and metrics["cutoff"]["value"] == model["threshold"]["value"]
    json.dumps(metrics)
    survival = simulated_survival()
    cox = training.train_nomogram(survival, None, ["signature_score", "stage"], kind="cox", time_col="months",
                                  event_col="death", times=[12, 24])
    metrics = training.evaluate_nomogram(cox, survival, time_col="months", event_col="death")
    assert metrics["c_index"] == pytest.approx(cox["model_card"]["training_performance"]["c_index"])
    assert set(metrics["time_dependent_auc"]) == {"12", "24"}


# --------------------------------------------------------------------------------------------
# clinical validation
# --------------------------------------------------------------------------------------------

DEMO_LIKE = {"model": {"predictors": [dict(p, **({"coefficient": 0.1} if p.get("type") != "categorical" else
                                                 {"coefficients": [0.1, 0.2]}), type=p.get("type", "continuous"))
                                      for p in PREDICTORS]}}
GOOD = {"signature_score": 0.5, "albumin": 35, "lymphocytes": 1.2, "cea": 4.0, "stage": "III"}


def test_unit_conversions():
    assert clinical.convert(3.5, "g/dL", "g/L") == pytest.approx(35.0)
    assert clinical.convert(35, "g/L", "g/dL") == pytest.approx(3.5)
    assert clinical.convert(1200, "/µL", "x10^9/L") == pytest.approx(1.2)
    assert clinical.convert(1.2, "10^3/uL", "×10^9/L") == pytest.approx(1.2)
    assert clinical.convert(1.2, "x10^9/L", "cells/mm3") == pytest.approx(1200)
    assert clinical.convert(5.0, "µg/L", "ng/mL") == pytest.approx(5.0)
    clean = clinical.validate_clinical_values(DEMO_LIKE, {**GOOD, "albumin": "3.5 g/dL", "lymphocytes": (1200, "cells/uL"),
                                                          "cea": {"value": 4, "unit": "ug/L"}, "stage": "iii"})
    assert clean["albumin"] == pytest.approx(35.0) and clean["lymphocytes"] == pytest.approx(1.2)
    assert clean["cea"] == pytest.approx(4.0) and clean["stage"] == "III"


@pytest.mark.parametrize("field, value, message", [
    ("albumin", 350, "albumin = 350 g/L is outside the plausible range 10–60 g/L"),
    ("albumin", "35 g/dL", "albumin = 35 g/dL (= 350 g/L) is outside the plausible range 10–60 g/L"),
    ("albumin", 3.5, 'If 3.5 was measured in g/dL, give the unit: "3.5 g/dL"'),
    ("lymphocytes", 1200, "lymphocytes = 1200 x10^9/L is outside the plausible range 0.05–50 x10^9/L"),
    ("cea", -3, "cea = -3 ng/mL is outside the plausible range 0–100000 ng/mL"),
    ("albumin", None, "albumin is missing: the nomogram needs Albumin in g/L (plausible range 10–60 g/L)"),
    ("albumin", float("nan"), "albumin is missing"),
    ("albumin", "n/a", "albumin = 'n/a' is not a number"),
    ("albumin", "35 stones", "unknown unit 'stones'"),
    ("stage", "V", "stage = 'V' is not one of the expected levels: II, III, IV"),
    ("signature_score", 1.7, "signature_score = 1.7 is outside the plausible range 0–1"),
])
def test_implausible_or_missing_values_are_refused(field, value, message):
    values = dict(GOOD)
    values[field] = value
    with pytest.raises(InputError) as caught:
        clinical.validate_clinical_values(DEMO_LIKE, values)
    assert message in str(caught.value)


def test_extrapolation_warning_and_score_refuses_bad_values():
    model = load_model(DEMO_MODEL)
    result = nm.score_patient(model, {**GOOD, "albumin": 20})
    assert any("albumin = 20 g/L lies outside the range the model was built on (25–50 g/L)" in w for w in result["warnings"])
    with pytest.raises(InputError, match="albumin = 350 g/L"):
        nm.score_patient(model, {**GOOD, "albumin": 350})


# --------------------------------------------------------------------------------------------
# the shipped demo model
# --------------------------------------------------------------------------------------------

def test_demo_model_file_is_valid_and_reproducible():
    shipped = load_model(DEMO_MODEL)
    assert "demo — not for clinical use" in shipped["name"] and shipped["name"] == DEMO_NAME
    assert "demo — not for clinical use" in shipped["model_card"]["description"]
    assert shipped["inputs"] == ["signature_score", "albumin", "lymphocytes", "cea", "stage"]
    assert shipped["model_card"]["research_use_only"] is True
    rebuilt = train_demo_nomogram()
    assert np.allclose(nm.coefficient_vector(rebuilt), nm.coefficient_vector(shipped), rtol=1e-6)
    assert len(demo_cohort()) == shipped["model_card"]["training_performance"]["n"]
    result = nm.score_patient(shipped, {"signature_score": 0.64, "albumin": "3.4 g/dL", "lymphocytes": 1.1,
                                        "cea": 42, "stage": "IV"})
    assert 0 < result["ci_low"] < result["risk"] < result["ci_high"] < 1
    assert sum(result["points"].values()) == pytest.approx(result["total_points"])


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

def run_cli(*argv: str) -> int:
    import argparse

    from NomogramScoreLib import nomogram_cli
    from ResponseSignatureLib.cli_support import dispatch

    parser = argparse.ArgumentParser(prog="radiomics-response")
    nomogram_cli.add_subcommands(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser, list(argv))


def test_cli_train_score_evaluate_report(tmp_path, capsys):
    table = demo_cohort(n=300)
    table["recist_category"] = "SD"
    patients = tmp_path / "patients.csv"
    table.to_csv(patients, index=False)
    model_path = tmp_path / "nomogram.json"
    assert run_cli("nomogram", "train", "--table", str(patients), "--outcome", "no_benefit_6m", "--predictors",
                   "signature_score", "albumin", "lymphocytes", "cea", "stage", "--units", "albumin=g/L",
                   "lymphocytes=x10^9/L", "cea=ng/mL", "--categorical", "stage", "--log", "cea",
                   "--out", str(model_path)) == 0
    model = load_model(model_path)
    assert model["kind"] == "nomogram_logistic" and model["inputs"][0] == "signature_score"
    assert run_cli("nomogram", "score", "--model", str(model_path), "--clinical", "signature_score=0.6",
                   "albumin=3.4 g/dL", "lymphocytes=1.1", "cea=42", "stage=IV", "--out", str(tmp_path / "r.json"),
                   "--gauge", str(tmp_path / "g.svg"), "--chart", str(tmp_path / "c.svg")) == 0
    result = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    expected = nm.score_patient(model, {"signature_score": 0.6, "albumin": 34, "lymphocytes": 1.1, "cea": 42, "stage": "IV"})
    assert result["risk"] == pytest.approx(expected["risk"])
    assert (tmp_path / "g.svg").read_text(encoding="utf-8").startswith("<svg") and "nomogram-chart" in (tmp_path / "c.svg").read_text(encoding="utf-8")
    assert run_cli("nomogram", "score", "--model", str(model_path), "--clinical", "signature_score=0.6",
                   "albumin=34 g/dL", "lymphocytes=1.1", "cea=42", "stage=IV") == 2
    assert "albumin = 34 g/dL (= 340 g/L) is outside the plausible range 10–60 g/L" in capsys.readouterr().err
    assert run_cli("nomogram", "evaluate", "--model", str(model_path), "--table", str(patients), "--outcome",
                   "no_benefit_6m", "--out", str(tmp_path / "m.json")) == 0
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))["auc"] > 0.6
    report = tmp_path / "report.html"
    assert run_cli("report", "--patient", "SYN0007", "--patients", str(patients), "--nomogram-model", str(model_path),
                   "--clinical", "albumin=3.0 g/dL", "--out", str(report)) == 0
    html = report.read_text(encoding="utf-8")
    assert "SYN0007" in html and 'id="recist-category" class="big">SD<' in html and "30 g/L" in html
    assert run_cli("nomogram", "report", "--patient", "nobody", "--patients", str(patients), "--out", str(report)) == 2


# --------------------------------------------------------------------------------------------
# units remembered, separation refused (the researcher workflow)
# --------------------------------------------------------------------------------------------

def test_standard_units_are_remembered_and_values_converted_or_read_as_given(tmp_path, capsys):
    table = demo_cohort(n=200)
    patients = tmp_path / "patients.csv"
    table.to_csv(patients, index=False)
    model_path = tmp_path / "nomogram.json"
    assert run_cli("nomogram", "train", "--table", str(patients), "--outcome", "no_benefit_6m", "--predictors",
                   "signature_score", "albumin", "lymphocytes", "--out", str(model_path)) == 0  # no --units
    model = load_model(model_path)
    units = {p["name"]: p["unit"] for p in model["model"]["predictors"]}
    assert units == {"signature_score": "", "albumin": "g/L", "lymphocytes": "x10^9/L"}
    capsys.readouterr()
    assert run_cli("nomogram", "score", "--model", str(model_path), "--clinical", "signature_score=0.6",
                   "albumin=3.4 g/dL", "lymphocytes=1100 /uL") == 0
    printed = capsys.readouterr().out
    assert "3.4 g/dL = 34 g/L" in printed and "1100 /uL = 1.1 x10^9/L" in printed
    assert run_cli("nomogram", "score", "--model", str(model_path), "--clinical", "signature_score=0.6",
                   "albumin=34", "lymphocytes=1.1") == 0
    assert "34 g/L (no unit given: read in the model's unit)" in capsys.readouterr().out
    expected = nm.score_patient(model, {"signature_score": 0.6, "albumin": 34.0, "lymphocytes": 1.1})
    assert expected["values"]["albumin"] == 34.0

    # a training column in g/dL read as g/L would be implausible: refused, naming the unit that fits
    table.assign(albumin=table["albumin"] / 10).to_csv(tmp_path / "gdl.csv", index=False)
    assert run_cli("nomogram", "train", "--table", str(tmp_path / "gdl.csv"), "--outcome", "no_benefit_6m",
                   "--predictors", "signature_score", "albumin", "--out", str(tmp_path / "x.json")) == 2
    assert "--units albumin=g/dL" in capsys.readouterr().err
    assert run_cli("nomogram", "train", "--table", str(tmp_path / "gdl.csv"), "--outcome", "no_benefit_6m",
                   "--predictors", "signature_score", "albumin", "--units", "albumin=g/dL",
                   "--out", str(tmp_path / "x.json")) == 0


def test_perfect_separation_is_one_message_and_refused_unless_allowed(tmp_path, capsys, recwarn):
    rng = np.random.default_rng(5)
    score = rng.uniform(0, 1, 60)
    table = pd.DataFrame({"patient_id": [f"P{i}" for i in range(60)], "signature_score": score,
                          "albumin": rng.normal(38, 4, 60), "no_benefit": (score > 0.5).astype(int)})
    table.to_csv(tmp_path / "separated.csv", index=False)
    command = ["nomogram", "train", "--table", str(tmp_path / "separated.csv"), "--outcome", "no_benefit",
               "--predictors", "signature_score", "albumin", "--out", str(tmp_path / "n.json")]
    assert run_cli(*command) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "perfectly separated (signature_score alone splits it)" in error
    assert "--allow-separation" in error and not (tmp_path / "n.json").exists()
    assert not [w for w in recwarn if "statsmodels" in str(w.filename)]  # no flood of raw warnings
    assert run_cli(*command, "--allow-separation") == 0
    assert "warning: fitted on perfectly separated data" in capsys.readouterr().out
    model = load_model(tmp_path / "n.json")
    with np.errstate(all="raise"):  # scoring such a model must not overflow
        result = nm.score_patient(model, {"signature_score": 0.99, "albumin": 38})
    assert 0.0 <= result["ci_low"] <= result["risk"] <= result["ci_high"] <= 1.0
