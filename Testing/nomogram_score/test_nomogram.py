"""NomogramScoreLib.nomogram: points and risks against hand calculation, CIs of a prediction against
the bootstrap, model files, the shipped demo model."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from NomogramScoreLib import nomogram as nm, training
from NomogramScoreLib.demo import DEMO_NAME, demo_cohort, train_demo_nomogram
from nomogram_examples import PREDICTOR_SPECS, simulated_logistic, simulated_survival, small_cox, small_logistic
from ResponseSignatureLib.errors import ModelFileError
from ResponseSignatureLib.models.modelfile import content_hash, load_model, save_model

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json"


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
