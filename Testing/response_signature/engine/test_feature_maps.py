"""Voxel-based feature maps of the built-in engine vs pyradiomics ``execute(..., voxelBased=True)``.

pyradiomics (installed as the reference only) runs inside the tests on the same input: small sub-ROIs
(one to three slices, a few hundred voxels at most) of the real cases in ../shared/data/pyradiomics,
cropped to the sub-ROI box + 15 mm so that both filter the same voxels (LoG included). Every map must
carry pyradiomics' name, grid (size, origin, spacing, direction, pixel type) and values: NaN where
pyradiomics has NaN, elsewhere a relative difference <= 1e-6 (relative to the larger of the value and
1e-7 of the map's largest magnitude: a value that is ~0 by cancellation, such as the skewness of a
symmetric kernel, is rounding noise of ~1e-14).
Also: a ``voxelSetting`` section leaves segment-based features unchanged (as in pyradiomics), the
``feature-maps`` command end to end, cancellation, and errors.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ResponseSignature"))

from ResponseSignatureLib import cli  # noqa: E402
from ResponseSignatureLib.engine import check_params, extract_features, preprocess  # noqa: E402
from ResponseSignatureLib.engine.feature_maps import (feature_maps, map_class_names,  # noqa: E402
                                                      voxel_settings)
from ResponseSignatureLib.errors import InputError, LesionError, OperationCancelled  # noqa: E402

radiomics = pytest.importorskip("radiomics", reason="pyradiomics is the reference for these tests")
from radiomics import featureextractor  # noqa: E402

radiomics.setVerbosity(50)  # pyradiomics logs the failures it turns into initValue (MCC) as errors
CLASSES = {c: None for c in map_class_names()}
TOL = 1e-6
#: sub-ROI of each case: half-size (k, j, i) of the box around the ROI centre kept (None: whole ROI)
SUB_ROI = {"brain1": (1, 3, 4), "breast1": None, "lung1": (1, 3, 4)}
CROP_MM = 15.0


def _sub_case(folder: Path, case: str):
    """(image, 0/1 mask) cropped to the sub-ROI box + 15 mm + 2 voxels: no larger than the crop the
    engine filters for kernel radius 1 (LoG margin 15 mm + 1 voxel around the map box), so both filter
    the same voxels."""
    image = sitk.ReadImage(str(folder / f"{case}_image.nrrd"))
    label = sitk.ReadImage(str(folder / f"{case}_label.nrrd"))
    roi = sitk.GetArrayFromImage(label) == 1
    if SUB_ROI[case] is not None:
        centre = np.argwhere(roi).mean(0).round().astype(int)
        keep = np.zeros_like(roi)
        keep[tuple(slice(max(c - h, 0), c + h + 1) for c, h in zip(centre, SUB_ROI[case]))] = True
        roi &= keep
    mask = sitk.GetImageFromArray(roi.astype(np.uint8))
    mask.CopyInformation(label)
    lo, hi = preprocess.roi_bbox(roi, case)
    margin = np.ceil(CROP_MM / np.array(image.GetSpacing()[::-1])).astype(int) + 2
    return preprocess.crop_image(image, lo - margin, hi + margin), preprocess.crop_image(mask, lo - margin, hi + margin)


@pytest.fixture(scope="module")
def cases(pyradiomics_data):
    return {case: _sub_case(pyradiomics_data, case) for case in SUB_ROI}


def pyradiomics_maps(image, mask, params, label=None) -> dict:
    p = {k: dict(v) if isinstance(v, dict) else v for k, v in params.items()}
    p["setting"] = dict(p.get("setting") or {}, additionalInfo=False)
    out = featureextractor.RadiomicsFeatureExtractor(p).execute(image, mask, label=label, voxelBased=True)
    return {k: v for k, v in out.items() if not k.startswith("diagnostics_")}


def assert_same_maps(ref: dict, ours: dict) -> int:
    """Same names, grids and values (see the module docstring); returns the number of maps."""
    assert set(ref) == set(ours), (sorted(set(ref) - set(ours))[:5], sorted(set(ours) - set(ref))[:5])
    bad = []
    for name, expected in ref.items():
        got = ours[name]
        assert got.GetSize() == expected.GetSize(), (name, got.GetSize(), expected.GetSize())
        assert np.allclose(got.GetOrigin(), expected.GetOrigin(), rtol=0, atol=1e-6), (name, got.GetOrigin(),
                                                                                       expected.GetOrigin())
        assert np.allclose(got.GetSpacing(), expected.GetSpacing(), rtol=1e-12, atol=0), name
        assert np.allclose(got.GetDirection(), expected.GetDirection(), rtol=0, atol=1e-12), name
        assert got.GetPixelID() == expected.GetPixelID() == sitk.sitkFloat64, name
        a, b = sitk.GetArrayFromImage(expected), sitk.GetArrayFromImage(got)
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            bad.append((name, "NaN at other voxels", int(np.isnan(a).sum()), int(np.isnan(b).sum())))
            continue
        finite = ~np.isnan(a)
        scale = 1e-7 * np.max(np.abs(a[finite]), initial=0.0)
        diff = np.abs(a[finite] - b[finite])
        allowed = TOL * np.maximum(np.abs(a[finite]), scale)
        if np.any(diff > np.maximum(allowed, 1e-300)):
            worst = int(np.argmax(diff - allowed))
            bad.append((name, int(np.sum(diff > allowed)), a[finite][worst], b[finite][worst]))
    assert not bad, bad[:10]
    return len(ref)


# ---------------------------------------------------------------------------------------------
# parity with pyradiomics
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(SUB_ROI))
@pytest.mark.parametrize("radius", [1, 2])
@pytest.mark.parametrize("masked", [True, False])
def test_maps_match_pyradiomics(cases, case, radius, masked):
    """All classes, Original + LoG (sigma 1.5 mm), both kernel radii, masked and unmasked kernels."""
    image, mask = cases[case]
    params = {"imageType": {"Original": {}, "LoG": {"sigma": [1.5]}}, "featureClass": CLASSES,
              "voxelSetting": {"kernelRadius": radius, "maskedKernel": masked, "initValue": -7.25}}
    ref = pyradiomics_maps(image, mask, params)
    ours = feature_maps(image, mask, params)
    assert assert_same_maps(ref, ours) == 2 * 93
    roi = sitk.GetArrayFromImage(mask)[_box(mask, radius)] > 0
    contrast = sitk.GetArrayFromImage(ours["original_glcm_Contrast"])
    assert np.all(contrast[~roi] == -7.25) and np.all(contrast[roi] != -7.25)  # initValue off the ROI only


def _box(mask: sitk.Image, radius: int) -> tuple:
    lo, hi = preprocess.roi_bbox(sitk.GetArrayViewFromImage(mask) > 0, "test")
    return tuple(slice(int(a) - radius, int(b) + radius + 1) for a, b in zip(lo, hi))


VARIANTS = {
    "wavelet": {"imageType": {"Wavelet": {}}, "featureClass": {"firstorder": None, "glcm": None, "glszm": None}},
    "force2D": {"setting": {"force2D": True}},
    "weighting_distances": {"setting": {"weightingNorm": "euclidean", "distances": [1, 2]}},
    "asymmetrical_gldm_a": {"setting": {"symmetricalGLCM": False, "gldm_a": 1}},
    "binCount_shift": {"setting": {"binCount": 12, "voxelArrayShift": 300}},
    "resampling": {"setting": {"resampledPixelSpacing": [1, 1, 2]}},
    "resegment_normalize": {"setting": {"normalize": True, "resegmentRange": [-1, 1.5], "resegmentMode": "sigma"}},
    "preCrop_radius3": {"setting": {"preCrop": True, "padDistance": 2}, "voxelSetting": {"kernelRadius": 3}},
    "pointwise_types": {"imageType": {"Square": {}, "Gradient": {}},
                        "featureClass": {"firstorder": None, "ngtdm": None}},
    "voxelBatch": {"voxelSetting": {"voxelBatch": 16}},
    # float32 images (LoG, Gradient), fine bins: firstorder bins float64 values, texture the image's type
    "float32_fine_bins": {"imageType": {"LoG": {"sigma": [1.5]}, "Gradient": {}}, "setting": {"binWidth": 0.05},
                          "featureClass": {"firstorder": ["Entropy", "Uniformity"],
                                           "ngtdm": ["Coarseness", "Contrast"]}},
    "named_features": {"featureClass": {"shape": None, "glcm": ["Contrast", "Dissimilarity", "MCC", "JointAverage"],
                                        "firstorder": ["StandardDeviation"], "gldm": ["DependencePercentage"]}},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_setting_variants_match_pyradiomics(cases, variant):
    """Settings and image types through the same voxel-based path (breast1, small and quick).

    voxelBatch: pyradiomics' per-batch outcomes (MCC left at initValue on batches where a kernel has a
    direction without pairs that another kernel has; JointAverage NaN there). named_features: shape is
    dropped, refused features (Dissimilarity, DependencePercentage) are initValue maps.
    """
    image, mask = cases["breast1"]
    extra = VARIANTS[variant]
    params = {"featureClass": extra.get("featureClass", CLASSES), "imageType": extra.get("imageType", {"Original": {}}),
              "setting": extra.get("setting", {}), "voxelSetting": {"initValue": 3.0, **extra.get("voxelSetting", {})}}
    ref = pyradiomics_maps(image, mask, params)
    ours = feature_maps(image, mask, params)
    assert assert_same_maps(ref, ours) > 0
    if variant == "named_features":
        assert np.all(sitk.GetArrayFromImage(ours["original_glcm_Dissimilarity"]) == 3.0)
        assert not any("shape" in name for name in ours)


def test_label_and_mcc_batches(cases):
    """A label other than 1, and batch-dependent MCC: the per-batch rule must matter here."""
    image, mask = cases["breast1"]
    labels = sitk.Cast(mask, sitk.sitkUInt8) * 4
    params = {"featureClass": {"glcm": ["MCC", "JointAverage", "Idmn"]},
              "voxelSetting": {"initValue": -1.0, "voxelBatch": 8}}
    ref = pyradiomics_maps(image, labels, params, label=4)
    ours = feature_maps(image, labels, params, label=4)
    assert_same_maps(ref, ours)
    roi = sitk.GetArrayFromImage(mask)[_box(mask, 1)] > 0
    mcc = sitk.GetArrayFromImage(ours["original_glcm_MCC"])[roi]
    assert 0 < np.sum(mcc == -1.0) < mcc.size  # some batches failed in pyradiomics, others did not


def test_single_slice_roi(cases):
    """Directions leaving the slice are empty in every kernel: pyradiomics deletes them (MCC computed)."""
    image, mask = cases["breast1"]
    roi = sitk.GetArrayFromImage(mask)
    middle = int(np.argwhere(roi).mean(0)[0].round())
    roi[np.arange(roi.shape[0]) != middle] = 0
    flat = sitk.GetImageFromArray(roi)
    flat.CopyInformation(mask)
    params = {"featureClass": {"glcm": ["MCC", "JointAverage", "Correlation"], "glrlm": ["RunPercentage"]},
              "voxelSetting": {"kernelRadius": 2, "voxelBatch": 30}}
    ours = feature_maps(image, flat, params)
    assert_same_maps(pyradiomics_maps(image, flat, params), ours)
    inside = sitk.GetArrayFromImage(flat)[_box(flat, 2)] > 0
    assert np.any(sitk.GetArrayFromImage(ours["original_glcm_MCC"])[inside] != 0)


def test_mcc_square_root_follows_the_batch_spectrum_type():
    """pyradiomics takes sqrt of numpy's eigenvalues: complex for the whole batch if one is complex (a
    tiny negative 2nd eigenvalue then adds ~0), else real (it is NaN and left out of the mean)."""
    from ResponseSignatureLib.engine.glcm import _mcc_values

    ev2 = np.array([[-1e-18 + 0j, 0.25 + 0j, 0.81 + 0j]])
    empty = np.array([[False, False, True]])
    assert _mcc_values(ev2, empty, complex_spectrum=False, n_levels=3)[0] == pytest.approx(0.5)
    assert _mcc_values(ev2, empty, complex_spectrum=True, n_levels=3)[0] == pytest.approx(0.25)
    assert _mcc_values(ev2, empty, complex_spectrum=True, n_levels=1)[0] == 1.0  # one gray level in the ROI


# ---------------------------------------------------------------------------------------------
# segment-based extraction ignores voxelSetting
# ---------------------------------------------------------------------------------------------
def test_voxel_setting_ignored_by_segment_extraction(cases):
    image, mask = cases["breast1"]
    params = {"featureClass": {"shape": None, "firstorder": None, "glcm": None},
              "voxelSetting": {"kernelRadius": 2, "maskedKernel": False, "initValue": 5, "voxelBatch": 10}}
    check_params(params)
    extractor = featureextractor.RadiomicsFeatureExtractor({**params, "setting": {"additionalInfo": False}})
    ref = extractor.execute(image, mask)
    ref = {k: float(v) for k, v in ref.items() if not k.startswith("diagnostics_")}
    ours = extract_features(image, mask, params)
    assert set(ref) == set(ours)
    for name, value in ref.items():
        assert ours[name] == pytest.approx(value, rel=TOL, abs=1e-12), name
    plain = {k: v for k, v in params.items() if k != "voxelSetting"}
    assert extract_features(image, mask, plain) == ours


# ---------------------------------------------------------------------------------------------
# progress, cancellation, errors
# ---------------------------------------------------------------------------------------------
def test_progress_and_cancellation(cases):
    image, mask = cases["breast1"]
    params = {"featureClass": {"glcm": None, "firstorder": None}}
    seen = []
    feature_maps(image, mask, params, progress=lambda fraction, message: seen.append(fraction))
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 3
    calls = []

    def cancel_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(OperationCancelled):
        feature_maps(image, mask, params, should_cancel=cancel_after_two)
    assert len(calls) == 3  # checked after every batch, stopped at once


def test_bad_inputs(cases):
    image, mask = cases["breast1"]
    with pytest.raises(InputError, match="kernelRadius"):
        feature_maps(image, mask, {"voxelSetting": {"kernelRadius": 0}})
    with pytest.raises(InputError, match="voxelBatch"):
        voxel_settings({"voxelSetting": {"voxelBatch": 0}})
    with pytest.raises(InputError, match="unknown voxelSetting"):
        voxel_settings({"voxelSetting": {"kernelRadious": 2}})
    with pytest.raises(InputError, match="ibsi"):
        feature_maps(image, mask, {"featureClass": {"ibsi": None}})
    with pytest.raises(LesionError, match="empty"):
        feature_maps(image, mask, None, label=2)
    assert voxel_settings({"setting": {"kernelRadius": 2}, "voxelSetting": {"kernelRadius": 3}})["kernelRadius"] == 3


# ---------------------------------------------------------------------------------------------
# the feature-maps command
# ---------------------------------------------------------------------------------------------
def test_cli_feature_maps_end_to_end(cases, tmp_path, capsys):
    image, mask = cases["breast1"]
    image_path, mask_path = tmp_path / "image.nrrd", tmp_path / "labels.nrrd"
    sitk.WriteImage(image, str(image_path))
    sitk.WriteImage(sitk.Cast(mask, sitk.sitkUInt8) * 2, str(mask_path))
    (tmp_path / "params.yaml").write_text(
        "imageType: {Original: {}}\nfeatureClass: {firstorder: [Mean, Entropy], glcm: [Contrast], shape: }\n"
        "voxelSetting: {kernelRadius: 2, initValue: -1}\n", encoding="utf-8")
    out = tmp_path / "maps"
    rc = cli.main(["feature-maps", "--image", str(image_path), "--mask", str(mask_path), "--label", "2",
                   "--params", str(tmp_path / "params.yaml"), "--out-dir", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    names = ["original_firstorder_Mean", "original_firstorder_Entropy", "original_glcm_Contrast"]
    assert sorted(p.name for p in out.glob("*.nrrd")) == sorted(f"{n}.nrrd" for n in names)
    expected = feature_maps(image, mask, {"featureClass": {"firstorder": ["Mean", "Entropy"], "glcm": ["Contrast"]},
                                          "voxelSetting": {"kernelRadius": 2, "initValue": -1}})
    for name in names:
        written = sitk.ReadImage(str(out / f"{name}.nrrd"))
        assert written.GetSize() == expected[name].GetSize()
        assert np.allclose(written.GetOrigin(), expected[name].GetOrigin())
        assert np.array_equal(sitk.GetArrayFromImage(written), sitk.GetArrayFromImage(expected[name]), equal_nan=True)
    provenance = json.loads((out / cli.FEATURE_MAPS_PROVENANCE).read_text(encoding="utf-8"))
    assert provenance["voxel_settings"]["kernelRadius"] == 2 and provenance["label"] == 2
    assert provenance["extraction_settings"]["voxelSetting"]["initValue"] == -1
    assert set(provenance["maps"]) == set(names) and provenance["versions"]["radiomics-response"]
    assert provenance["map_geometry"]["size"] == list(expected[names[0]].GetSize())
    assert "%" in captured.err  # the text progress bar


def test_cli_feature_maps_pyradiomics_engine(cases, tmp_path, capsys):
    """--engine pyradiomics writes pyradiomics' own maps: same files, values equal to the built-in ones."""
    image, mask = cases["lung1"]
    image_path, mask_path = tmp_path / "image.nrrd", tmp_path / "labels.nrrd"
    sitk.WriteImage(image, str(image_path))
    sitk.WriteImage(sitk.Cast(mask, sitk.sitkUInt8), str(mask_path))
    (tmp_path / "params.yaml").write_text(
        "imageType: {Original: {}}\nfeatureClass: {firstorder: [Mean, Entropy], glcm: [Contrast], gldm: }\n",
        encoding="utf-8")
    written = {}
    for engine in ("builtin", "pyradiomics"):
        out = tmp_path / engine
        rc = cli.main(["feature-maps", "--image", str(image_path), "--mask", str(mask_path), "--engine", engine,
                       "--params", str(tmp_path / "params.yaml"), "--out-dir", str(out)])
        assert rc == 0, capsys.readouterr().err
        written[engine] = {p.name: sitk.ReadImage(str(p)) for p in out.glob("*.nrrd")}
        provenance = json.loads((out / cli.FEATURE_MAPS_PROVENANCE).read_text(encoding="utf-8"))
        assert provenance["engine"] == engine
    assert written["builtin"].keys() == written["pyradiomics"].keys() and len(written["builtin"]) == 17
    for name, ours in written["builtin"].items():
        ref = written["pyradiomics"][name]
        assert ours.GetSize() == ref.GetSize() and np.allclose(ours.GetOrigin(), ref.GetOrigin())
        np.testing.assert_allclose(sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(ref), rtol=1e-6, atol=1e-9,
                                   err_msg=name)


def test_cli_feature_maps_errors(cases, tmp_path, capsys):
    image, mask = cases["breast1"]
    image_path, mask_path = tmp_path / "image.nrrd", tmp_path / "labels.nrrd"
    sitk.WriteImage(image, str(image_path))
    sitk.WriteImage(sitk.Cast(mask, sitk.sitkUInt8), str(mask_path))
    base = ["feature-maps", "--image", str(image_path), "--mask", str(mask_path), "--out-dir", str(tmp_path / "out")]
    assert cli.main(base + ["--label", "3"]) == 2
    assert "no segment with label 3" in capsys.readouterr().err
    assert cli.main(["feature-maps", "--image", str(tmp_path / "missing.nrrd"), "--mask", str(mask_path),
                     "--out-dir", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("voxelSetting: {kernelRadius: 0}\n", encoding="utf-8")
    assert cli.main(base + ["--params", str(tmp_path / "bad.yaml")]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
