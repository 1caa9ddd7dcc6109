"""Repeated measurements of one lesion under small perturbations, for the reproducibility filter.

When no test-retest scans exist, feature reproducibility is estimated from perturbations that
mimic what changes between two readings of the same tumour (Zwanenburg et al., Sci Rep 2019,
"Assessing robustness of radiomic features by image perturbation"):

* ``original``: the image and mask as given;
* ``eroded`` / ``dilated``: the mask shrunk / grown by one voxel (SimpleITK BinaryErode /
  BinaryDilate, ball of radius 1), a contour one voxel inside / outside the reader's;
* ``noise_1`` .. ``noise_n``: the image plus Gaussian noise of SD ``noise_sd_hu`` (HU), a
  different seed each, i.e. a different acquisition-noise realisation.

Stack the result for many lesions (``cohort_repeats``) and pass it to ``train_signature(...,
icc_table=...)`` / ``training.reproducibility_filter`` (ICC(2,1) over the repeats; patient-table
columns such as ``volume_weighted:delta:<feature>`` take the ICC of ``<feature>``). An eroded mask that vanishes (lesion thinner than three voxels) is skipped:
that repeat is absent for the lesion, and the ICC then leaves the lesion out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import SimpleITK as sitk

from ..errors import LesionError


def _morphology(mask: sitk.Image, grow: bool) -> sitk.Image:
    """The 0/1 mask eroded or dilated by one voxel (3-D ball of radius 1), same grid and type."""
    binary = sitk.Cast(mask > 0, sitk.sitkUInt8)
    radius = [1] * binary.GetDimension()
    kernel = sitk.sitkBall
    if grow:
        out = sitk.BinaryDilate(binary, radius, kernel, 0, 1)
    else:
        out = sitk.BinaryErode(binary, radius, kernel, 0, 1)
    out.CopyInformation(mask)
    return sitk.Cast(out, mask.GetPixelID())


def _noisy(image: sitk.Image, sd: float, rng: np.random.Generator) -> sitk.Image:
    """``image`` + N(0, sd^2) noise, as float32 (no rounding back to integer HU)."""
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    array = array + rng.normal(0.0, sd, size=array.shape).astype(np.float32)
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    return out


def perturbation_repeats(image: sitk.Image, mask: sitk.Image, extractor, n_noise: int = 2,
                         noise_sd_hu: float = 10.0, seed: int = 0, lesion_id: str = "lesion") -> pd.DataFrame:
    """One row per repeat: ``repeat`` (original, eroded, dilated, noise_1..n), ``lesion_id``, features.

    ``extractor`` is anything with ``extract(image, mask) -> dict`` (e.g.
    ``ResponseSignatureLib.extraction.FeatureExtractor(params)``). Add a ``patient_id`` column
    (or use ``lesion_id`` as the id) before computing ICCs over many lesions.
    """
    rng = np.random.default_rng(seed)
    variants = [("original", image, mask), ("eroded", image, _morphology(mask, grow=False)),
                ("dilated", image, _morphology(mask, grow=True))]
    variants += [(f"noise_{i + 1}", _noisy(image, noise_sd_hu, rng), mask) for i in range(n_noise)]
    rows = []
    for name, variant_image, variant_mask in variants:
        try:
            features = extractor.extract(variant_image, variant_mask)
        except LesionError:
            if name == "eroded":
                continue
            raise
        rows.append({"lesion_id": lesion_id, "repeat": name, **features})
    return pd.DataFrame(rows)


def cohort_repeats(cases, extractor, n_noise: int = 2, noise_sd_hu: float = 10.0, seed: int = 0,
                   progress=None) -> pd.DataFrame:
    """Perturbation repeats of many lesions: ``cases`` yields (patient_id, lesion_id, image, mask).

    Returns the long table (patient_id, lesion_id, repeat, features) the ICC filter reads. A
    lesion whose original extraction fails is skipped (it cannot contribute an ICC row).
    """
    from ..progress import report

    frames = []
    cases = list(cases)
    for number, (patient_id, lesion_id, image, mask) in enumerate(cases):
        report(progress, number / max(len(cases), 1), f"perturbing {patient_id}/{lesion_id}")
        try:
            frame = perturbation_repeats(image, mask, extractor, n_noise, noise_sd_hu, seed + number, str(lesion_id))
        except LesionError:
            continue
        frames.append(frame.assign(patient_id=str(patient_id)))
    report(progress, 1.0, "perturbation repeats done")
    if not frames:
        return pd.DataFrame(columns=["patient_id", "lesion_id", "repeat"])
    table = pd.concat(frames, ignore_index=True)
    return table[["patient_id"] + [c for c in table.columns if c != "patient_id"]]
