"""Built-in engine's shape2D class vs pyradiomics, on one-slice ROIs of ../shared/data/pyradiomics.

pyradiomics (the reference) runs inside the test on the same input; every shape2D feature must carry
the same name and agree to a relative difference <= 1e-6:
- the fullest axial slice (force2Ddimension 0) and sagittal slice (2) of brain1, breast1 and lung1,
  through the extractor, alone, with every other class, and after in-plane resampling;
- force2Ddimension 0, 1 and 2 through pyradiomics' ``RadiomicsShape2D`` class itself (its extractor
  never reaches the class for dimension 1, see ``shape2d.plane_decision``);
- which lesions get shape2D: every (slice orientation, force2Ddimension) pair and a multi-slice ROI
  give the same outcome as pyradiomics' extractor (same features, the same skip, or an error: pyradiomics
  ValueError, the engine LesionError).
Also pyradiomics' own stored baseline (baseline_shape2D.csv, made from single slices of the same labels).
Independent of pyradiomics: rectangles and square rings (closed forms, exact to rounding) and a
digitised disc (mesh surface within 1 % of pi R^2, perimeter 0-10 % above 2 pi R: the marching-squares
polygon cuts pixel corners at 45 degrees, so it is longer than the circle it approximates).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ResponseSignature"))

from ResponseSignatureLib import engine  # noqa: E402
from ResponseSignatureLib.engine import check_params, extract_features, shape2d  # noqa: E402
from ResponseSignatureLib.errors import InputError, LesionError  # noqa: E402

radiomics = pytest.importorskip("radiomics", reason="pyradiomics is the reference for these tests")
from radiomics import imageoperations  # noqa: E402
from engine_reference import CASES, assert_parity, bbox_crop, pyradiomics_features  # noqa: E402
from radiomics.shape2D import RadiomicsShape2D  # noqa: E402

radiomics.setVerbosity(40)
ALL_CLASSES = {c: None for c in ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")}
ALL_SHAPE2D = ["MeshSurface", "PixelSurface", "Perimeter", "PerimeterSurfaceRatio", "Sphericity",
               "SphericalDisproportion", "MaximumDiameter", "MajorAxisLength", "MinorAxisLength", "Elongation"]


@pytest.fixture(scope="module")
def cases(pyradiomics_cases):
    return pyradiomics_cases


def max_rel_diff(ref: dict, ours: dict) -> float:
    """Largest relative difference over the features of ``ref`` (asserts parity, see engine_reference)."""
    return max(assert_parity(ref, ours).values(), default=0.0)


def fullest_slice(mask: sitk.Image, axis: int) -> sitk.Image:
    """Label map keeping only the slice (along numpy ``axis``) with the most ROI voxels."""
    roi = sitk.GetArrayFromImage(mask) == 1
    index = int(np.argmax(roi.sum(axis=tuple(a for a in range(3) if a != axis))))
    keep = np.zeros(roi.shape, dtype=np.uint8)
    where = [slice(None)] * 3
    where[axis] = index
    keep[tuple(where)] = roi[tuple(where)]
    out = sitk.GetImageFromArray(keep)
    out.CopyInformation(mask)
    return out


def shape2d_params(axis: int, names=None, **settings) -> dict:
    return {"setting": dict(settings, force2D=True, force2Ddimension=axis), "featureClass": {"shape2D": names}}


# ---------------------------------------------------------------------------------------------
# parity with pyradiomics on real slices
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 2])
@pytest.mark.parametrize("case", CASES)
def test_every_feature_on_real_slices(cases, case, axis, capsys):
    """All ten features, SphericalDisproportion (deprecated) named, axial (0) and sagittal (2) slices."""
    image, mask = bbox_crop(cases[case][0], fullest_slice(cases[case][1], axis), 2)
    params = shape2d_params(axis, ALL_SHAPE2D)
    ref = pyradiomics_features(image, mask, params)
    assert len(ref) == 10
    worst = max_rel_diff(ref, extract_features(image, mask, params))
    with capsys.disabled():
        print(f"\n{case} force2Ddimension {axis}: shape2D max rel diff {worst:.1e}")


@pytest.mark.parametrize("case", CASES)
def test_defaults_with_every_class(cases, case):
    """shape2D: None next to all other classes: the nine non-deprecated features, textures in-plane."""
    image, mask = bbox_crop(cases[case][0], fullest_slice(cases[case][1], 0), 2)
    params = {"setting": {"force2D": True, "binWidth": 10}, "featureClass": dict(ALL_CLASSES, shape2D=None)}
    ref = pyradiomics_features(image, mask, params)
    ours = extract_features(image, mask, params)
    max_rel_diff(ref, ours)
    assert len([k for k in ours if "_shape2D_" in k]) == 9 and len(ours) == 107 + 9
    assert "original_shape2D_SphericalDisproportion" not in ours


def test_resampled_in_plane(cases):
    """Whole scan in for both: in-plane resampling to 1 mm (the one-slice axis keeps its spacing)."""
    image, mask = cases["brain1"][0], fullest_slice(cases["brain1"][1], 0)
    params = shape2d_params(0, None, resampledPixelSpacing=[1, 1, 0], interpolator="sitkLinear")
    ours = extract_features(image, mask, params)
    max_rel_diff(pyradiomics_features(image, mask, params), ours)
    assert float(ours["original_shape2D_PixelSurface"]).is_integer()  # N pixels of 1 mm x 1 mm


@pytest.mark.parametrize("case", CASES)
def test_pyradiomics_published_baseline(cases, pyradiomics_data, case):
    """pyradiomics' own stored shape2D baseline (its 2D test masks are single slices of these labels)."""
    path = pyradiomics_data / "baseline" / "baseline_shape2D.csv"
    if not path.is_file():
        pytest.skip(f"pyradiomics baseline not found at {path}")
    import csv

    with path.open(encoding="utf-8") as handle:
        rows = {row[0]: row[1:] for row in csv.reader(handle)}
    column = rows["featureName"].index(f"{case}_shape2D")
    box = [int(v) for v in rows["diagnostics_Mask-corrected_BoundingBox"][column].strip("()").split(",")]
    image, labels = cases[case]
    roi = sitk.GetArrayFromImage(labels) == 1
    one = np.zeros(roi.shape, dtype=np.uint8)
    one[box[2]] = roi[box[2]]  # the slice z = box[2] (box: x, y, z, size x, size y, size z)
    assert one.sum() == int(rows["diagnostics_Mask-original_VoxelNum"][column])
    mask = sitk.GetImageFromArray(one)
    mask.CopyInformation(labels)
    ours = extract_features(image, mask, shape2d_params(0))
    ref = {k: float(v[column]) for k, v in rows.items() if k.startswith("original_shape2D_")}
    max_rel_diff(ref, ours)


def _pyradiomics_class(image, mask, axis: int) -> dict:
    """pyradiomics' RadiomicsShape2D on the ROI box, as its extractor would call it if allowed."""
    box, _ = imageoperations.checkMask(image, mask)
    image_box, mask_box = imageoperations.cropToTumorMask(image, mask, box)
    features = RadiomicsShape2D(image_box, mask_box, force2D=True, force2Ddimension=axis)
    features.enableAllFeatures()
    features.enableFeatureByName("SphericalDisproportion")
    return {k: float(v) for k, v in features.execute().items()}


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("case", CASES)
def test_pyradiomics_class_every_axis(cases, case, axis):
    """Values for every force2Ddimension, coronal (1) included, against pyradiomics' class itself."""
    image, mask = bbox_crop(cases[case][0], fullest_slice(cases[case][1], axis), 0)
    roi = sitk.GetArrayFromImage(mask) == 1
    spacing_kji = np.array(image.GetSpacing()[::-1])
    ours = shape2d.compute(roi, spacing_kji, axis, ALL_SHAPE2D)
    max_rel_diff(_pyradiomics_class(image, mask, axis), ours)


def test_diagonal_pixels_holes_and_anisotropy():
    """Saddle squares (pixels touching at a corner), a hole and unequal pixel sides, vs pyradiomics."""
    roi = np.zeros((1, 12, 14), dtype=np.uint8)
    roi[0, 2:10, 2:11] = 1
    roi[0, 4:6, 5:8] = 0  # a hole
    roi[0, 1, 1] = roi[0, 0, 0] = 1  # a diagonal chain hanging off a corner
    roi[0, 10, 11] = roi[0, 11, 12] = 1
    roi[0, 7, 6] = 0
    roi[0, 8, 7] = 0  # diagonal background pixels inside
    image = sitk.GetImageFromArray(np.random.default_rng(3).integers(0, 100, roi.shape).astype(np.int16))
    image.SetSpacing((0.6, 1.7, 4.0))
    mask = sitk.GetImageFromArray(roi)
    mask.CopyInformation(image)
    params = shape2d_params(0, ALL_SHAPE2D)
    max_rel_diff(pyradiomics_features(image, mask, params), extract_features(image, mask, params))


# ---------------------------------------------------------------------------------------------
# which lesions get shape2D: pyradiomics' extractor rule, skips and errors
# ---------------------------------------------------------------------------------------------
def _outcome(run):
    """('error', None) if ``run()`` raises ValueError (LesionError is one), else ('ok', its features)."""
    try:
        return "ok", run()
    except ValueError as exc:
        return "error", exc


@pytest.mark.parametrize("dimension", [0, 1, 2])
@pytest.mark.parametrize("slice_axis", [0, 1, 2, None])
def test_same_lesions_get_shape2d(cases, slice_axis, dimension):
    """Axial/coronal/sagittal slice or the whole ROI (None) x force2Ddimension: pyradiomics' outcome."""
    image, mask = cases["breast1"]
    if slice_axis is not None:
        mask = fullest_slice(mask, slice_axis)
    image, mask = bbox_crop(image, mask, 1)
    params = {"setting": {"force2D": True, "force2Ddimension": dimension},
              "featureClass": {"shape2D": None, "firstorder": ["Mean"]}}
    ref_kind, ref = _outcome(lambda: pyradiomics_features(image, mask, params))
    our_kind, ours = _outcome(lambda: extract_features(image, mask, params, lesion_id="L1"))
    assert our_kind == ref_kind, (ref, ours)
    if ref_kind == "ok":
        max_rel_diff(ref, ours)
    else:
        assert "Size of the mask in dimension" in str(ref)  # pyradiomics' own refusal, not another error
        assert isinstance(ours, LesionError) and ours.lesion_id == "L1"
        assert "shape2D" in str(ours) and "one slice thick" in str(ours) and "force2Ddimension" in str(ours)
    # pyradiomics' rule as read in shape2d.plane_decision: computed, skipped, else refused
    computed, skipped = {(0, 0), (2, 2)}, {(1, 1), (0, 2), (2, 0)}
    assert ref_kind == ("ok" if (slice_axis, dimension) in computed | skipped else "error")
    if ref_kind == "ok":
        assert any("_shape2D_" in k for k in ours) == ((slice_axis, dimension) in computed)


def test_multi_slice_fails_before_filtering(cases):
    """A 3D ROI with shape2D and force2D: LesionError at once, even with filters asked for."""
    image, mask = cases["lung1"]
    params = {"setting": {"force2D": True}, "imageType": {"LoG": {"sigma": [1.0]}},
              "featureClass": {"shape2D": None, "firstorder": None}}
    with pytest.raises(ValueError):
        pyradiomics_features(*bbox_crop(image, mask, 3), params)
    with pytest.raises(LesionError, match="shape2D needs a segment one slice thick"):
        extract_features(image, mask, params)


def test_without_force2d_shape2d_is_dropped(cases):
    image, mask = bbox_crop(cases["lung1"][0], fullest_slice(cases["lung1"][1], 0), 2)
    params = {"featureClass": {"shape2D": None, "firstorder": ["Mean"]}}
    ours = extract_features(image, mask, params)
    assert ours.keys() == pyradiomics_features(image, mask, params).keys() == {"original_firstorder_Mean"}


def test_check_params():
    check_params(shape2d_params(2, ["Perimeter", "SphericalDisproportion"]))
    check_params({"featureClass": {"shape2D": ["NoSuchFeature"]}})  # dropped without force2D, as pyradiomics
    with pytest.raises(InputError, match="unknown shape2D feature 'NoSuchFeature'"):
        check_params(shape2d_params(0, ["NoSuchFeature"]))
    with pytest.raises(InputError, match="force2Ddimension"):
        check_params(shape2d_params(3))
    assert "shape2D" in engine.registry.names()


def test_no_feature_class_section_leaves_shape2d_out(cases):
    """By design: a parameter dict without featureClass gives the seven 3D classes; pyradiomics adds
    shape2D (and then refuses every ROI thicker than one slice when force2D is on)."""
    image, mask = bbox_crop(cases["breast1"][0], fullest_slice(cases["breast1"][1], 0), 2)
    params = {"setting": {"force2D": True, "binWidth": 10}}
    ref = pyradiomics_features(image, mask, params)
    ours = extract_features(image, mask, params)
    assert {k for k in ref if "_shape2D_" in k} and not {k for k in ours if "_shape2D_" in k}
    max_rel_diff({k: v for k, v in ref.items() if "_shape2D_" not in k}, ours)


def _image_order(names) -> list[str]:
    """Image names (the part before the first '_') in order of first appearance."""
    return list(dict.fromkeys(n.split("_")[0] for n in names))


def test_filter_start_order_keeps_pyradiomics_order(cases):
    """Wavelet is filtered before LoG (engine.START_FIRST), yet the images' features come back in
    pyradiomics' order and with the same values as each image type extracted alone."""
    image, mask = bbox_crop(cases["brain1"][0], fullest_slice(cases["brain1"][1], 0), 20)
    types = {"Original": {}, "LoG": {"sigma": [1.0, 2.0]}, "Wavelet": {}}
    params = {"setting": {"force2D": True}, "imageType": types,
              "featureClass": {"shape2D": None, "shape": ["Elongation"], "firstorder": ["Mean"]}}
    ours = extract_features(image, mask, params)
    ref = pyradiomics_features(image, mask, params)
    ref_names = [k for k in ref if not k.startswith("diagnostics_")]
    assert set(ours) == set(ref_names)
    assert _image_order(ours) == _image_order(ref_names) == ["original", "log-sigma-1-0-mm-3D", "log-sigma-2-0-mm-3D",
                                                            "wavelet-LH", "wavelet-HL", "wavelet-HH", "wavelet-LL"]
    alone = {}
    for name, custom in types.items():
        alone.update(extract_features(image, mask, dict(params, imageType={name: custom})))
    assert ours == alone and len([k for k in ours if "_shape2D_" in k]) == 9


# ---------------------------------------------------------------------------------------------
# analytic checks, independent of pyradiomics
# ---------------------------------------------------------------------------------------------
def _volume_with(roi: np.ndarray, spacing_xyz) -> tuple[sitk.Image, sitk.Image]:
    image = sitk.GetImageFromArray(np.full(roi.shape, 7, dtype=np.int16))
    image.SetSpacing(tuple(float(s) for s in spacing_xyz))
    mask = sitk.GetImageFromArray(roi.astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask


def _rectangle_expected(n: int, m: int, sr: float, sc: float) -> dict:
    """Closed forms for an n x m pixel rectangle (n rows of side sr, m columns of side sc).

    The mesh runs along the pixel borders with the four corner pixels cut at their edge midpoints:
    area n m - 1/2 pixel, perimeter 2 (m-1) sc + 2 (n-1) sr + 4 half pixel diagonals. Vertices are
    the border-edge midpoints; the farthest pairs join opposite sides. Pixel-centre variances
    s^2 (k^2 - 1) / 12 along each side.
    """
    area = (n * m - 0.5) * sr * sc
    perimeter = 2 * (m - 1) * sc + 2 * (n - 1) * sr + 2 * np.hypot(sr, sc)
    diameter = max(np.hypot(n * sr, (m - 1) * sc), np.hypot((n - 1) * sr, m * sc),
                   np.hypot((n - 0.5) * sr, (m - 0.5) * sc))
    variances = sorted([sr ** 2 * (n ** 2 - 1) / 12, sc ** 2 * (m ** 2 - 1) / 12])
    return {"MeshSurface": area, "PixelSurface": n * m * sr * sc, "Perimeter": perimeter,
            "PerimeterSurfaceRatio": perimeter / area, "Sphericity": 2 * np.sqrt(np.pi * area) / perimeter,
            "SphericalDisproportion": perimeter / (2 * np.sqrt(np.pi * area)), "MaximumDiameter": diameter,
            "MajorAxisLength": 4 * np.sqrt(variances[1]), "MinorAxisLength": 4 * np.sqrt(variances[0]),
            "Elongation": np.sqrt(variances[0] / variances[1])}


@pytest.mark.parametrize("n,m", [(7, 12), (2, 2), (9, 3)])
def test_rectangle_closed_forms_axial_and_sagittal(n, m):
    """Exact (1e-12) for rectangles; axial plane (spacing y, x) and sagittal plane (spacing z, y)."""
    sx, sy, sz = 0.7, 1.3, 3.0
    axial = np.zeros((3, n + 4, m + 4), dtype=bool)
    axial[1, 2:2 + n, 3:3 + m] = True
    sagittal = np.zeros((n + 4, m + 4, 3), dtype=bool)
    sagittal[2:2 + n, 1:1 + m, 1] = True
    for roi, axis, expected in ((axial, 0, _rectangle_expected(n, m, sy, sx)),
                                (sagittal, 2, _rectangle_expected(n, m, sz, sy))):
        ours = extract_features(*_volume_with(roi, (sx, sy, sz)), shape2d_params(axis, ALL_SHAPE2D))
        assert ours == pytest.approx({f"original_shape2D_{k}": v for k, v in expected.items()}, rel=1e-12)


def test_square_ring_hole_is_subtracted():
    """A square ring: the hole's contour runs the other way, so mesh surface == pixel surface exactly,
    and the perimeter is the outer plus the inner rectangle's."""
    s = 0.9
    roi = np.zeros((1, 16, 16), dtype=bool)
    roi[0, 2:14, 2:14] = True
    roi[0, 6:10, 6:10] = False
    ours = shape2d.compute(roi, (2.0, s, s), 0, ALL_SHAPE2D)
    outer, inner = _rectangle_expected(12, 12, s, s), _rectangle_expected(4, 4, s, s)
    assert ours["MeshSurface"] == pytest.approx((144 - 16) * s * s, rel=1e-12)
    assert ours["MeshSurface"] == pytest.approx(ours["PixelSurface"], rel=1e-12)
    assert ours["Perimeter"] == pytest.approx(outer["Perimeter"] + inner["Perimeter"], rel=1e-12)
    assert ours["MaximumDiameter"] == pytest.approx(outer["MaximumDiameter"], rel=1e-12)


@pytest.mark.parametrize("radius_mm,pixel_mm", [(20.0, 1.0), (20.0, 0.5), (15.0, 0.3)])
def test_digitised_disc(radius_mm, pixel_mm):
    """Disc of radius R sampled at pixel centres (centred off-grid): pixel surface exact; mesh surface
    within 1 % of pi R^2; perimeter 0-10 % longer than 2 pi R (45-degree corner cuts); maximum
    diameter within one pixel above 2 R; axis lengths within 1 % of 2 R; sphericity 0.9-1."""
    half = int(np.ceil(radius_mm / pixel_mm)) + 3
    centres = (np.arange(-half, half + 1) + 0.3) * pixel_mm  # disc centre off the pixel grid
    inside = centres[:, None] ** 2 + centres[None, :] ** 2 <= radius_mm ** 2
    ours = extract_features(*_volume_with(inside[None], (pixel_mm, pixel_mm, 5.0)), shape2d_params(0, ALL_SHAPE2D))
    ours = {k.replace("original_shape2D_", ""): v for k, v in ours.items()}
    assert ours["PixelSurface"] == pytest.approx(np.count_nonzero(inside) * pixel_mm ** 2, rel=1e-12)
    assert ours["MeshSurface"] == pytest.approx(np.pi * radius_mm ** 2, rel=0.01)
    assert 1.0 <= ours["Perimeter"] / (2 * np.pi * radius_mm) <= 1.10
    assert 0 <= ours["MaximumDiameter"] - 2 * radius_mm <= pixel_mm
    assert ours["MajorAxisLength"] == pytest.approx(2 * radius_mm, rel=0.01)
    assert ours["MinorAxisLength"] == pytest.approx(2 * radius_mm, rel=0.01)
    assert 0.9 < ours["Sphericity"] < 1.0
    assert ours["SphericalDisproportion"] == pytest.approx(1 / ours["Sphericity"], rel=1e-12)
