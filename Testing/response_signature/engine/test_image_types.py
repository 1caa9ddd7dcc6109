"""Built-in engine vs pyradiomics for the image types beyond Original/LoG/Wavelet, on the real cases.

Square, SquareRoot, Logarithm, Exponential, Gradient, LBP2D, LBP3D and Wavelet with force2D, on
../shared/data/pyradiomics (brain1, breast1, lung1). pyradiomics runs inside the test on the same
input (mostly the whole scan, so that crop margins and the scaling maximum are tested for real); every
feature must carry the same name and agree to a relative difference <= 1e-6. No by-design difference
is left for these types: the engine filters exactly the image pyradiomics filters (whole scan,
preCrop box or resampled region), restricted to the ROI box + the filter's margin. Measured maximum
relative differences are ~1e-13 (summation order in texture features).

The LBP references need pyradiomics' optional dependencies: scikit-image (LBP2D) and trimesh (LBP3D);
those tests skip without them. SciPy >= 1.17 removed ``scipy.special.sph_harm``, which pyradiomics'
LBP3D imports; the ``legacy_sph_harm`` fixture supplies it for the test from its documented
replacement, ``sph_harm(m, n, theta, phi) == sph_harm_y(n, m, phi, theta)``, so that the real
pyradiomics code runs. The engine itself needs neither package.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ResponseSignature"))

from ResponseSignatureLib.engine import check_params, extract_features, filters, lbp, margins, preprocess  # noqa: E402
from ResponseSignatureLib.errors import InputError  # noqa: E402

radiomics = pytest.importorskip("radiomics", reason="pyradiomics is the reference for these tests")
from engine_reference import CASES, assert_parity, bbox_crop, pyradiomics_features  # noqa: E402

radiomics.setVerbosity(40)
TEXTURE = {"firstorder": None, "glcm": None, "glszm": None}
POINTWISE = {"Square": {}, "SquareRoot": {}, "Logarithm": {}, "Exponential": {}}


@pytest.fixture(scope="module")
def cases(pyradiomics_cases):
    return pyradiomics_cases


@pytest.fixture
def legacy_sph_harm(monkeypatch):
    """pyradiomics' LBP3D needs trimesh and ``scipy.special.sph_harm`` (gone in SciPy 1.17)."""
    pytest.importorskip("trimesh", reason="pyradiomics' LBP3D (the reference) needs trimesh")
    import scipy.special

    if not hasattr(scipy.special, "sph_harm"):
        monkeypatch.setattr(scipy.special, "sph_harm",
                            lambda m, n, theta, phi: scipy.special.sph_harm_y(n, m, phi, theta), raising=False)


@pytest.fixture
def skimage_lbp():
    """pyradiomics' LBP2D (the reference) calls scikit-image."""
    feature = pytest.importorskip("skimage.feature", reason="pyradiomics' LBP2D (the reference) needs scikit-image")
    return feature.local_binary_pattern


def check(image, mask, params, images: set) -> dict:
    """pyradiomics and the engine on the same input; the derived images must be exactly ``images``."""
    ref = pyradiomics_features(image, mask, params)
    assert {k.split("_")[0] for k in ref} == images
    return assert_parity(ref, extract_features(image, mask, params))


# ---------------------------------------------------------------------------------------------
# Square, SquareRoot, Logarithm, Exponential: scaled by max |x| of the image pyradiomics filters
# ---------------------------------------------------------------------------------------------
POINTWISE_NAMES = {"square", "squareroot", "logarithm", "exponential"}


@pytest.mark.parametrize("case", CASES)
def test_pointwise_whole_scan(cases, case):
    """Whole scan in: the scale is the whole scan's max |x|, found before the engine crops."""
    image, mask = cases[case]
    check(image, mask, {"imageType": POINTWISE, "featureClass": TEXTURE}, POINTWISE_NAMES)


POINTWISE_SETTINGS = {
    # whole normalised scan (max |x| after normalisation and outlier clipping)
    "normalize": ("brain1", {"normalize": True, "normalizeScale": 100, "removeOutliers": 3, "binWidth": 5}),
    # pyradiomics filters the ROI box + padDistance only
    "preCrop": ("lung1", {"preCrop": True, "padDistance": 3}),
    # the resampled region (ROI box + padDistance on the new grid), not the scan
    "resampled_bspline": ("lung1", {"resampledPixelSpacing": [1, 1, 1], "interpolator": "sitkBSpline",
                                    "binWidth": 10}),
    "resampled_linear_normalize": ("brain1", {"resampledPixelSpacing": [2, 2, 0], "interpolator": "sitkLinear",
                                              "normalize": True}),
}


@pytest.mark.parametrize("variant", sorted(POINTWISE_SETTINGS))
def test_pointwise_scale_source(cases, variant):
    case, setting = POINTWISE_SETTINGS[variant]
    image, mask = cases[case]
    params = {"imageType": POINTWISE, "featureClass": {"firstorder": None, "glcm": None}, "setting": setting}
    check(image, mask, params, POINTWISE_NAMES)


def test_pointwise_scale_with_wider_crop(cases):
    """Resampled, with Wavelet widening the engine's crop beyond pyradiomics' region: the scale still
    comes from pyradiomics' region (a sub-box of the crop), and the ROI is pyradiomics' although
    2.1 mm -> 2 mm puts grid points exactly halfway between source slices (nearest-neighbour ties)."""
    image, mask = cases["breast1"]
    params = {"imageType": {"Original": {}, "Square": {}, "Logarithm": {}, "Wavelet": {}, "Gradient": {}},
              "featureClass": {"firstorder": None},
              "setting": {"resampledPixelSpacing": [0.5, 0.5, 2], "interpolator": "sitkBSpline"}}
    settings, image_types, _ = preprocess.split_params(params)
    assert margins.filter_margin_voxels(image_types, settings, np.ones(3), source_margin=0).min() > 5
    ref = pyradiomics_features(image, mask, params)
    ours = extract_features(image, mask, params)
    pick = ("original", "square", "logarithm", "gradient")
    # (wavelet here is the by-design case of test_engine_parity: the engine's wider region)
    assert_parity({k: v for k, v in ref.items() if k.startswith(pick)},
                  {k: v for k, v in ours.items() if k.startswith(pick)})


# ---------------------------------------------------------------------------------------------
# Gradient and LBP2D
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_gradient_and_lbp2d_whole_scan(cases, case, skimage_lbp):
    image, mask = cases[case]
    params = {"imageType": {"Gradient": {}, "LBP2D": {"binWidth": 1}}, "featureClass": TEXTURE}
    check(image, mask, params, {"gradient", "lbp-2D"})


NEIGHBOURHOOD_OPTIONS = {
    "no_spacing_ror_dim1": {"imageType": {"Gradient": {"gradientUseSpacing": False},
                                          "LBP2D": {"lbp2DRadius": 2, "lbp2DSamples": 12, "lbp2DMethod": "ror",
                                                    "binWidth": 50}},
                            "setting": {"force2Ddimension": 1}},
    "var_dim2_normalize": {"imageType": {"LBP2D": {"lbp2DRadius": 1.5, "lbp2DMethod": "var", "binCount": 16}},
                           "setting": {"force2Ddimension": 2, "normalize": True}},
    "default_force2D": {"imageType": {"LBP2D": {"lbp2DMethod": "default", "binWidth": 8}, "Gradient": {}},
                        "setting": {"force2D": True}},
}


@pytest.mark.parametrize("variant", sorted(NEIGHBOURHOOD_OPTIONS))
@pytest.mark.parametrize("case", ["brain1", "breast1"])
def test_gradient_and_lbp2d_options(cases, case, variant, skimage_lbp):
    image, mask = cases[case]
    params = dict(NEIGHBOURHOOD_OPTIONS[variant], featureClass={"firstorder": None, "glszm": None})
    names = {"gradient" if t == "Gradient" else "lbp-2D" for t in params["imageType"]}
    check(image, mask, params, names)


@pytest.mark.parametrize("method", lbp.LBP2D_METHODS)
@pytest.mark.parametrize("samples,radius", [(8, 1), (12, 2.3), (9, 0.7)])
def test_lbp2d_equals_scikit_image(skimage_lbp, method, samples, radius):
    """Bit-identical to scikit-image on integer, float and two-valued slices, at an image offset."""
    rng = np.random.default_rng(samples)
    slices = [rng.integers(-5, 5, (17, 23)).astype(np.int16), rng.normal(0, 1, (17, 23)),
              rng.integers(0, 2, (17, 23)) * 0.1 + 0.3]
    args = {"lbp2DSamples": samples, "lbp2DRadius": radius, "lbp2DMethod": method}
    for arr in slices:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = skimage_lbp(arr, samples, radius, method).astype(arr.dtype)
        whole = lbp.lbp_2d(arr[None], (slice(0, 1), slice(0, 17), slice(0, 23)), np.zeros(3, int), args)[0]
        assert np.array_equal(whole, ref, equal_nan=True)
        # a window of the slice placed at its offset: same values on the inner part
        inner = lbp.lbp_2d(arr[None, 2:15, 3:20], (slice(0, 1), slice(4, 9), slice(4, 13)),
                           np.array([0, 2, 3]), args)[0]
        assert np.array_equal(inner, ref[6:11, 7:16], equal_nan=True)


# ---------------------------------------------------------------------------------------------
# LBP3D
# ---------------------------------------------------------------------------------------------
LBP3D_NAMES = {"lbp-3D-m1", "lbp-3D-m2", "lbp-3D-k"}


@pytest.mark.parametrize("case", CASES)
def test_lbp3d_whole_scan(cases, case, legacy_sph_harm):
    image, mask = cases[case]
    check(image, mask, {"imageType": {"LBP3D": {"binWidth": 1}}, "featureClass": TEXTURE}, LBP3D_NAMES)


def test_lbp3d_options_float_image(cases, legacy_sph_harm):
    """Three levels, radius 2, subdivision 2, normalised (float) image: the sign bits compare floats."""
    image, mask = bbox_crop(*cases["breast1"], 40)
    params = {"imageType": {"LBP3D": {"lbp3DLevels": 3, "lbp3DIcosphereRadius": 2, "lbp3DIcosphereSubdivision": 2,
                                      "binCount": 20}},
              "featureClass": {"firstorder": None, "glcm": None}, "setting": {"normalize": True}}
    check(image, mask, params, LBP3D_NAMES | {"lbp-3D-m3"})


def test_icosphere_equals_trimesh():
    trimesh = pytest.importorskip("trimesh")
    for subdivisions in (0, 1, 2):
        for radius in (1, 1.5):
            ref = np.asarray(trimesh.creation.icosphere(subdivisions, radius).vertices)
            assert np.array_equal(lbp.icosphere_vertices(subdivisions, radius), ref)


def test_spherical_harmonics_convention():
    """``spherical_harmonic(m, n, azimuth, polar)`` is the orthonormal Y_n^m (Condon-Shortley phase)."""
    azimuth, polar = np.array([0.3, 2.0]), np.array([0.7, 2.5])
    y11 = -0.5 * np.sqrt(3 / (2 * np.pi)) * np.sin(polar) * np.exp(1j * azimuth)
    assert np.allclose(lbp.spherical_harmonic(1, 1, azimuth, polar), y11, rtol=1e-14)
    assert np.allclose(lbp.spherical_harmonic(-1, 1, azimuth, polar), -np.conj(y11), rtol=1e-14)
    assert np.allclose(lbp.spherical_harmonic(0, 2, azimuth, polar),
                       np.sqrt(5 / (16 * np.pi)) * (3 * np.cos(polar) ** 2 - 1), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# preCrop / resampling with neighbourhood types: the engine reads pyradiomics' region only
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("setting", [{"preCrop": True},
                                     {"resampledPixelSpacing": [1, 1, 1], "interpolator": "sitkBSpline"}])
def test_neighbourhood_types_on_pyradiomics_region(cases, setting, legacy_sph_harm, skimage_lbp):
    """pyradiomics filters the ROI box + 5 voxels here: LBP3D's spline prefilter sees that border."""
    image, mask = cases["brain1"]
    params = {"imageType": {"Gradient": {}, "LBP2D": {"binWidth": 1}, "LBP3D": {"binWidth": 1}, "Exponential": {}},
              "featureClass": {"firstorder": None, "glcm": None}, "setting": setting}
    check(image, mask, params, {"gradient", "lbp-2D", "exponential"} | LBP3D_NAMES)


# ---------------------------------------------------------------------------------------------
# crop margins: each declared margin gives the same images as a larger crop, to the bit
# ---------------------------------------------------------------------------------------------
MARGIN_TYPES = {"Gradient": {}, "LBP2D": {"lbp2DRadius": 2.5, "force2Ddimension": 1}, "LBP3D": {},
                "Wavelet": {"force2D": True, "force2Ddimension": 2}}


@pytest.mark.parametrize("type_name", sorted(MARGIN_TYPES))
def test_declared_margin_is_enough(cases, type_name):
    image, mask = cases["lung1"]
    types = {type_name: MARGIN_TYPES[type_name]}
    settings, image_types, _ = preprocess.split_params({"imageType": types})
    margin = margins.filter_margin_voxels(image_types, settings, np.array(image.GetSpacing()[::-1]))
    if type_name == "Wavelet":
        assert margin[2] == 0
    images = []
    for extra in (margin, margin + 12):
        crop, crop_mask = bbox_crop(image, mask, extra)
        roi = sitk.GetArrayViewFromImage(crop_mask) == 1
        lo, hi = preprocess.roi_bbox(roi, "test")
        box = tuple(slice(int(a), int(b) + 1) for a, b in zip(lo, hi))
        images.append(dict(sum((job.run() for job in filters.jobs(crop, box, image_types, settings)), [])))
    assert images[0].keys() == images[1].keys()
    for name in images[0]:
        assert np.array_equal(images[0][name], images[1][name], equal_nan=True), name


# ---------------------------------------------------------------------------------------------
# Wavelet with force2D: pyradiomics' 2D in-plane transform and names
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_wavelet_force2d_whole_scan(cases, case):
    image, mask = cases[case]
    params = {"imageType": {"Wavelet": {}}, "featureClass": TEXTURE, "setting": {"force2D": True}}
    check(image, mask, params, {"wavelet-LL", "wavelet-LH", "wavelet-HL", "wavelet-HH"})


@pytest.mark.parametrize("dim", [1, 2])
def test_wavelet_force2d_options(cases, dim):
    image, mask = cases["breast1"]
    params = {"imageType": {"Wavelet": {"wavelet": "db2", "level": 2, "start_level": 1, "binWidth": 5}},
              "featureClass": {"firstorder": None, "glrlm": None},
              "setting": {"force2D": True, "force2Ddimension": dim}}
    bands = {"LL", "LH", "HL", "HH"}
    check(image, mask, params, {f"wavelet-{b}" for b in bands - {"LL"}} | {f"wavelet2-{b}" for b in bands})


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
def test_new_types_accepted_and_bad_settings_refused(cases):
    for name in ("Square", "SquareRoot", "Logarithm", "Exponential", "Gradient", "LBP2D", "LBP3D"):
        check_params({"imageType": {name: {}}})
    image, mask = bbox_crop(*cases["breast1"], 3)
    with pytest.raises(InputError, match="lbp2DMethod"):
        extract_features(image, mask, {"imageType": {"LBP2D": {"lbp2DMethod": "circular"}}})
    with pytest.raises(InputError, match="lbp3DLevels"):
        extract_features(image, mask, {"imageType": {"LBP3D": {"lbp3DLevels": 0}}})
