"""Small nomogram models whose points and risks can be worked out by hand, and simulated cohorts
with known effects: shared by the NomogramScoreLib tests (nomogram, training, chart)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ResponseSignatureLib.models.modelfile import content_hash, load_model


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
