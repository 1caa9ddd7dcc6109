"""engine.recursive_gaussian: ITK's LaplacianRecursiveGaussian computed on the ROI box only.

References: SimpleITK's whole filter (what pyradiomics calls) on the same array, and the analytic
scale-normalised LoG of a parabola (a constant, whatever the spacing).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ResponseSignature"))

from ResponseSignatureLib.engine.recursive_gaussian import laplacian_of_gaussian  # noqa: E402


def itk_log(values: np.ndarray, spacing_kji, sigma: float) -> np.ndarray:
    image = sitk.GetImageFromArray(values)
    image.SetSpacing([float(s) for s in spacing_kji[::-1]])
    filt = sitk.LaplacianRecursiveGaussianImageFilter()
    filt.SetNormalizeAcrossScale(True)
    filt.SetSigma(sigma)
    return sitk.GetArrayFromImage(filt.Execute(image))


CASES = [  # shape (k, j, i), spacing (k, j, i) mm, sigma mm, dtype
    ((27, 60, 70), (2.5, 0.78, 0.78), 5.0, np.int16),
    ((20, 30, 40), (1.0, 1.0, 1.0), 1.0, np.float32),
    ((12, 50, 45), (3.0, 0.7, 0.9), 2.0, np.int16),
    ((6, 7, 8), (1.0, 2.0, 3.0), 3.0, np.float64),
    ((4, 4, 4), (1.0, 1.0, 1.0), 0.5, np.int32),
]


@pytest.mark.parametrize("shape,spacing,sigma,dtype", CASES)
def test_bit_identical_to_simpleitk(shape, spacing, sigma, dtype):
    """Whole array and an off-centre box: the same float32 values as SimpleITK's whole filter."""
    rng = np.random.default_rng(len(shape) + int(sigma * 10))
    values = (rng.standard_normal(shape) * 300 + 40).astype(dtype)
    ref = itk_log(values, spacing, sigma)
    assert ref.dtype == np.float32
    for region in (tuple(slice(0, n) for n in shape), tuple(slice(n // 4, n - n // 3) for n in shape)):
        ours = laplacian_of_gaussian(values, spacing, sigma, region)
        assert ours.dtype == np.float32 and ours.shape == ref[region].shape
        np.testing.assert_array_equal(ours, ref[region])


def test_parabola_has_the_analytic_laplacian():
    """f = x^2 + 3 y^2 (mm): scale-normalised LoG = sigma^2 (2 + 6) away from the edges."""
    spacing = np.array([2.0, 0.8, 1.25])  # k, j, i
    k, j, i = np.meshgrid(*[np.arange(n) * s for n, s in zip((40, 60, 50), spacing)], indexing="ij")
    values = (i - 30.0) ** 2 + 3 * (j - 24.0) ** 2 + 0 * k
    sigma = 1.5
    box = (slice(15, 25), slice(25, 35), slice(20, 30))
    np.testing.assert_allclose(laplacian_of_gaussian(values, spacing, sigma, box), sigma ** 2 * 8.0, rtol=1e-4)


def test_fewer_than_four_voxels_is_refused():
    with pytest.raises(RuntimeError):
        laplacian_of_gaussian(np.zeros((3, 9, 9)), (1.0, 1.0, 1.0), 1.0, (slice(0, 3), slice(2, 5), slice(2, 5)))
