"""Shared by the engine parity tests: pyradiomics as the reference, run on the same input as the engine.

Not a test module (pytest collects ``test_*.py`` only); the test files import it after
``pytest.importorskip("radiomics")``, and ``conftest.pyradiomics_cases`` loads the real cases.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ResponseSignatureLib.engine import preprocess

#: the real cases of ../shared/data/pyradiomics
CASES = ("brain1", "breast1", "lung1")
#: relative difference allowed where both compute on the same voxels
TOL = 1e-6


def load_cases(folder: Path) -> dict:
    """{case: (image, label map)} of the real cases in ``folder``."""
    return {case: (sitk.ReadImage(str(folder / f"{case}_image.nrrd")), sitk.ReadImage(str(folder / f"{case}_label.nrrd")))
            for case in CASES}


def pyradiomics_features(image, mask, params) -> dict:
    """pyradiomics' segment-based features (additionalInfo off, no diagnostics) as floats."""
    from radiomics import featureextractor

    p = {k: dict(v) if isinstance(v, dict) else v for k, v in params.items()}
    p["setting"] = dict(p.get("setting", {}), additionalInfo=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image on float images, SciPy deprecations
        out = featureextractor.RadiomicsFeatureExtractor(p).execute(image, mask)
    return {k: float(v) for k, v in out.items() if not k.startswith("diagnostics_")}


def assert_parity(ref: dict, ours: dict, n_features: int | None = None) -> dict[str, float]:
    """Same names, relative difference <= TOL (or absolute <= 1e-12); worst relative difference per image.

    ``n_features``: also assert how many features were compared.
    """
    assert set(ref) == set(ours), (sorted(set(ref) - set(ours))[:5], sorted(set(ours) - set(ref))[:5])
    if n_features is not None:
        assert len(ref) == n_features
    worst: dict[str, float] = {}
    bad = []
    for name, a in ref.items():
        b = ours[name]
        if np.isnan(a) and np.isnan(b):
            continue
        rel = abs(a - b) / max(abs(a), 1e-12) if abs(a - b) > 1e-12 else 0.0
        if not rel <= TOL:
            bad.append((name, a, b, rel))
        image = name.split("_")[0]
        worst[image] = max(worst.get(image, 0.0), rel)
    assert not bad, bad[:10]
    return worst


def bbox_crop(image, mask, margin_vox):
    """Image and mask cropped to the ROI (label 1) box + ``margin_vox`` (k, j, i or one number)."""
    lo, hi = preprocess.roi_bbox(sitk.GetArrayViewFromImage(mask) == 1, "test")
    m = np.asarray(margin_vox)
    return preprocess.crop_image(image, lo - m, hi + m), preprocess.crop_image(mask, lo - m, hi + m)
