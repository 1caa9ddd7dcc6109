"""Image types (pyradiomics ``imageType``): Original, LoG, Wavelet, on the lesion crop.

- LoG: SimpleITK's ``LaplacianRecursiveGaussianImageFilter`` (``NormalizeAcrossScale`` on, sigma in mm),
  computed bit-identically on the ROI box only by :mod:`.recursive_gaussian`; skipped (as pyradiomics)
  when the image is smaller than 4 voxels along an axis or than ceil(sigma / spacing) + 1 voxels. Name ``log-sigma-<sigma>-mm-3D`` ('.' -> '-').
- Wavelet: one level (``level``, ``start_level``, ``wavelet`` settings) of the undecimated (stationary)
  wavelet transform ``pywt.swtn`` over axes (x, y, z); odd-sized axes are extended by one wrapped
  voxel first and cut back after. Sub-band names ``wavelet-XYZ`` with L (approximation) / H (detail)
  for x, y, z; level n > 1 gives ``waveletn-XYZ``. Only the ROI box + the filter support is
  transformed (``wavelet_region``): the same values, to the last bit, as transforming the whole crop.
Each generator returns jobs; a job returns [(name, numpy array (k, j, i) on the ROI box)]; ``jobs``
lists them for an ``imageType`` section (the engine runs them in a small thread pool).
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from .recursive_gaussian import laplacian_of_gaussian

#: LoG crop margin = max(LOG_MIN_MARGIN_MM, LOG_SIGMA_FACTOR * sigma) + 1 voxel (see ``log``)
LOG_MIN_MARGIN_MM = 15.0
LOG_SIGMA_FACTOR = 5.0


def original(image: sitk.Image, box: tuple, args: dict, values: np.ndarray) -> list:
    return [lambda: [("original", values[box])]]


def log_margin_voxels(sigma: float, spacing_kji: np.ndarray) -> np.ndarray:
    """Crop margin around the ROI box for one LoG sigma: max(15 mm, 5 sigma) + 1 voxel.

    ITK's recursive Gaussian sees a constant continuation beyond the crop; at distance d the effect
    on the LoG inside the ROI decays with d / sigma (measured on lung1/brain1, relative to the ROI's
    largest |LoG|: sigma 5 mm: 15 mm 7e-3, 20 mm 8e-4, 30 mm 7e-5; sigma 3 mm: 15 mm 7e-4).
    """
    mm = max(LOG_MIN_MARGIN_MM, LOG_SIGMA_FACTOR * float(sigma))
    return (np.ceil(mm / spacing_kji) + 1).astype(int)


def log(image: sitk.Image, box: tuple, args: dict, values: np.ndarray) -> list:
    """One job per sigma, each filtering the ROI box + its own margin (the crop is at least that large).

    The jobs read ``values`` (numpy, never the SimpleITK image: that must not be shared by threads).
    """
    size = np.array(image.GetSize())
    spacing = np.array(image.GetSpacing())
    if np.min(size) < 4:
        return []
    lo = np.array([s.start for s in box])
    hi = np.array([s.stop for s in box])
    jobs = []
    for sigma in args.get("sigma", []) or []:
        if sigma <= 0 or not np.all(size >= np.ceil(sigma / spacing) + 1):
            continue
        m = log_margin_voxels(sigma, spacing[::-1])
        c_lo = np.maximum(lo - m, 0)
        c_hi = np.minimum(hi + m, size[::-1])
        sub = values[tuple(slice(int(a), int(b)) for a, b in zip(c_lo, c_hi))]
        inner = tuple(slice(int(a - c), int(b - c)) for a, b, c in zip(lo, hi, c_lo))
        name = "log-sigma-%s-mm-3D" % str(sigma).replace(".", "-")
        jobs.append(_log_job(sub, spacing[::-1], float(sigma), inner, name))
    return jobs


def _log_job(sub: np.ndarray, spacing_kji: np.ndarray, sigma: float, inner: tuple, name: str):
    def run():
        return [(name, laplacian_of_gaussian(sub, spacing_kji, sigma, inner))]
    return run


def wavelet(image: sitk.Image, box: tuple, args: dict, values: np.ndarray) -> list:
    return [lambda: list(_wavelet_bands(values, box, args))]


def wavelet_region(shape: tuple, box: tuple, margin: int) -> tuple[tuple, tuple]:
    """(region of the crop to transform, ROI box inside that region), per axis.

    The undecimated transform of a voxel only reads voxels within its filter support, so the ROI box
    + ``margin`` gives the same values, to the last bit, as the whole crop. An axis where that region
    would leave the crop keeps its whole length: there the periodic extension reaches the ROI.
    """
    region, inner = [], []
    for size, sl in zip(shape, box):
        lo, hi = sl.start - margin, sl.stop + margin
        if lo < 0 or hi > size:
            lo, hi = 0, size
        region.append(slice(lo, hi))
        inner.append(slice(sl.start - lo, sl.stop - lo))
    return tuple(region), tuple(inner)


def _wavelet_bands(values: np.ndarray, box: tuple, args: dict):
    import pywt

    w = pywt.Wavelet(args.get("wavelet", "coif1"))
    level = int(args.get("level", 1))
    start = int(args.get("start_level", 0))
    # each one-level pass reads at most dec_len / 2 voxels to either side (+1: the odd-size wrap)
    region, box = wavelet_region(values.shape, box, (start + level) * w.dec_len + 1)
    data = values[region]
    shape = data.shape
    data = np.pad(data, [(0, s % 2) for s in shape], mode="wrap")
    cut = tuple(slice(None, -1 if s % 2 else None) for s in shape)
    axes = (2, 1, 0)
    for _ in range(start):
        data = pywt.swtn(data, w, level=1, start_level=0, axes=axes)[0]["aaa"].copy()
    for n in range(1, level + 1):
        dec = pywt.swtn(data, w, level=1, start_level=0, axes=axes)[0]
        data = dec["aaa"].copy()
        prefix = "wavelet" if n == 1 else "wavelet%d" % n
        for key, band in dec.items():
            if key == "aaa":
                continue
            yield "%s-%s" % (prefix, key.replace("a", "L").replace("d", "H")), band[cut][box]
    prefix = "wavelet" if level == 1 else "wavelet%d" % level
    yield "%s-LLL" % prefix, data[cut][box]


GENERATORS = {"Original": original, "LoG": log, "Wavelet": wavelet}


def jobs(crop: sitk.Image, box: tuple, image_types: dict, settings: dict) -> list:
    """[(job, settings of its image type)] in the order of ``image_types``.

    A job is a callable returning [(name, numpy array (k, j, i) on the ROI ``box`` of the crop)];
    the LoG and wavelet jobs spend their time in ITK / PyWavelets, which release the GIL.
    """
    values = sitk.GetArrayViewFromImage(crop)  # here, once: jobs in threads only read this array
    out = []
    for name, custom in image_types.items():
        if name not in GENERATORS:
            raise InputError(f"image type '{name}' is not supported by the built-in engine "
                             f"(supported: {', '.join(GENERATORS)})")
        args = dict(settings)
        args.update(custom or {})
        if name == "Wavelet" and args.get("force2D", False):
            raise InputError("force2D with the Wavelet image type is not supported by the built-in engine")
        out += [(job, args) for job in GENERATORS[name](crop, box, args, values)]
    return out
