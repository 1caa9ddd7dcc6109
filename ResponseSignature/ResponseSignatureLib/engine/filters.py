"""Image types (pyradiomics ``imageType``): Original, LoG, Wavelet, on the lesion crop.

- LoG: SimpleITK ``LaplacianRecursiveGaussianImageFilter`` with ``NormalizeAcrossScale`` on, sigma in
  mm, skipped (as pyradiomics) when the image is smaller than 4 voxels along an axis or than
  ceil(sigma / spacing) + 1 voxels. Name ``log-sigma-<sigma>-mm-3D`` ('.' -> '-').
- Wavelet: one level (``level``, ``start_level``, ``wavelet`` settings) of the undecimated (stationary)
  wavelet transform ``pywt.swtn`` over axes (x, y, z); odd-sized axes are extended by one wrapped
  voxel first and cut back after. Sub-band names ``wavelet-XYZ`` with L (approximation) / H (detail)
  for x, y, z; level n > 1 gives ``waveletn-XYZ``.
Each generator returns jobs; a job returns [(name, numpy array (k, j, i) on the ROI box)].
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..errors import InputError

#: LoG crop margin = max(LOG_MIN_MARGIN_MM, LOG_SIGMA_FACTOR * sigma) + 1 voxel (see ``log``)
LOG_MIN_MARGIN_MM = 15.0
LOG_SIGMA_FACTOR = 5.0


def original(image: sitk.Image, box: tuple, args: dict) -> list:
    return [lambda: [("original", sitk.GetArrayViewFromImage(image)[box])]]


def log_margin_voxels(sigma: float, spacing_kji: np.ndarray) -> np.ndarray:
    """Crop margin around the ROI box for one LoG sigma: max(15 mm, 5 sigma) + 1 voxel.

    ITK's recursive Gaussian sees a constant continuation beyond the crop; at distance d the effect
    on the LoG inside the ROI decays with d / sigma (measured on lung1/brain1, relative to the ROI's
    largest |LoG|: sigma 5 mm: 15 mm 7e-3, 20 mm 8e-4, 30 mm 7e-5; sigma 3 mm: 15 mm 7e-4).
    """
    mm = max(LOG_MIN_MARGIN_MM, LOG_SIGMA_FACTOR * float(sigma))
    return (np.ceil(mm / spacing_kji) + 1).astype(int)


def log(image: sitk.Image, box: tuple, args: dict) -> list:
    """One job per sigma, each filtering the ROI box + its own margin (the crop is at least that large)."""
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
        sub = image[int(c_lo[2]):int(c_hi[2]), int(c_lo[1]):int(c_hi[1]), int(c_lo[0]):int(c_hi[0])]
        inner = tuple(slice(int(a - c), int(b - c)) for a, b, c in zip(lo, hi, c_lo))
        name = "log-sigma-%s-mm-3D" % str(sigma).replace(".", "-")
        jobs.append(_log_job(sub, float(sigma), inner, name))
    return jobs


def _log_job(sub: sitk.Image, sigma: float, inner: tuple, name: str):
    def run():
        filt = sitk.LaplacianRecursiveGaussianImageFilter()
        filt.SetNormalizeAcrossScale(True)
        filt.SetSigma(sigma)
        filt.SetNumberOfThreads(1)  # parallelism comes from running sigmas side by side
        return [(name, sitk.GetArrayFromImage(filt.Execute(sub))[inner])]
    return run


def wavelet(image: sitk.Image, box: tuple, args: dict) -> list:
    return [lambda: list(_wavelet_bands(image, box, args))]


def _wavelet_bands(image: sitk.Image, box: tuple, args: dict):
    import pywt

    w = pywt.Wavelet(args.get("wavelet", "coif1"))
    level = int(args.get("level", 1))
    start = int(args.get("start_level", 0))
    data = sitk.GetArrayFromImage(image)
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


def images(crop: sitk.Image, box: tuple, image_types: dict, settings: dict, workers: int = 2):
    """All derived images on the ROI ``box`` of the crop, in the order of ``image_types``.

    Filters run in a small thread pool (ITK and PyWavelets release the GIL), ahead of the caller,
    which computes features of the images already done meanwhile. Yields (name, array, settings).
    """
    from concurrent.futures import ThreadPoolExecutor

    jobs = []
    for name, custom in image_types.items():
        if name not in GENERATORS:
            raise InputError(f"image type '{name}' is not supported by the built-in engine "
                             f"(supported: {', '.join(GENERATORS)})")
        args = dict(settings)
        args.update(custom or {})
        if name == "Wavelet" and args.get("force2D", False):
            raise InputError("force2D with the Wavelet image type is not supported by the built-in engine")
        jobs += [(job, args) for job in GENERATORS[name](crop, box, args)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [(pool.submit(job), args) for job, args in jobs]
        for fut, args in futures:
            for name, arr in fut.result():
                yield name, arr, args
