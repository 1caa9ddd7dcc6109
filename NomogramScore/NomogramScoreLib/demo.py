"""Demo nomogram and demo report inputs, from a synthetic cohort (demo — not for clinical use).

``train_demo_nomogram()`` simulates a cohort of 400 patients (fixed seed) and trains the logistic
nomogram shipped as ``NomogramScore/Resources/Models/demo_nomogram.json`` (saved with
``ResponseSignatureLib.models.save_model``; the tests check that the shipped file is what it trains):
outcome = no clinical benefit at 6 months (1 = progression or death within 6 months),
predictors = radiomics signature score (column ``signature_score``, 0-1), serum albumin (g/L),
absolute lymphocyte count (x10^9/L), CEA (ng/mL, log-transformed) and stage (II / III / IV).

The simulated truth (made up to look clinically plausible; no real patient data):
  logit P(no benefit) = -0.6 + 3.0 (signature - 0.5) - 0.08 (albumin - 38) - 0.5 (lymphocytes - 1.5)
                        + 0.35 ln(CEA / 5) + {II: 0, III: 0.4, IV: 0.9}
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DEMO_NAME = "Demo radiomics-clinical nomogram (demo — not for clinical use)"
STAGE_EFFECT = {"II": 0.0, "III": 0.4, "IV": 0.9}
PREDICTORS = [
    {"name": "signature_score", "label": "Radiomics signature", "unit": "", "min": 0.0, "max": 1.0,
     "plausible_min": 0.0, "plausible_max": 1.0},
    {"name": "albumin", "label": "Albumin", "unit": "g/L", "quantity": "albumin", "min": 25.0, "max": 50.0},
    {"name": "lymphocytes", "label": "Lymphocytes", "unit": "x10^9/L", "quantity": "lymphocytes", "min": 0.2, "max": 4.0},
    {"name": "cea", "label": "CEA", "unit": "ng/mL", "quantity": "cea", "transform": "log", "min": 1.0, "max": 1000.0},
    {"name": "stage", "label": "Stage", "type": "categorical", "levels": ["II", "III", "IV"]},
]


def demo_cohort(n: int = 400, seed: int = 2026) -> pd.DataFrame:
    """Synthetic patient table: patient_id, the five predictors and ``no_benefit_6m`` (0/1)."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({
        "patient_id": [f"SYN{i:04d}" for i in range(n)],
        "signature_score": rng.beta(2.0, 2.0, n),
        "albumin": np.clip(rng.normal(38.0, 5.0, n), 25.0, 50.0),
        "lymphocytes": np.clip(rng.lognormal(np.log(1.4), 0.45, n), 0.2, 4.0),
        "cea": np.clip(rng.lognormal(np.log(5.0), 1.3, n), 1.0, 1000.0),
        "stage": rng.choice(["II", "III", "IV"], n, p=[0.2, 0.35, 0.45]),
    })
    lp = (-0.6 + 3.0 * (table["signature_score"] - 0.5) - 0.08 * (table["albumin"] - 38.0)
          - 0.5 * (table["lymphocytes"] - 1.5) + 0.35 * np.log(table["cea"] / 5.0) + table["stage"].map(STAGE_EFFECT))
    table["no_benefit_6m"] = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-lp))).astype(int)
    return table


def train_demo_nomogram(n: int = 400, seed: int = 2026) -> dict:
    """The demo model document (not saved)."""
    from .training import train_nomogram

    card = {
        "description": "Demo only: trained on a simulated cohort to show how nomograms work in RadiomicsResponse. "
                       "demo — not for clinical use.",
        "training_cohort": f"{n} simulated patients (NomogramScoreLib.demo.demo_cohort, seed {seed})",
        "outcome_definition": "no clinical benefit at 6 months: progression or death within 6 months (1) vs not (0)",
        "radiomics_input": "signature_score: patient-level radiomics signature score (0-1)",
    }
    return train_nomogram(demo_cohort(n, seed), "no_benefit_6m", PREDICTORS, kind="logistic", name=DEMO_NAME,
                          version="1.0.0", outcome_label="no clinical benefit at 6 months", outcome_unfavourable=True,
                          model_card=card)


def demo_report_inputs() -> dict:
    """Hand-made inputs of ``report.build_report`` for one synthetic patient (no real data)."""
    lesions = pd.DataFrame({
        "patient_id": ["DEMO-001"] * 4,
        "lesion_id": ["liver_1", "liver_2", "node_1", "lung_1"],
        "location": ["liver", "liver", "node", "lung"],
        "status": ["matched", "matched", "matched", "matched"],
        "baseline:longest_diameter_mm": [42.0, 25.0, 18.0, 14.0],
        "followup:longest_diameter_mm": [30.0, 27.0, 12.0, 9.0],
        "baseline:volume_ml": [31.2, 7.9, 2.1, 1.3],
        "followup:volume_ml": [13.8, 9.6, 0.8, 0.4],
    })
    recist = {"overall_response": "PR", "baseline_sum_mm": 99.0, "followup_sum_mm": 78.0,
              "percent_change_from_baseline": -21.2, "nadir_sum_mm": 99.0, "new_lesions": False,
              "note": "synthetic example"}
    return {"patient": {"patient_id": "DEMO-001", "age": 63, "sex": "F", "diagnosis": "metastatic colorectal cancer (synthetic)"},
            "lesion_table": lesions, "recist": recist,
            "signature": {"name": "demo signature", "score": 0.64, "threshold": 0.5, "aggregation": "volume-weighted mean"},
            "clinical": {"signature_score": 0.64, "albumin": "3.4 g/dL", "lymphocytes": 1.1, "cea": 42.0, "stage": "IV"}}
