"""Zhao-lab features (Dercle signatures) on analytic shapes whose answers are known.

Expected values come from geometry, not from our code: Koenderink's shape index is 1 on a sphere
(k1 = k2 > 0), 0.5 on a cylinder's side (k2 = 0) and 0 at the waist of a hyperboloid of one sheet
(k1 = −k2); a 1-D LoG of an image that does not vary along that axis is exactly 0; a sigmoid fitted
across a Gaussian-blurred sphere edge sits at the sphere's radius and gets flatter with the blur.
"""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.special import erf

from ResponseSignatureLib import zhao_features as zhao
from ResponseSignatureLib.errors import LesionError


def physical_grid(shape, spacing):
    """(z, y, x) coordinates in mm of every voxel centre of a (k, j, i) array."""
    k, j, i = np.indices(shape).astype(float)
    return k * spacing[0], j * spacing[1], i * spacing[2]


def sphere_mask(shape, spacing, centre_mm, radius_mm):
    z, y, x = physical_grid(shape, spacing)
    return (x - centre_mm[2]) ** 2 + (y - centre_mm[1]) ** 2 + (z - centre_mm[0]) ** 2 <= radius_mm**2


@pytest.mark.parametrize("spacing, shape", [((1.0, 1.0, 1.0), (50, 50, 50)), ((2.5, 0.8, 0.8), (24, 75, 75))])
def test_sphere_is_all_cap(spacing, shape):
    mask = sphere_mask(shape, spacing, (30.0, 30.0, 30.0) if shape[0] == 24 else (25.0, 25.0, 25.0), 15.0)
    features = zhao.shape_index_features(mask, spacing)
    histogram = [features[f"zhao_shapeindex_SI{b}"] for b in range(1, 10)]
    assert sum(histogram) == pytest.approx(1.0, abs=1e-9)
    assert np.argmax(histogram) == 8  # the cap bin
    assert features["zhao_shapeindex_SI9"] > 0.85
    assert features["zhao_shapeindex_Mean"] > 0.9
    assert sum(histogram[:5]) < 0.03  # essentially no saddle, rut or cup


def test_cylinder_side_is_ridge():
    spacing = (1.0, 1.0, 1.0)
    z, y, x = physical_grid((30, 50, 50), spacing)
    mask = (x - 25) ** 2 + (y - 25) ** 2 <= 12.0**2  # spans the whole z extent: no end caps
    features = zhao.shape_index_features(mask, spacing)
    assert features["zhao_shapeindex_Mean"] == pytest.approx(0.5, abs=0.02)
    assert features["zhao_shapeindex_SI7"] > 0.95  # bin [1/3, 5/9) holds s = 0.5
    assert sum(features[f"zhao_shapeindex_SI{b}"] for b in range(1, 10)) == pytest.approx(1.0)


def test_hyperboloid_waist_is_saddle():
    spacing = (1.0, 1.0, 1.0)
    z, y, x = physical_grid((60, 60, 60), spacing)
    mask = (x - 30) ** 2 + (y - 30) ** 2 - (z - 30) ** 2 <= 10.0**2
    s, weight, index = zhao.shape_index_field(mask, spacing)
    waist = np.abs(index[:, 0] - 30) <= 3
    assert np.average(s[waist], weights=weight[waist]) == pytest.approx(0.0, abs=0.08)


def random_texture_along_x(shape, spacing, seed=1):
    """A smooth random texture that varies only along x, defined in mm (same field at any spacing)."""
    rng = np.random.default_rng(seed)
    wavelengths, phases, amplitudes = rng.uniform(3, 15, 40), rng.uniform(0, 2 * np.pi, 40), rng.normal(0, 20, 40)
    _, _, x = physical_grid(shape, spacing)
    return sum(a * np.sin(2 * np.pi * x / w + p) for a, w, p in zip(amplitudes, wavelengths, phases))


def centred_box(shape, spacing, half_mm=12.0):
    mask = np.zeros(shape, bool)
    centre = np.array(shape) // 2
    half = np.round(half_mm / np.array(spacing)).astype(int)
    mask[tuple(slice(c - h, c + h) for c, h in zip(centre, half))] = True
    return mask


def test_axis_log_sees_texture_only_along_its_axis():
    spacing, shape = (1.0, 1.0, 1.0), (40, 40, 40)
    image, mask = random_texture_along_x(shape, spacing), centred_box(shape, spacing)
    features = zhao.axis_log_features(image, mask, spacing, [2.0], ["x", "z"], 10.0)
    uniform_entropy = zhao.first_order(np.full(100, 42.0), 10.0)["Entropy"]
    assert uniform_entropy == 0.0
    assert features["zhao_logx-sigma-2-0-mm_Entropy"] > 3.0
    assert features["zhao_logz-sigma-2-0-mm_Entropy"] == pytest.approx(uniform_entropy, abs=1e-9)
    assert features["zhao_logz-sigma-2-0-mm_StandardDeviation"] < 1e-9


def test_axis_log_is_independent_of_voxel_size():
    results = []
    for spacing, shape in (((1.0, 1.0, 1.0), (40, 40, 40)), ((0.5, 0.5, 0.5), (80, 80, 80)), ((2.0, 0.8, 0.8), (20, 50, 50))):
        image, mask = random_texture_along_x(shape, spacing), centred_box(shape, spacing)
        results.append(zhao.axis_log_features(image, mask, spacing, [2.0], ["x"], 10.0))
    for name in ("zhao_logx-sigma-2-0-mm_Entropy", "zhao_logx-sigma-2-0-mm_StandardDeviation"):
        values = np.array([r[name] for r in results])
        assert values.max() / values.min() < 1.06, (name, values)


def test_second_derivative_kernel_is_exact_on_quadratics():
    for sigma, spacing in ((2.0, 1.0), (1.0, 2.5), (3.0, 0.7)):
        kernel = zhao.second_derivative_kernel(sigma, spacing)
        x = (np.arange(kernel.size) - kernel.size // 2) * spacing
        assert kernel.sum() == pytest.approx(0.0, abs=1e-12)
        assert np.sum(kernel * (3 * x**2 + 2 * x + 5)) == pytest.approx(6.0)  # d²/dx²(3x²+2x+5) = 6


def blurred_sphere(blur_mm, radius=15.0, shape=(60, 60, 60), spacing=(1.0, 1.0, 1.0)):
    """100 HU inside, 0 outside, edge blurred by a Gaussian of SD ``blur_mm`` (radial erf profile)."""
    z, y, x = physical_grid(shape, spacing)
    distance = np.sqrt((x - 30) ** 2 + (y - 30) ** 2 + (z - 30) ** 2)
    return 50.0 * (1 - erf((distance - radius) / (np.sqrt(2) * blur_mm))), distance <= radius


def test_sigmoid_slope_falls_with_blur_and_edge_sits_at_the_radius():
    spacing = np.array([1.0, 1.0, 1.0])
    slopes = []
    for blur in (0.5, 1.0, 2.0, 3.0):
        image, mask = blurred_sphere(blur)
        points, normals, fit = zhao.sigmoid_rays(image, mask, spacing, {**zhao.DEFAULTS, "sigmoidMaxRays": 400})
        edge = points * spacing + normals * fit["offset"][:, None]
        edge_radius = np.linalg.norm(edge - 30.0, axis=1)
        assert abs(edge_radius.mean() - 15.0) < 0.5 * spacing.min()
        assert fit["amplitude"].mean() == pytest.approx(-100.0, rel=0.05)  # outside − inside
        slopes.append(fit["slope"].mean())
    assert all(a > b for a, b in zip(slopes, slopes[1:])), slopes


def test_extract_from_simpleitk_images_and_errors():
    image_array, mask_array = blurred_sphere(1.0, radius=10.0, shape=(60, 60, 60))
    image = sitk.GetImageFromArray(image_array.astype(np.float32))
    image.SetSpacing((1.0, 1.0, 1.0))
    mask = sitk.GetImageFromArray(mask_array.astype(np.uint8))
    mask.CopyInformation(image)
    features = zhao.extract_zhao_features(image, mask, settings={"axisLoGSigma": [2.0], "sigmoidMaxRays": 200})
    assert features["zhao_shapeindex_Mean"] > 0.85
    assert {"zhao_logx-sigma-2-0-mm_Entropy", "zhao_logz-sigma-2-0-mm_Entropy", "zhao_sigmoid_SlopeMean"} <= set(features)
    assert all(np.isfinite(value) for value in features.values())
    empty = sitk.Image(mask)
    empty *= 0
    with pytest.raises(LesionError, match="liver_2"):
        zhao.extract_zhao_features(image, empty, lesion_id="liver_2")


def test_dercle_preset_extracts_the_four_signature_inputs_and_sigmoid():
    from ResponseSignatureLib.extraction import FeatureExtractor, load_params
    from ResponseSignatureLib.errors import InputError

    image_array, mask_array = blurred_sphere(1.0, radius=10.0, shape=(60, 60, 60))
    image = sitk.GetImageFromArray(image_array.astype(np.float32))
    mask = sitk.GetImageFromArray(mask_array.astype(np.uint8))
    mask.CopyInformation(image)
    features = FeatureExtractor("dercle2020_signature").extract(image, mask, lesion_id="liver_1")
    signature_inputs = {"zhao_shapeindex_SI4", "zhao_logz-sigma-2-0-mm_Entropy", "zhao_logx-sigma-2-0-mm_Entropy", "original_ngtdm_Contrast"}
    assert signature_inputs <= set(features)
    assert {name for name in features if name.startswith("zhao_sigmoid_")} >= {"zhao_sigmoid_SlopeMean", "zhao_sigmoid_FitR2Mean"}
    assert not any(name.startswith("original_") and name != "original_ngtdm_Contrast" for name in features)
    with pytest.raises(InputError, match="Bogus"):
        load_params({"featureClass": {"zhao": ["Bogus"]}})


def test_band_derivatives_are_numpys_gradient_bit_for_bit_including_the_faces():
    """The shape index takes derivatives at the band voxels only; they must be exactly the values
    np.gradient (and np.gradient of np.gradient) gives over the whole array, faces included."""
    rng = np.random.default_rng(7)
    field = rng.normal(size=(6, 9, 11))
    spacing = np.array([2.5, 0.8, 0.7])
    gradient = np.gradient(field, *spacing)
    hessian = [[np.gradient(gradient[a], spacing[b], axis=b) for b in range(3)] for a in range(3)]
    flat_index = np.arange(field.size)                                  # every voxel, faces and corners too
    g, h = zhao.band_derivatives(field, flat_index, spacing)
    for a in range(3):
        assert np.array_equal(g[:, a], gradient[a].ravel())
        for b in range(3):
            assert np.array_equal(h[:, a, b], (0.5 * (hessian[a][b] + hessian[b][a])).ravel())


@pytest.mark.parametrize("spread", [1.0, 1e7])                       # bincount path, np.unique path
def test_first_order_bins_count_as_numpys_unique(spread):
    values = np.random.default_rng(3).normal(scale=spread, size=5000)
    bins = np.floor(np.round(values / 25.0, 9))
    _, expected = np.unique(bins, return_counts=True)
    assert np.array_equal(zhao._bin_counts(bins), expected)
    p = expected / expected.sum()
    assert zhao.first_order(values, 25.0)["Entropy"] == pytest.approx(-np.sum(p * np.log2(p)), rel=1e-12)
