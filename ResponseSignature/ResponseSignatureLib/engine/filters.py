"""Image types (pyradiomics ``imageType``) on the lesion crop, with pyradiomics' names and values.

- LoG: SimpleITK's ``LaplacianRecursiveGaussianImageFilter`` (``NormalizeAcrossScale`` on, sigma in mm),
  on the ROI box + its margin (:mod:`.margins`, one run per sigma), computed bit-identically on the ROI
  box only by :mod:`.recursive_gaussian`; skipped (as pyradiomics) when that box is smaller than 4
  voxels along an axis or than ceil(sigma / spacing) + 1 voxels. Name ``log-sigma-<sigma>-mm-3D``
  ('.' -> '-').
- Wavelet: one level (``level``, ``start_level``, ``wavelet`` settings) of the undecimated (stationary)
  wavelet transform ``pywt.swtn`` over axes (x, y, z), or with ``force2D`` over the two axes other than
  ``force2Ddimension`` (as pyradiomics: 4 sub-bands per level, names ``wavelet-LH``...); odd-sized axes
  are extended by one wrapped voxel first and cut back after. Sub-band names ``wavelet-XYZ`` with L
  (approximation) / H (detail) per transformed axis (x first); level n > 1 gives ``waveletn-XYZ``.
  The ROI box + its margin (:mod:`.margins`) is transformed: inside the scan the same values, to the
  last bit, as transforming the whole crop.
- Square, SquareRoot, Logarithm, Exponential (names ``square``, ``squareroot``, ``logarithm``,
  ``exponential``): voxel-wise, rescaled by the largest |value| of the image pyradiomics filters
  (whole normalised scan; with preCrop or resampling pyradiomics' cropped image), which
  ``preprocess.prepare_region`` works out before cropping (``preprocess.Source``).
- Gradient (``gradient``): SimpleITK ``GradientMagnitudeImageFilter``, ``gradientUseSpacing``
  (default True); central differences, so 1 voxel of margin gives pyradiomics' values exactly.
- LBP2D (``lbp-2D``) and LBP3D (``lbp-3D-m1``.. ``lbp-3D-k``): see :mod:`.lbp` (no scikit-image or
  trimesh needed).
Each generator returns jobs; a job returns [(name, numpy array (k, j, i) on the ROI box)]; ``jobs``
lists them as ``FilterJob``s for an ``imageType`` section (the engine runs them in a background thread).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from . import lbp as _lbp
from .margins import log_margin_voxels, neighbourhood_margin_voxels, run_box, wavelet_axes, wavelet_margin_voxels
from .preprocess import Source, whole_crop_source
from .recursive_gaussian import laplacian_of_gaussian


def original(image: sitk.Image, box: tuple, args: dict, values: np.ndarray, source: Source) -> list:
    return [lambda: [("original", values[box])]]


def log(image: sitk.Image, box: tuple, args: dict, values: np.ndarray, source: Source) -> list:
    """One job per sigma, each filtering the ROI box + its own margin (``margins.log_margin_voxels``,
    clipped to the crop, which holds it). A sigma is skipped, as pyradiomics skips it, when that box is
    smaller than 4 voxels along an axis or than ceil(sigma / spacing) + 1 voxels.

    The jobs read ``values`` (numpy, never the SimpleITK image: that must not be shared by threads).
    """
    spacing_kji = np.array(image.GetSpacing()[::-1])
    jobs = []
    for sigma in args.get("sigma", []) or []:
        if sigma <= 0:
            continue
        region, inner = run_box(box, log_margin_voxels(sigma, spacing_kji), values.shape)
        size = np.array([r.stop - r.start for r in region])
        if np.min(size) < 4 or not np.all(size >= np.ceil(sigma / spacing_kji) + 1):
            continue
        name = "log-sigma-%s-mm-3D" % str(sigma).replace(".", "-")
        jobs.append(_log_job(values[region], spacing_kji, float(sigma), inner, name))
    return jobs


def _log_job(sub: np.ndarray, spacing_kji: np.ndarray, sigma: float, inner: tuple, name: str):
    def run():
        return [(name, laplacian_of_gaussian(sub, spacing_kji, sigma, inner))]
    return run


def wavelet(image: sitk.Image, box: tuple, args: dict, values: np.ndarray, source: Source) -> list:
    return [lambda: list(_wavelet_bands(values, box, args))]


def _wavelet_bands(values: np.ndarray, box: tuple, args: dict):
    import pywt

    w = pywt.Wavelet(args.get("wavelet", "coif1"))
    level = int(args.get("level", 1))
    start = int(args.get("start_level", 0))
    axes = wavelet_axes(args)
    region, box = run_box(box, wavelet_margin_voxels(args), values.shape)
    data = values[region]
    shape = data.shape
    data = np.pad(data, [(0, s % 2) for s in shape], mode="wrap")
    cut = tuple(slice(None, -1 if s % 2 else None) for s in shape)
    approx = "a" * len(axes)
    for _ in range(start):
        data = pywt.swtn(data, w, level=1, start_level=0, axes=axes)[0][approx].copy()
    for n in range(1, level + 1):
        dec = pywt.swtn(data, w, level=1, start_level=0, axes=axes)[0]
        data = dec[approx].copy()
        prefix = "wavelet" if n == 1 else "wavelet%d" % n
        for key, band in dec.items():
            if key == approx:
                continue
            yield "%s-%s" % (prefix, key.replace("a", "L").replace("d", "H")), band[cut][box]
    prefix = "wavelet" if level == 1 else "wavelet%d" % level
    yield "%s-%s" % (prefix, "L" * len(axes)), data[cut][box]


# ----------------------------------------------------------------------------------------------
# voxel-wise types: Square, SquareRoot, Logarithm, Exponential
# ----------------------------------------------------------------------------------------------
def square_values(x: np.ndarray, abs_max: float) -> np.ndarray:
    """(x / sqrt(M))^2, M = max |x| of the image pyradiomics filters."""
    return (1 / np.sqrt(abs_max) * x) ** 2


def squareroot_values(x: np.ndarray, abs_max: float) -> np.ndarray:
    """sign(x) sqrt(|x| M): square root rescaled to the original range, sign kept."""
    out = x.copy()
    out[x > 0] = np.sqrt(x[x > 0] * abs_max)
    out[x < 0] = -np.sqrt(-x[x < 0] * abs_max)
    return out


def logarithm_values(x: np.ndarray, abs_max: float) -> np.ndarray:
    """sign(x) log(|x| + 1) * M / log(M + 1): logarithm rescaled to the original range, sign kept.

    pyradiomics divides by the largest |log(|x| + 1)| over its image, which is log(M + 1) (log is
    increasing; the voxel with |x| = M gives exactly that number).
    """
    out = x.copy()
    out[x > 0] = np.log(x[x > 0] + 1)
    out[x < 0] = -np.log(-(x[x < 0] - 1))
    return out * (abs_max / np.log(abs_max + 1))


def exponential_values(x: np.ndarray, abs_max: float) -> np.ndarray:
    """exp(x log(M) / M): exponential rescaled so that M maps to M."""
    return np.exp(np.log(abs_max) / abs_max * x)


def _pointwise(name: str, transform):
    """Generator of a voxel-wise type: ``transform`` of the ROI box in float64, scaled by max |x|."""
    def generator(image: sitk.Image, box: tuple, args: dict, values: np.ndarray, source: Source) -> list:
        abs_max = np.float64(source.max_abs(values))

        def run():
            with np.errstate(all="ignore"):  # an all-zero image gives NaN, as in pyradiomics
                return [(name, transform(np.asarray(values[box], dtype=np.float64), abs_max))]
        return [run]
    generator.__doc__ = f"Image type {name!r}: see ``{transform.__name__}``."
    return generator


square = _pointwise("square", square_values)
squareroot = _pointwise("squareroot", squareroot_values)
logarithm = _pointwise("logarithm", logarithm_values)
exponential = _pointwise("exponential", exponential_values)


# ----------------------------------------------------------------------------------------------
# neighbourhood types: Gradient, LBP2D, LBP3D
# ----------------------------------------------------------------------------------------------
def gradient(image: sitk.Image, box: tuple, args: dict, values: np.ndarray, source: Source) -> list:
    """Gradient magnitude (SimpleITK), on the ROI box + 1 voxel within the image pyradiomics filters.

    The sub-image is cut here, in the calling thread (SimpleITK images are not shared across threads).
    """
    region, inner, _ = source.window(values.shape, box, neighbourhood_margin_voxels("Gradient", args))
    sub = image[region[2], region[1], region[0]]
    use_spacing = bool(args.get("gradientUseSpacing", True))

    def run():
        filt = sitk.GradientMagnitudeImageFilter()
        filt.SetUseImageSpacing(use_spacing)
        filt.SetNumberOfThreads(1)  # parallelism comes from running image types side by side
        return [("gradient", sitk.GetArrayFromImage(filt.Execute(sub))[inner])]
    return [run]


def lbp2d(image: sitk.Image, box: tuple, args: dict, values: np.ndarray, source: Source) -> list:
    """LBP per slice along force2Ddimension (see :func:`.lbp.lbp_2d`)."""
    region, inner, start = source.window(values.shape, box, _lbp.lbp2d_margin_voxels(args))
    return [lambda: [("lbp-2D", _lbp.lbp_2d(values[region], inner, start, args))]]


def lbp3d(image: sitk.Image, box: tuple, args: dict, values: np.ndarray, source: Source) -> list:
    """LBP on icosphere neighbourhoods: one image per level and the kurtosis (see :func:`.lbp.lbp_3d`)."""
    region, inner, start = source.window(values.shape, box, _lbp.lbp3d_margin_voxels(args))
    names = _lbp.lbp3d_names(args)
    return [lambda: list(zip(names, _lbp.lbp_3d(values[region], inner, start, args)))]


GENERATORS = {"Original": original, "LoG": log, "Wavelet": wavelet, "Square": square, "SquareRoot": squareroot,
              "Logarithm": logarithm, "Exponential": exponential, "Gradient": gradient, "LBP2D": lbp2d,
              "LBP3D": lbp3d}


class FilterJob(NamedTuple):
    """One filter run: ``run()`` returns [(name, numpy array (k, j, i) on the ROI box)]."""

    run: Callable[[], list]
    args: dict          # the settings of its image type
    image_type: str     # pyradiomics' image type name (Original, LoG, Wavelet...)


def jobs(crop: sitk.Image, box: tuple, image_types: dict, settings: dict, source: Source | None = None) -> list:
    """[FilterJob] in the order of ``image_types``.

    The filter jobs spend their time in numpy / SciPy / ITK / PyWavelets.
    ``source``: the image pyradiomics would filter, relative to the crop (None: the crop itself).
    """
    values = sitk.GetArrayViewFromImage(crop)  # here, once: jobs in threads only read this array
    source = source or whole_crop_source(crop)
    out = []
    for name, custom in image_types.items():
        if name not in GENERATORS:
            raise InputError(f"image type '{name}' is not supported by the built-in engine "
                             f"(supported: {', '.join(GENERATORS)})")
        args = dict(settings)
        args.update(custom or {})
        out += [FilterJob(job, args, name) for job in GENERATORS[name](crop, box, args, values, source)]
    return out
