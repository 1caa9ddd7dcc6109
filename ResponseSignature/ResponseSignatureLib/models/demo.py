"""Synthetic cohorts with a known outcome model, and the shipped demo signature.

``synthetic_cohort`` draws, per patient, a latent true value z ~ N(0, 1) of every feature and
measures it ``n_repeats`` times as z + e with e ~ N(0, 0.2^2) for reproducible features and
e ~ N(0, 1.5^2) for the ``n_unreliable`` non-reproducible ones (ICC(2,1) about 0.96 vs 0.31).
The table holds the first measurement ("original"); ``repeats`` holds all of them (the input of
the reproducibility filter). The outcome is Bernoulli(expit(sum_j b_j z_j)) over the ``planted``
features, plus ``unreliable_coefficient`` times the latent value of the first unreliable feature
(informative but not reproducible: the filter must drop it). ``<first planted>_copy`` is a
near-duplicate (Spearman rho about 0.98) of the first planted feature, for the redundancy filter.
``planted={}`` and ``unreliable_coefficient=0`` give a null cohort (outcome independent of
every feature).

The demo model is a patient-level random forest on four delta features named like the patient
table's aggregated columns. It was trained on synthetic data: **demo — not for clinical use**.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

DEFAULT_PLANTED = {"feature_01": 3.0, "feature_02": -3.0, "feature_03": 2.5}
DEMO_NAME = "Demo delta-radiomics signature (demo — not for clinical use)"
DEMO_FEATURES = {  # patient-table column: (coefficient on the latent value, SD of the delta)
    "volume_weighted:delta:original_shape_Sphericity": (-1.5, 0.05),
    "volume_weighted:delta:log-sigma-2-0-mm-3D_firstorder_Entropy": (1.5, 0.4),
    "volume_weighted:delta:log-sigma-4-0-mm-3D_firstorder_Entropy": (1.0, 0.3),
    "volume_weighted:delta:original_ngtdm_Contrast": (-1.0, 0.02),
}
RELIABLE_SD, UNRELIABLE_SD = 0.2, 1.5


@dataclass
class SyntheticCohort:
    """A synthetic cohort and its ground truth."""

    table: pd.DataFrame                      # patient_id, outcome, features (first measurement)
    repeats: pd.DataFrame                    # patient_id, repeat, features (all measurements)
    planted: dict                            # informative reproducible feature -> coefficient
    unreliable: list = field(default_factory=list)   # non-reproducible features
    redundant: dict = field(default_factory=dict)    # near-duplicate -> original

    @property
    def features(self) -> list:
        """The feature columns of ``table`` (the synthetic names carry no radiomics prefix, so
        training must be given them: ``train_signature(feature_columns=cohort.features)``)."""
        return [c for c in self.table.columns if c not in ("patient_id", "outcome")]


def synthetic_cohort(n_patients: int = 200, n_noise_features: int = 30, seed: int = 0, planted: dict | None = None,
                     n_unreliable: int = 3, unreliable_coefficient: float = 1.5, n_repeats: int = 4,
                     scales: dict | None = None, redundant_copy: bool = True) -> SyntheticCohort:
    """A patient-level table of delta features with a known outcome model (see module docstring).

    ``scales`` multiplies a feature's measurements (realistic units for named features).
    """
    rng = np.random.default_rng(seed)
    planted = dict(DEFAULT_PLANTED if planted is None else planted)
    unreliable = [f"unreliable_{i + 1:02d}" for i in range(n_unreliable)]
    noise = [f"noise_{i + 1:03d}" for i in range(n_noise_features)]
    names = list(planted) + unreliable + noise
    latent = rng.normal(size=(n_patients, len(names)))
    logit = sum(coef * latent[:, names.index(f)] for f, coef in planted.items()) + np.zeros(n_patients)
    if unreliable and unreliable_coefficient:
        logit = logit + unreliable_coefficient * latent[:, names.index(unreliable[0])]
    outcome = (rng.random(n_patients) < 1 / (1 + np.exp(-logit))).astype(int)
    error_sd = np.array([UNRELIABLE_SD if f in unreliable else RELIABLE_SD for f in names])
    measured = latent[None, :, :] + rng.normal(size=(n_repeats, n_patients, len(names))) * error_sd
    scale = np.array([(scales or {}).get(f, 1.0) for f in names])
    measured = measured * scale
    ids = [f"P{i + 1:04d}" for i in range(n_patients)]
    redundant = {}
    if redundant_copy and planted:
        first = names.index(next(iter(planted)))
        copy = measured[:, :, first] + rng.normal(scale=0.2 * scale[first], size=(n_repeats, n_patients))
        measured = np.concatenate([measured, copy[:, :, None]], axis=2)
        redundant = {f"{names[first]}_copy": names[first]}
        names = names + list(redundant)
    table = pd.DataFrame(measured[0], columns=names)
    table.insert(0, "outcome", outcome)
    table.insert(0, "patient_id", ids)
    repeats = pd.concat([pd.DataFrame({"patient_id": ids, "repeat": r, **dict(zip(names, measured[r].T))})
                         for r in range(n_repeats)], ignore_index=True)
    return SyntheticCohort(table, repeats, planted, unreliable, redundant)


def synthetic_lesion_table(cohort: SyntheticCohort, seed: int = 0, max_lesions: int = 3, lesion_sd: float = 0.3,
                           locations: Sequence[str] = ("liver", "lung", "node", "other")) -> pd.DataFrame:
    """A lesion-level variant: 1..``max_lesions`` lesions per patient, each planted feature = the
    patient's value + N(0, lesion_sd^2) (other features copied), a random ``location``, and the
    patient's outcome on every lesion (columns patient_id, lesion_id, location, outcome, features)."""
    rng = np.random.default_rng(seed)
    rows = []
    for patient in cohort.table.to_dict(orient="records"):
        for lesion in range(int(rng.integers(1, max_lesions + 1))):
            row = dict(patient)
            for column in cohort.planted:
                row[column] = patient[column] + lesion_sd * rng.normal()
            row.update(lesion_id=f"L{lesion + 1}", location=str(rng.choice(list(locations))))
            rows.append(row)
    table = pd.DataFrame(rows)
    first = ["patient_id", "lesion_id", "location", "outcome"]
    return table[first + [c for c in table.columns if c not in first]]


def demo_cohort(n_patients: int = 300, seed: int = 2020) -> SyntheticCohort:
    """The synthetic cohort of the demo model: the four demo features, no noise features."""
    planted = {name: coef for name, (coef, _) in DEMO_FEATURES.items()}
    scales = {name: sd for name, (_, sd) in DEMO_FEATURES.items()}
    return synthetic_cohort(n_patients, 0, seed, planted=planted, n_unreliable=0, scales=scales,
                            redundant_copy=False)


def default_demo_path() -> Path:
    """Where the shipped demo model lives (source tree, else the installed package data)."""
    from ..resources import shipped_file

    return shipped_file("ResponseSignatureLib", "Models", "demo_signature.json")
