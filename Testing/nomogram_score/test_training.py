"""NomogramScoreLib.training: fits against statsmodels/lifelines predictions, C-index against lifelines,
time-dependent AUC, decision curves and calibration against hand calculation."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from NomogramScoreLib import nomogram as nm, training
from nomogram_examples import PREDICTOR_SPECS, simulated_logistic, simulated_survival
from ResponseSignatureLib.models.evaluation import choose_threshold
from ResponseSignatureLib.models.modelfile import load_model


# --------------------------------------------------------------------------------------------
# training against the fitting libraries
# --------------------------------------------------------------------------------------------

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
