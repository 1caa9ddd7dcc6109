"""A lesion's images evaluated in stacks (engine.image_batch) give each image's own features.

The formulas of a class run once for a stack of images whose matrices are placed over their common
gray levels and lengths; here the stacked results are compared with one image per stack
(``STACK_ELEMENTS = 0``) and with pyradiomics, with per-image-type settings that change the matrices'
shapes (GLCM distances, gldm_a), the binning and voxelArrayShift, so that stacks must be split.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ResponseSignature"))

pytest.importorskip("radiomics")

from ResponseSignatureLib.engine import extract_features, image_batch, registry  # noqa: E402
from engine_reference import assert_parity, bbox_crop, pyradiomics_features  # noqa: E402

ALL = {"firstorder": None, "glcm": None, "glrlm": None, "glszm": None, "gldm": None, "ngtdm": None}
MIXED = {
    "setting": {"binWidth": 25},
    "imageType": {
        "Original": {},
        "LoG": {"sigma": [1.0, 3.0], "binWidth": 5, "distances": [1, 2], "voxelArrayShift": 300},
        "Wavelet": {"binCount": 16, "gldm_a": 1},
    },
    "featureClass": ALL,
}


@pytest.fixture(scope="module")
def lesion(pyradiomics_cases):
    image, mask = pyradiomics_cases["breast1"]
    return bbox_crop(image, mask, np.ceil(15.0 / np.array(image.GetSpacing()[::-1])).astype(int))


def test_stacked_equals_one_image_at_a_time(lesion, monkeypatch):
    stacked = extract_features(*lesion, MIXED)
    monkeypatch.setattr(image_batch, "STACK_ELEMENTS", 0)  # every image in a stack of its own
    alone = extract_features(*lesion, MIXED)
    assert list(stacked) == list(alone) and len(stacked) == 11 * 93
    for name, value in alone.items():
        assert stacked[name] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), name


def test_mixed_settings_match_pyradiomics(lesion):
    assert_parity(pyradiomics_features(*lesion, MIXED), extract_features(*lesion, MIXED), n_features=11 * 93)


def test_stacks_follow_matrix_shapes(lesion):
    """Images with other GLCM distances never share a GLCM stack; zone matrices always stack."""
    from ResponseSignatureLib.engine import filters, preprocess

    images = []
    settings, image_types, classes = preprocess.split_params(MIXED)
    region = preprocess.prepare_region(*lesion, settings, image_types, "breast1", classes)
    roi = region.mask[region.box]
    for job in filters.jobs(region.image, region.box, image_types, settings, region.source):
        for name, arr in job.run():
            images.append(image_batch.image_matrices(name, np.asarray(arr), roi, region.spacing_kji, job.args,
                                                     classes))
    names = [im.name for im in images]
    glcm_stacks = [[names[r] for r in rows] for rows in image_batch._stacks(registry.get("glcm"), images)]
    assert sorted(map(len, glcm_stacks)) == [2, 9]  # 2 LoG (distances 1, 2: 26 directions) | the rest
    assert len(image_batch._stacks(registry.get("glszm"), images)) == 1
