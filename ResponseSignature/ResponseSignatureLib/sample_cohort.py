"""A small synthetic cohort for trying the researcher workflow: cases, a manifest, clinical values.

``make_sample_cohort(out_dir, n_patients)`` writes, for each patient ``C01, C02, ...``, a sample
case (``sample_data.make_sample_case``: baseline + follow-up CT and segmentations) whose three
lesions (two liver, one node; 65-80 % of the sample case's sizes, so that a cohort computes
quickly) respond according to a latent response ``z`` of the patient, plus

* ``manifest.csv``: ``patient_id,timepoint,image,segmentation,locations`` (relative paths), the
  input of ``radiomics-response batch``;
* ``clinical.csv``: ``patient_id, response, no_benefit, albumin (g/L), lymphocytes (x10^9/L)``.

The outcome is drawn from ``z`` with noise, so no single feature predicts it perfectly:
responders (``response`` = 1, ``no_benefit`` = 0) have z ~ N(+0.8, 1), the others z ~ N(-0.8, 1)
(patients alternate between the two groups, so both are equally large). A lesion's follow-up
radius is its baseline radius times exp(-0.3 z) (times N(1, 0.05) per lesion, clipped to
0.45-1.6): responders' lesions shrink, the others' grow. The lesions are more lobulated than in
the sample case (so that every shape-index bin occurs) and lobulation and texture vary between
patients. Albumin and lymphocytes are weakly related to the response. Everything is made up:
no real patient data.
"""
from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from .sample_data import SAMPLE_LESIONS, make_sample_case

#: the sample lesions each cohort patient has (the sample case's liver_3 and new liver_4 are left out)
COHORT_LESIONS = ("liver_1", "liver_2", "node_1")
CLINICAL_COLUMNS = ("patient_id", "response", "no_benefit", "albumin", "lymphocytes")


def make_sample_cohort(out_dir, n_patients: int = 12, seed: int = 0) -> dict:
    """Write the cohort (see the module docstring); returns the paths: manifest, clinical, cases."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    manifest, clinical = [], []
    for index in range(n_patients):
        patient_id = f"C{index + 1:02d}"
        response = index % 2
        z = rng.normal(0.8 if response else -0.8, 1.0)
        lesions = cohort_lesions(z, rng)
        paths = make_sample_case(out / "cases" / patient_id, seed=seed * 1000 + index, patient_id=patient_id,
                                 lesions=lesions)
        relative = {key: path.relative_to(out).as_posix() for key, path in paths.items()}
        manifest.append([patient_id, "baseline", relative["baseline_image"], relative["baseline_seg"],
                         relative["locations"]])
        manifest.append([patient_id, "followup", relative["followup_image"], relative["followup_seg"], ""])
        clinical.append([patient_id, response, 1 - response, round(rng.normal(38.0 + 2.0 * z, 4.0), 1),
                         round(float(np.exp(rng.normal(math.log(1.4) + 0.1 * z, 0.35))), 2)])
    return {"manifest": _write_csv(out / "manifest.csv", ("patient_id", "timepoint", "image", "segmentation",
                                                          "locations"), manifest),
            "clinical": _write_csv(out / "clinical.csv", CLINICAL_COLUMNS, clinical),
            "cases": out / "cases"}


def cohort_lesions(z: float, rng: np.random.Generator) -> tuple:
    """The designs of one patient's lesions for a latent response ``z`` (higher: more shrinkage)."""
    designs = []
    for lesion in SAMPLE_LESIONS:
        if lesion.name not in COHORT_LESIONS:
            continue
        scale = float(np.clip(math.exp(-0.3 * z) * rng.normal(1.0, 0.05), 0.45, 1.6))
        lobes = tuple(float(a * rng.uniform(4.0, 6.0)) for a in lesion.lobes)  # lobulated: shape index varies
        designs.append(replace(lesion, radius_mm=lesion.radius_mm * rng.uniform(0.65, 0.8), lobes=lobes,
                               followup_scale=scale,
                               followup_texture_sd_hu=lesion.texture_sd_hu * float(np.clip(scale, 0.3, 1.5))))
    return tuple(designs)


def _write_csv(path: Path, header, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
