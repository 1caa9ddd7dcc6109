"""The crop rule: how far around the ROI box each filter run reads. One rule for both backends.

Both ``--engine builtin`` and ``--engine pyradiomics`` cut the scan down to the lesion before
filtering (DESIGN.md, Performance). They must cut the same voxels, or the same filter gives different
values near the crop border and features differ between the backends. So the margins live here, and:

- every filter run sees the ROI box + its own margin, clipped to the scan (or to the resampled
  region): ``filter_runs`` lists the runs of an ``imageType`` section with their margins. The
  built-in engine filters each run's box (``filters``); the pyradiomics backend hands pyradiomics
  one crop per run (``extraction``);
- the working crop of a lesion is the ROI box + the largest of those margins (``filter_margin_voxels``).

Margins, in voxels (k, j, i):

- Original, Square, SquareRoot, Logarithm, Exponential: 0 (voxel by voxel);
- LoG, per sigma: max(LOG_MIN_MARGIN_MM, LOG_SIGMA_FACTOR * sigma) + 1 voxel. ITK's recursive
  Gaussian sees a constant continuation beyond the crop; the effect inside the ROI decays with
  distance / sigma (measured on lung1/brain1, relative to the ROI's largest |LoG|: sigma 5 mm: 15 mm
  7e-3, 20 mm 8e-4, 30 mm 7e-5; sigma 3 mm: 15 mm 7e-4). Features amplify it where voxels cross bin
  edges (Testing/benchmarks/bench_extraction.py, dercle2020 preset, largest relative difference to
  pyradiomics on the whole scan over all LoG features): 5 sigma 0.25 (one GLSZM feature of a 60 mm
  lesion; lung1 0.069), 6 sigma 9.4e-4 (lung1 2.2e-4), 8 sigma 1.2e-6 at up to 1.5x the time;
- Wavelet: ``(start_level + level) * filter length + 1`` on the transformed axes (none across the
  slices with force2D). Each one-level pass of pyradiomics' undecimated transform reads less than one
  filter length to either side, so inside the scan the ROI's values are those of the whole scan to
  the last bit. At a scan border the transform wraps around its input: both backends then wrap
  around the same clipped box (the whole scan would wrap to its far side);
- Gradient: 1 (central differences); LBP2D, LBP3D: see :mod:`.lbp`;
- a class may read beyond the ROI too (``FeatureClass.margin_voxels``: the IBSI intensity peaks).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import lbp, registry

LOG_MIN_MARGIN_MM = 15.0
LOG_SIGMA_FACTOR = 6.0
#: image types that read neighbours only inside the image pyradiomics filters (see ``source_margin``)
NEIGHBOURHOOD_IMAGE_TYPES = ("Gradient", "LBP2D", "LBP3D")


class FilterRun(NamedTuple):
    """One filter run: the ``imageType`` entry it computes (LoG: one sigma) and its margin (k, j, i)."""

    image_type: str
    args: dict          # that image type's own settings (LoG: ``sigma`` holds the one sigma)
    margin: np.ndarray


def log_margin_voxels(sigma: float, spacing_kji: np.ndarray) -> np.ndarray:
    """Margin of the LoG run of one sigma (mm): max(15 mm, 6 sigma) + 1 voxel."""
    mm = max(LOG_MIN_MARGIN_MM, LOG_SIGMA_FACTOR * float(sigma))
    return (np.ceil(mm / np.asarray(spacing_kji, dtype=float)) + 1).astype(int)


def wavelet_axes(args: dict) -> tuple:
    """Array axes pyradiomics transforms, in its order: (2, 1, 0) = x, y, z; force2D drops one."""
    from ..errors import InputError

    axes = [2, 1, 0]
    if args.get("force2D", False):
        dim = int(args.get("force2Ddimension", 0))
        if dim not in axes:
            raise InputError(f"force2Ddimension must be 0, 1 or 2, got {dim}")
        axes.remove(dim)
    return tuple(axes)


def wavelet_margin_voxels(args: dict) -> np.ndarray:
    """Margin of the wavelet run: (start_level + level) filter lengths + 1 on the transformed axes."""
    import pywt

    length = pywt.Wavelet(args.get("wavelet", "coif1")).dec_len
    margin = np.zeros(3, dtype=int)
    margin[list(wavelet_axes(args))] = (int(args.get("start_level", 0)) + int(args.get("level", 1))) * length + 1
    return margin


def neighbourhood_margin_voxels(name: str, args: dict) -> np.ndarray | None:
    """Margin a neighbourhood image type reads: Gradient 1, LBP2D/LBP3D see :mod:`.lbp`; None for others."""
    if name == "Gradient":
        return np.ones(3, dtype=int)
    if name == "LBP2D":
        return lbp.lbp2d_margin_voxels(args)
    if name == "LBP3D":
        return lbp.lbp3d_margin_voxels(args)
    return None


def filter_runs(image_types: dict, settings: dict, spacing_kji: np.ndarray) -> list[FilterRun]:
    """The filter runs of an ``imageType`` section, in its order (LoG: one run per sigma > 0)."""
    runs = []
    for name, custom in image_types.items():
        args = dict(settings)
        args.update(custom or {})
        if name == "LoG":
            for sigma in args.get("sigma") or []:
                if float(sigma) > 0:
                    runs.append(FilterRun(name, dict(custom or {}, sigma=[sigma]),
                                          log_margin_voxels(float(sigma), spacing_kji)))
            continue
        if name == "Wavelet":
            margin = wavelet_margin_voxels(args)
        else:
            margin = neighbourhood_margin_voxels(name, args)
        runs.append(FilterRun(name, dict(custom or {}), np.zeros(3, dtype=int) if margin is None else margin))
    return runs


def filter_margin_voxels(image_types: dict, settings: dict, spacing_kji: np.ndarray,
                         classes: dict | None = None, source_margin: int | None = None) -> np.ndarray:
    """Per-axis margin (voxels) of a lesion's working crop: the largest margin of its filter runs and
    classes; 0 for the Original image only.

    ``source_margin``: Gradient, LBP2D, LBP3D read only the image pyradiomics filters, which reaches
    that far beyond the ROI box (padDistance with preCrop; 0 after resampling, where the resampled
    region already holds it; None, the default: the whole scan), so their margin is at most that.
    """
    vox = np.zeros(3, dtype=int)
    for run in filter_runs(image_types, settings, spacing_kji):
        margin = run.margin
        if source_margin is not None and run.image_type in NEIGHBOURHOOD_IMAGE_TYPES:
            margin = np.minimum(margin, int(source_margin))
        vox = np.maximum(vox, margin)
    for name in classes or ():
        descriptor = registry.find(name)
        if descriptor is not None and descriptor.margin_voxels is not None:
            vox = np.maximum(vox, descriptor.margin_voxels(spacing_kji))
    return vox


def run_box(box: tuple, margin: np.ndarray, shape: tuple) -> tuple[tuple, tuple]:
    """(the run's region: ``box`` + ``margin`` clipped to an array of ``shape``; ``box`` inside it)."""
    region, inner = [], []
    for sl, m, size in zip(box, margin, shape):
        start, stop = max(sl.start - int(m), 0), min(sl.stop + int(m), size)
        region.append(slice(start, stop))
        inner.append(slice(sl.start - start, sl.stop - start))
    return tuple(region), tuple(inner)
