"""The feature-class registry: one descriptor per class, and nothing else to edit to add a class.

- A class defined here, in the test, and registered (``registry.registered``) is computed by the
  engine for segments (every image type, through ``FeatureExtractor`` too) and as feature maps,
  with values checked against numpy on the same voxels. No engine file knows it.
- The built-in descriptors: every feature has a description and a known unit; the class list
  matches pyradiomics' own (``radiomics.getFeatureClasses``); the IBSI codes match the corrected
  pyradiomics -> IBSI mapping of ../shared/data/ibsi (when present).
"""
from __future__ import annotations

import csv

import numpy as np
import pytest
import SimpleITK as sitk

from ResponseSignatureLib.engine import extract_features, registry
from ResponseSignatureLib.engine.common import evaluate_batch
from ResponseSignatureLib.engine.descriptor import UNITS, FeatureClass, FeatureInfo
from ResponseSignatureLib.engine.feature_maps import feature_maps, map_class_names
from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.extraction import FeatureExtractor


# ---------------------------------------------------------------------------------------------
# a class of the test's own: mean of squared intensities and voxel count, per image or kernel
# ---------------------------------------------------------------------------------------------
class _Rows:
    """Intensities (rows x voxels), NaN for voxels outside a row's region (kernels)."""

    def __init__(self, values: np.ndarray):
        self.x = values.reshape(values.shape[0], -1).astype(np.float64)


FEATURES = {"MeanSquare": lambda c: np.nanmean(c.x * c.x, axis=1),
            "Voxels": lambda c: np.sum(~np.isnan(c.x), axis=1).astype(np.float64)}


def _kernels(batch, context, chosen):
    return evaluate_batch(FEATURES, chosen, _Rows(batch.values)), {}


SQUARES = FeatureClass(
    name="squares", title="Test class: squared intensities", features=FEATURES, pyradiomics=False,
    info={"MeanSquare": FeatureInfo("Mean squared intensity", "intensity2"), "Voxels": FeatureInfo("Voxel count")},
    batch_context=lambda images, voxel_volume: _Rows(np.stack([im.values for im in images])),
    stack_key=lambda image: image.values.size, kernel_features=_kernels,
)


def _case():
    """Small int16 image (k, j, i) = (9, 10, 11) with a blob ROI."""
    rng = np.random.default_rng(3)
    values = rng.integers(-50, 200, (9, 10, 11)).astype(np.int16)
    k, j, i = np.meshgrid(*[np.arange(n) for n in values.shape], indexing="ij")
    roi = ((k - 4) ** 2 / 6.0 + (j - 5) ** 2 / 9.0 + (i - 5) ** 2 / 12.0) <= 1.0
    image = sitk.GetImageFromArray(values)
    image.SetSpacing((0.8, 0.9, 2.0))
    mask = sitk.GetImageFromArray(roi.astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask, values, roi


def test_a_registered_class_is_computed_for_segments():
    image, mask, values, roi = _case()
    params = {"imageType": {"Original": {}, "LoG": {"sigma": [1.0]}, "Wavelet": {}},
              "featureClass": {"firstorder": ["Mean"], "squares": None}}
    with pytest.raises(InputError, match="feature class 'squares' is not supported"):
        extract_features(image, mask, params)
    with registry.registered(SQUARES):
        ours = extract_features(image, mask, params)
        via_extractor = FeatureExtractor(params).extract(image, mask)
    inside = values[roi].astype(np.float64)
    assert ours["original_squares_MeanSquare"] == pytest.approx(np.mean(inside ** 2), rel=1e-12)
    assert ours["original_squares_Voxels"] == roi.sum()
    filtered = [name for name in ours if name.endswith("_squares_MeanSquare")]
    assert len(filtered) == 1 + 1 + 8  # original, one LoG sigma, eight wavelet sub-bands
    for name in filtered:  # the class sees each image: the mean square is at least the squared mean
        prefix = name[:-len("_squares_MeanSquare")]
        assert ours[name] >= ours[f"{prefix}_firstorder_Mean"] ** 2 * (1 - 1e-12)
    assert via_extractor == ours
    with pytest.raises(InputError, match="not supported"):  # gone again after the block
        extract_features(image, mask, params)


def test_a_registered_class_is_computed_as_feature_maps():
    image, mask, values, roi = _case()
    params = {"featureClass": {"squares": None}, "voxelSetting": {"kernelRadius": 1}}
    with registry.registered(SQUARES):
        assert "squares" in map_class_names()
        maps = feature_maps(image, mask, params)
    assert set(maps) == {"original_squares_MeanSquare", "original_squares_Voxels"}
    square = sitk.GetArrayFromImage(maps["original_squares_MeanSquare"])
    count = sitk.GetArrayFromImage(maps["original_squares_Voxels"])
    lo = np.argwhere(roi).min(0) - 1  # the map box: ROI box + kernelRadius, inside the image here
    assert square.shape == tuple(np.argwhere(roi).max(0) - np.argwhere(roi).min(0) + 3)
    for centre in np.argwhere(roi):  # masked kernel: the ROI voxels of the 3 x 3 x 3 box
        box = tuple(slice(max(c - 1, 0), c + 2) for c in centre)
        inside = values[box][roi[box]].astype(np.float64)
        at = tuple(centre - lo)
        assert square[at] == pytest.approx(np.mean(inside ** 2), rel=1e-12)
        assert count[at] == inside.size
    assert square[0, 0, 0] == 0.0  # initValue off the ROI


def test_register_refuses_duplicates_and_missing_info():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.get("glcm"))
    incomplete = FeatureClass(name="incomplete", title="x", features=FEATURES, info={})
    with pytest.raises(ValueError, match="no FeatureInfo for MeanSquare, Voxels"):
        registry.register(incomplete)
    with pytest.raises(ValueError, match="built in"):
        registry.unregister("glcm")


# ---------------------------------------------------------------------------------------------
# the built-in descriptors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", registry.names())
def test_every_feature_is_described(name):
    descriptor = registry.get(name)
    assert descriptor.title
    for feature in list(descriptor.features) + list(descriptor.deprecated):
        info = descriptor.info[feature]
        assert len(info.description) > 10, feature
        assert info.unit in UNITS, (feature, info.unit)
        assert all(len(code.strip()) == 4 for code in info.ibsi.split(",") if info.ibsi), (feature, info.ibsi)


def test_class_lists_match_pyradiomics():
    radiomics = pytest.importorskip("radiomics")
    assert set(registry.pyradiomics_classes()) == set(radiomics.getFeatureClasses())
    for name in registry.pyradiomics_classes():  # same features, same deprecated ones
        theirs = radiomics.getFeatureClasses()[name].getFeatureNames()
        descriptor = registry.get(name)
        assert set(theirs) == set(descriptor.features) | set(descriptor.deprecated), name
    assert registry.default_classes() == ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
    assert set(map_class_names()) == set(registry.pyradiomics_classes()) - {"shape", "shape2D"}
    assert registry.builtin_only_classes() == ("ibsi",)


def test_ibsi_codes_match_the_reference_mapping(shared_data):
    """Our codes vs ../shared/data/ibsi/pyradiomics_ibsi_mapping.csv (exact mappings, both ways)."""
    path = shared_data / "ibsi" / "pyradiomics_ibsi_mapping.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["mapping_type"] == "exact"]
    reference: dict[tuple, set] = {}
    for row in rows:
        reference.setdefault((row["pyradiomics_class"], row["pyradiomics_feature"]), set()).add(row["ibsi_code"])
    ours = {(d.name, feature): {c.strip() for c in info.ibsi.split(",") if c.strip()}
            for d in registry.all_classes() if d.pyradiomics for feature, info in d.info.items()}
    assert len(reference) > 100
    assert {key: codes for key, codes in reference.items() if ours.get(key) != codes} == {}
    assert {key: codes for key, codes in ours.items() if codes and key not in reference} == {}
