"""Voxel-based feature maps: pyradiomics' ``execute(image, mask, voxelBased=True)`` in the built-in engine.

``feature_maps(image, mask, params, label)`` returns, for every enabled feature, a SimpleITK image
holding at each ROI voxel the feature of the kernel around that voxel, under pyradiomics' names
(``original_glcm_Contrast``, ``log-sigma-1-0-mm-3D_firstorder_Mean``...). Kernel settings are read
as pyradiomics reads them, from ``voxelSetting`` (overriding ``setting``): kernelRadius (1),
maskedKernel (True), initValue (0), voxelBatch (-1 = all voxels in one batch).

pyradiomics' semantics, reproduced (pyradiomics 3.x, ``featureextractor.execute`` and
``base._calculateVoxels`` / ``_initVoxelBasedCalculation``, C matrices with a kernel bounding box):
- preprocessing as segment-based extraction (label, normalisation, resampling, preCrop, mask checks,
  resegmentation) and the same image types (:mod:`.filters`); shape and shape2D are not computed
  voxel-based (dropped silently, as pyradiomics does);
- map grid: each (filtered) image cropped to the ROI bounding box + kernelRadius voxels per side,
  clipped to the image pyradiomics filters (the scan, the preCrop box or the resampled region):
  same size, origin, spacing and direction as pyradiomics' maps; pixel type float64; initValue at
  every voxel outside the ROI;
- discretisation once per image over the ROI (maskedKernel True) or over the whole map box (False),
  not per kernel; texture classes bin the image's own pixel type, firstorder its float64 values (as
  pyradiomics, which casts there). Ng is that of the whole ROI/box (GLCM Idmn and Idn use it);
- a kernel is the box of the voxel +- kernelRadius per axis (in-plane only with force2D), clipped to
  the map box; it holds the box's ROI voxels (maskedKernel True) or all its voxels (False), and
  texture neighbours (pairs, runs, zones, dependences, neighbourhoods) must lie inside that box;
- per kernel, the segment-based definitions of :mod:`.firstorder`, :mod:`.glcm`, :mod:`.glrlm`,
  :mod:`.glszm`, :mod:`.gldm` and :mod:`.ngtdm`; a GLCM or GLRLM direction without pairs or runs in
  a kernel is left out of that kernel's mean over directions.
pyradiomics quirks kept on purpose (so that maps compare voxel for voxel):
- ``voxelBatch`` groups the ROI voxels (in array order) as pyradiomics does, and a feature that
  raises for a batch keeps initValue on that whole batch. GLCM MCC raises (NaN matrix) when one kernel
  of the batch lacks pairs in a direction another kernel of the batch has; GLCM JointAverage (a plain
  mean over directions) is NaN for such a kernel;
- a feature pyradiomics refuses but that the parameters name explicitly (e.g. glcm Dissimilarity)
  gives a map of initValue.

Computation: all kernels of a batch at once (numpy over a (voxels, z, y, x) stack of kernel
windows, gray levels renumbered to those present in the batch); no loop over voxels in Python.
Progress and cancellation are checked once per batch.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import SimpleITK as sitk
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import InputError, LesionError
from ..progress import CancelCallback, ProgressCallback, check_cancel, report
from . import filters, firstorder, glcm, gldm, glrlm, glszm, ngtdm
from .common import EPS, offsets, plane_axis, select
from .preprocess import Source, check_roi, discretise, prepare_region, resegment, roi_bbox, split_params

__all__ = ["feature_maps", "voxel_settings", "MAP_CLASSES", "VOXEL_DEFAULTS"]

#: pyradiomics' voxel settings and their defaults
VOXEL_DEFAULTS = {"kernelRadius": 1, "maskedKernel": True, "initValue": 0.0, "voxelBatch": -1}
#: the classes pyradiomics computes voxel-based, with the engine modules that name their features
MAP_CLASSES = {"firstorder": firstorder, "glcm": glcm, "glrlm": glrlm, "glszm": glszm, "gldm": gldm,
               "ngtdm": ngtdm}
#: classes pyradiomics skips in voxel-based extraction (silently)
SKIPPED_CLASSES = ("shape", "shape2D")
#: kernels computed together (small batches of neighbouring voxels share few gray levels, which keeps
#: their matrices small; measured fastest on lung1/brain1); a batch whose GLCM stack (kernels x
#: levels^2 x directions) would exceed WORK_ELEMENTS floats is split
MAX_BATCH = 32
WORK_ELEMENTS = 2_000_000
#: seconds between two progress reports
REPORT_SECONDS = 0.2


# ----------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------
def feature_maps(image: sitk.Image, mask: sitk.Image, params: dict | None, label: int | None = None,
                 progress: ProgressCallback = None, should_cancel: CancelCallback = None) -> dict[str, sitk.Image]:
    """pyradiomics' voxel-based result for the ROI ``mask == label``: feature name -> float64 map.

    ``params``: pyradiomics parameter dict (sections setting, voxelSetting, imageType, featureClass);
    None = pyradiomics' defaults (Original image, all voxel-based classes). ``label`` None = the
    parameters' ``setting: label`` (default 1). ``progress(fraction, message)`` is called and
    ``should_cancel()`` checked (OperationCancelled) after every batch of kernels.
    Raises InputError for settings the engine cannot honour, LesionError for an unusable ROI.
    """
    settings, image_types, classes = split_params(params, label)
    voxel = voxel_settings(params)
    classes = map_classes(classes)
    lesion_id = f"label {settings['label']}"
    region = map_region(image, mask, settings, image_types, voxel["kernelRadius"], lesion_id)
    report(progress, 0.0, "Filtering images")
    todo = filters.jobs(region.crop, region.box, image_types, settings, region.source)
    roi_box = region.roi[region.box]
    maps: dict[str, sitk.Image] = {}
    for number, job in enumerate(todo):
        images = job.run()
        for part, (name, values) in enumerate(images):
            share = _progress_share(progress, (number + part / len(images)) / len(todo),
                                    1.0 / (len(todo) * len(images)), name)
            arrays = image_maps(np.asarray(values), roi_box, region.spacing, job.args, classes, voxel,
                                plane_axis(settings), share, should_cancel)
            maps.update({f"{name}_{key}": region.as_image(array) for key, array in arrays.items()})
    report(progress, 1.0, f"{len(maps)} feature maps ready")
    return maps


def _progress_share(progress: ProgressCallback, start: float, width: float, name: str):
    """A progress callback for one image: its own [0, 1] onto [start, start + width] of the whole,
    scaled by 0.99 (1.0 is reported once, when every map is ready)."""
    if progress is None:
        return None
    return lambda fraction, message: progress(0.99 * (start + width * fraction), f"{name} {message}")


# ----------------------------------------------------------------------------------------------
# settings
# ----------------------------------------------------------------------------------------------
def voxel_settings(params: dict | None) -> dict:
    """kernelRadius, maskedKernel, initValue, voxelBatch: pyradiomics' defaults, then ``setting``, then
    ``voxelSetting`` (pyradiomics merges both into its settings, voxelSetting last). InputError if invalid."""
    merged = dict(VOXEL_DEFAULTS)
    for section in ("setting", "voxelSetting"):
        merged.update({k: v for k, v in ((params or {}).get(section) or {}).items() if k in VOXEL_DEFAULTS})
    unknown = sorted(set((params or {}).get("voxelSetting") or {}) - set(VOXEL_DEFAULTS))
    if unknown:
        raise InputError(f"unknown voxelSetting(s) {unknown}; expected {', '.join(VOXEL_DEFAULTS)}")
    radius, batch = merged["kernelRadius"], merged["voxelBatch"]
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 1:
        raise InputError(f"kernelRadius must be a whole number >= 1, got {radius!r}")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch == 0:
        raise InputError(f"voxelBatch must be a whole number > 0 (or negative: all voxels at once), got {batch!r}")
    try:
        init = float(merged["initValue"])
    except (TypeError, ValueError):
        raise InputError(f"initValue must be a number, got {merged['initValue']!r}") from None
    return {"kernelRadius": int(radius), "maskedKernel": bool(merged["maskedKernel"]), "initValue": init,
            "voxelBatch": int(batch)}


def map_classes(classes: dict) -> dict:
    """The enabled classes pyradiomics computes voxel-based; shape/shape2D dropped, others refused."""
    out = {}
    for name, names in classes.items():
        if name in SKIPPED_CLASSES:
            continue
        if name not in MAP_CLASSES:
            raise InputError(f"feature class '{name}' is not available as voxel-based feature maps "
                             f"(available: {', '.join(MAP_CLASSES)})")
        out[name] = names
    return out


def chosen_features(cls: str, names) -> tuple[list[str], list[str]]:
    """(features to compute, features named but refused by pyradiomics: initValue maps)."""
    module = MAP_CLASSES[cls]
    chosen = select(module.FEATURES, module.DEPRECATED, names, cls)
    refused = [n for n in (names or []) if module.DEPRECATED.get(n) is False]
    return chosen, refused


# ----------------------------------------------------------------------------------------------
# region: the crop, the ROI on it and the map box
# ----------------------------------------------------------------------------------------------
@dataclass
class MapRegion:
    """The working crop, its ROI (after resegmentation) and the map box (slices of the crop)."""

    crop: sitk.Image
    roi: np.ndarray
    box: tuple
    source: Source

    @property
    def spacing(self) -> np.ndarray:
        return np.array(self.crop.GetSpacing()[::-1], dtype=float)

    def as_image(self, array: np.ndarray) -> sitk.Image:
        """A (k, j, i) array on the map box as a SimpleITK image placed where the box lies."""
        out = sitk.GetImageFromArray(array)
        start = [int(self.box[axis].start) for axis in (2, 1, 0)]
        out.SetOrigin(self.crop.TransformIndexToPhysicalPoint(start))
        out.SetSpacing(self.crop.GetSpacing())
        out.SetDirection(self.crop.GetDirection())
        return out


def map_region(image: sitk.Image, mask: sitk.Image, settings: dict, image_types: dict, radius: int,
               lesion_id: str) -> MapRegion:
    """pyradiomics' preprocessing (``preprocess.prepare_region``, with kernelRadius voxels more margin so
    that the map box and its filters fit the crop), then resegmentation and the mask checks again.

    The map box is the ROI box +- radius within the image pyradiomics filters.
    """
    region = prepare_region(image, mask, settings, image_types, lesion_id, extra_margin=int(radius))
    roi = region.mask
    if settings.get("resegmentRange") is not None:
        roi = resegment(sitk.GetArrayViewFromImage(region.image), roi, settings, lesion_id)
        _check_mask(roi, settings, lesion_id, "resegmentation left no voxel")
    return MapRegion(region.image, roi, _map_box(roi, radius, region.source, lesion_id), region.source)


def _check_mask(roi: np.ndarray, settings: dict, lesion_id: str, empty_message: str) -> None:
    """pyradiomics' checkMask on the ROI: not empty, enough dimensions and voxels."""
    if not roi.any():
        raise LesionError(lesion_id, empty_message)
    lo, hi = roi_bbox(roi, lesion_id)
    check_roi(lo, hi, int(np.count_nonzero(roi)), settings, lesion_id)


def _map_box(roi: np.ndarray, radius: int, source: Source, lesion_id: str) -> tuple:
    """ROI box +- radius, clipped to the crop and to the image pyradiomics filters (its crop's bounds)."""
    lo, hi = roi_bbox(roi, lesion_id)
    start = np.maximum(lo - radius, np.maximum(np.asarray(source.lo), 0))
    stop = np.minimum(hi + radius + 1, np.minimum(np.asarray(source.hi), roi.shape))
    return tuple(slice(int(a), int(b)) for a, b in zip(start, stop))


# ----------------------------------------------------------------------------------------------
# one image: discretisation, kernels, batches
# ----------------------------------------------------------------------------------------------
class Kernels:
    """The kernel windows of the ROI voxels of one map box.

    A window is the box of a ROI voxel +- radius (0 along the force2D axis), read from the map box
    padded with ``fill``: (voxels, z, y, x) stacks, one row per ROI voxel in array (C) order.
    """

    def __init__(self, roi: np.ndarray, radius: int, axis):
        self.half = np.full(3, int(radius))
        if axis is not None:
            self.half[axis] = 0
        self.size = tuple(int(v) for v in 2 * self.half + 1)
        self.centres = np.argwhere(roi)
        self.count = len(self.centres)

    def stack(self, array: np.ndarray, fill) -> np.ndarray:
        """Padded copy of ``array`` whose sliding windows are the kernels (see ``windows``)."""
        return np.pad(array, [(int(h), int(h)) for h in self.half], constant_values=fill)

    def windows(self, padded: np.ndarray, batch: slice) -> np.ndarray:
        """(B, z, y, x) windows of the voxels ``centres[batch]`` from a ``stack``-padded array."""
        view = np.lib.stride_tricks.sliding_window_view(padded, self.size)
        c = self.centres[batch]
        return view[c[:, 0], c[:, 1], c[:, 2]]


@dataclass
class ImageLevels:
    """One image's discretisation: texture gray levels and firstorder gray levels and values."""

    texture: np.ndarray   # int32 levels on the map box, 0 outside the kernels' voxels
    levels: np.ndarray    # gray levels present in the ROI / box (pyradiomics' grayLevels)
    fo_levels: np.ndarray  # firstorder levels (float64 binning), 0 outside
    fo_values: np.ndarray  # float64 values, NaN outside the kernels' voxels

    @property
    def ng(self) -> int:
        return int(self.levels.max())


def discretise_image(values: np.ndarray, kernel_voxels: np.ndarray, args: dict) -> ImageLevels:
    """Bin the kernels' voxels once: in the image's pixel type for texture, in float64 for firstorder."""
    texture = np.zeros(values.shape, dtype=np.int32)
    texture[kernel_voxels] = discretise(values[kernel_voxels], args)
    floats = values.astype(np.float64)
    fo_levels = np.zeros(values.shape, dtype=np.int32)
    fo_levels[kernel_voxels] = discretise(floats[kernel_voxels], args)
    floats[~kernel_voxels] = np.nan
    return ImageLevels(texture, np.unique(texture[kernel_voxels]), fo_levels, floats)


def image_maps(values: np.ndarray, roi: np.ndarray, spacing: np.ndarray, args: dict, classes: dict,
               voxel: dict, axis, progress: ProgressCallback = None,
               should_cancel: CancelCallback = None) -> dict[str, np.ndarray]:
    """Feature maps ``<class>_<feature>`` of one image on its map box (float64, initValue off the ROI)."""
    kernels = Kernels(roi, voxel["kernelRadius"], axis)
    kernel_voxels = roi if voxel["maskedKernel"] else np.ones(roi.shape, dtype=bool)
    lv = discretise_image(values, kernel_voxels, args)
    stacks = {"texture": kernels.stack(lv.texture, 0), "fo_levels": kernels.stack(lv.fo_levels, 0),
              "fo_values": kernels.stack(lv.fo_values, np.nan)}
    context = KernelContext(spacing=spacing, args=args, axis=axis, ng=lv.ng, n_levels=len(lv.levels))
    clock = _Throttle(progress)
    out: dict[str, np.ndarray] = {}
    for number, (cls, names) in enumerate(classes.items()):
        chosen, refused = chosen_features(cls, names)

        def tick(done: float, message: str, number=number) -> None:
            clock.report((number + done) / len(classes), message)

        values_of, extras = _class_values(cls, chosen, kernels, stacks, context, tick, should_cancel)
        failed = _pyradiomics_batches(cls, values_of, extras, kernels.count, voxel["voxelBatch"], context)
        for n in chosen + refused:
            out[f"{cls}_{n}"] = _as_map(values_of.get(n), failed.get(n), roi, voxel["initValue"])
    return out


def _class_values(cls: str, chosen: list[str], kernels: Kernels, stacks: dict, context: KernelContext,
                  tick: Callable, should_cancel: CancelCallback) -> tuple[dict, list]:
    """One class over every kernel, MAX_BATCH kernels at a time: (feature -> value per ROI voxel,
    per-batch extras); cancellation checked and progress ticked after each batch."""
    values_of = {n: np.empty(kernels.count) for n in chosen}
    extras: list[dict] = []
    for start in range(0, kernels.count, MAX_BATCH):
        batch = slice(start, start + MAX_BATCH)
        if cls == "firstorder":
            res, extra = firstorder_batch(kernels.windows(stacks["fo_values"], batch),
                                          kernels.windows(stacks["fo_levels"], batch), context, chosen)
        else:
            res, extra = BATCH_FUNCTIONS[cls](kernels.windows(stacks["texture"], batch), context, chosen)
        for n in chosen:
            values_of[n][batch] = res[n]
        extras.append(extra)
        check_cancel(should_cancel)
        done = min(start + MAX_BATCH, kernels.count)
        tick(done / kernels.count, f"{cls}: {done}/{kernels.count} voxels")
    return values_of, extras


class _Throttle:
    """Progress reports at most every REPORT_SECONDS (batches are small and many)."""

    def __init__(self, progress: ProgressCallback):
        import time

        self.progress, self.clock = progress, time.monotonic
        self.last = -REPORT_SECONDS

    def report(self, fraction: float, message: str) -> None:
        now = self.clock()
        if self.progress is not None and (now - self.last >= REPORT_SECONDS or fraction >= 1.0):
            self.last = now
            report(self.progress, fraction, message)


def _as_map(values: np.ndarray | None, failed: np.ndarray | None, roi: np.ndarray, init: float) -> np.ndarray:
    """float64 map on the box: ``values`` on the ROI voxels (C order), initValue elsewhere and where
    pyradiomics' computation failed (``failed``); all initValue for a refused feature (values None)."""
    out = np.full(roi.shape, init, dtype=np.float64)
    if values is not None:
        if failed is not None:
            values = np.where(failed, init, values)
        out[roi] = values
    return out


@dataclass
class KernelContext:
    """What a batch function needs besides its windows."""

    spacing: np.ndarray
    args: dict
    axis: object
    ng: int          # largest gray level of the ROI / box
    n_levels: int    # number of gray levels present in the ROI / box


# ----------------------------------------------------------------------------------------------
# helpers shared by the batch functions
# ----------------------------------------------------------------------------------------------
def compact_levels(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(windows with gray levels renumbered 1..G, 0 kept; the G levels present, ascending, float).

    Levels absent from every kernel of a batch add only zero rows to its matrices, which no feature
    sees (up to rounding); renumbering keeps the matrices small.
    """
    present = np.unique(windows)
    present = present[present > 0]
    lut = np.zeros(int(present[-1]) + 1, dtype=np.int32)
    lut[present] = np.arange(1, present.size + 1, dtype=np.int32)
    return lut[windows], present.astype(np.float64)


def shifted_pair(windows: np.ndarray, offset) -> tuple[np.ndarray, np.ndarray]:
    """Views (voxel v, voxel v + offset) over every pair inside the windows (axes 1..3)."""
    centre, neighbour = [slice(None)], [slice(None)]
    for size, o in zip(windows.shape[1:], offset):
        o = int(o)
        centre.append(slice(max(0, -o), max(0, size - max(0, o))))
        neighbour.append(slice(max(0, o), max(0, size + min(0, o))))
    return windows[tuple(centre)], windows[tuple(neighbour)]


class FlatWindows:
    """The windows zero-padded by ``pad`` and flattened: neighbours by flat steps, batch by block."""

    def __init__(self, windows: np.ndarray, pad: int):
        padded = np.pad(windows, [(0, 0)] + [(pad, pad)] * 3)
        self.shape = padded.shape
        self.flat = padded.ravel()
        self.block = int(np.prod(self.shape[1:]))
        self.index = np.flatnonzero(self.flat)   # kernel voxels
        self.level = self.flat[self.index]
        self.kernel = self.index // self.block    # kernel (row of the batch) of each voxel

    def step(self, offset) -> int:
        return (int(offset[0]) * self.shape[2] + int(offset[1])) * self.shape[3] + int(offset[2])


def counts(keys: np.ndarray, shape: tuple, weights=None) -> np.ndarray:
    """Histogram of flat indices ``keys`` reshaped to ``shape`` (float64)."""
    size = int(np.prod(shape))
    return np.bincount(keys, weights=weights, minlength=size).astype(np.float64).reshape(shape)


def angle_mean(per_angle: np.ndarray) -> np.ndarray:
    """Mean over directions (last axis) ignoring NaN (directions empty in a kernel); NaN if all are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(per_angle, axis=-1)


def _evaluate(features: dict[str, Callable], chosen: list[str], ctx, reduce=None) -> dict[str, np.ndarray]:
    """Each chosen feature on the batch context (``reduce``: per-direction values -> per kernel)."""
    out = {}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty slices: NaN, as pyradiomics
        for name in chosen:
            value = features[name](ctx)
            out[name] = np.real(reduce(value) if reduce is not None else value).astype(np.float64)
    return out


# ----------------------------------------------------------------------------------------------
# firstorder
# ----------------------------------------------------------------------------------------------
class FirstOrderBatch:
    """Kernel intensities (B, K) with NaN for voxels outside the kernel, sorted, with histograms."""

    def __init__(self, values: np.ndarray, levels: np.ndarray, voxel_volume: float, shift: float):
        b = values.shape[0]
        self.x = values.reshape(b, -1)
        self.n = np.sum(~np.isnan(self.x), axis=1)
        self.sorted = np.sort(self.x, axis=1)  # NaN last
        self.mean = np.nanmean(self.x, axis=1)
        self.dev = self.x - self.mean[:, None]
        compact, _ = compact_levels(levels.reshape(b, -1))
        inside = compact > 0
        rows = np.broadcast_to(np.arange(b)[:, None], compact.shape)[inside]
        hist = counts(rows * int(compact.max()) + compact[inside] - 1, (b, int(compact.max())))
        self.p = hist / self.n[:, None]
        self.voxel_volume, self.shift = voxel_volume, shift
        self._percentiles: dict = {}

    def percentile(self, q: float) -> np.ndarray:
        """Linear-interpolation percentile of each kernel (numpy's default method) over its voxels."""
        if q not in self._percentiles:
            pos = (self.n - 1) * (q / 100.0)
            below = np.floor(pos).astype(np.int64)
            above = np.minimum(below + 1, self.n - 1)
            t = pos - below
            rows = np.arange(len(self.n))
            a, b = self.sorted[rows, below], self.sorted[rows, above]
            diff = b - a
            self._percentiles[q] = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
        return self._percentiles[q]

    def moment(self, k: int) -> np.ndarray:
        return np.nanmean(self.dev ** k, axis=1)

    def energy(self) -> np.ndarray:
        return np.nansum((self.x + self.shift) ** 2, axis=1)


def _fo_robust_mad(c: FirstOrderBatch) -> np.ndarray:
    """Mean absolute deviation of the voxels within [P10, P90] of each kernel."""
    lo, hi = c.percentile(10)[:, None], c.percentile(90)[:, None]
    keep = (c.x >= lo) & (c.x <= hi)
    sub = np.where(keep, c.x, np.nan)
    return np.nanmean(np.abs(sub - np.nanmean(sub, axis=1, keepdims=True)), axis=1)


def _fo_standardised_moment(k: int):
    """Skewness (k 3) or kurtosis (k 4): m_k / m2^(k/2); 0 for a flat kernel (m2 = 0)."""
    def feature(c: FirstOrderBatch) -> np.ndarray:
        m2, mk = c.moment(2), c.moment(k)
        return np.where(m2 == 0, 0.0, mk / np.where(m2 == 0, 1.0, m2) ** (k / 2.0))
    return feature


FIRSTORDER = {
    "Energy": lambda c: c.energy(),
    "TotalEnergy": lambda c: c.energy() * c.voxel_volume,
    "Entropy": lambda c: -np.sum(c.p * np.log2(c.p + EPS), axis=1),
    "Minimum": lambda c: np.nanmin(c.x, axis=1),
    "10Percentile": lambda c: c.percentile(10),
    "90Percentile": lambda c: c.percentile(90),
    "Maximum": lambda c: np.nanmax(c.x, axis=1),
    "Mean": lambda c: c.mean,
    "Median": lambda c: c.percentile(50),
    "InterquartileRange": lambda c: c.percentile(75) - c.percentile(25),
    "Range": lambda c: np.nanmax(c.x, axis=1) - np.nanmin(c.x, axis=1),
    "MeanAbsoluteDeviation": lambda c: np.nanmean(np.abs(c.dev), axis=1),
    "RobustMeanAbsoluteDeviation": _fo_robust_mad,
    "RootMeanSquared": lambda c: np.sqrt(c.energy() / c.n),
    "StandardDeviation": lambda c: np.sqrt(c.moment(2)),
    "Skewness": _fo_standardised_moment(3),
    "Kurtosis": _fo_standardised_moment(4),
    "Variance": lambda c: c.moment(2),
    "Uniformity": lambda c: np.sum(c.p ** 2, axis=1),
}


def firstorder_batch(values: np.ndarray, levels: np.ndarray, context: KernelContext, chosen: list[str]):
    """First-order features of a batch of kernels (values NaN and levels 0 outside each kernel)."""
    ctx = FirstOrderBatch(values, levels, float(np.prod(context.spacing)),
                          float(context.args.get("voxelArrayShift", 0) or 0))
    return _evaluate(FIRSTORDER, chosen, ctx), {}


# ----------------------------------------------------------------------------------------------
# GLCM
# ----------------------------------------------------------------------------------------------
def glcm_counts(windows: np.ndarray, g: int, angles: np.ndarray) -> np.ndarray:
    """Co-occurrence counts (B, G, G, A) of level pairs (v, v + a) inside each window."""
    b = windows.shape[0]
    out = np.empty((b, g, g, len(angles)))
    rows = np.arange(b).reshape(b, 1, 1, 1)
    for a, offset in enumerate(angles):
        centre, neighbour = shifted_pair(windows, offset)
        valid = (centre > 0) & (neighbour > 0)
        kernel = np.broadcast_to(rows, centre.shape)[valid]
        out[..., a] = counts((kernel * g + centre[valid] - 1) * g + neighbour[valid] - 1, (b, g, g))
    return out


def grouped(p: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values k of ``keys`` (G, G), p summed over the cells of each k: (B, nk, A))."""
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")
    values, starts = np.unique(flat[order], return_index=True)
    stacked = p.reshape(p.shape[0], -1, p.shape[3])[:, order]
    return values, np.add.reduceat(stacked, starts, axis=1)


class GLCMBatch:
    """Normalised GLCMs (B, G, G, A) of a batch of kernels, NaN in directions without pairs."""

    def __init__(self, raw: np.ndarray, levels: np.ndarray, ng: int):
        total = raw.sum((1, 2))
        self.empty = total == 0
        self.p = raw / np.where(self.empty, np.nan, total)[:, None, None, :]
        self.ng = ng
        self.g = levels
        self.gi, self.gj = levels[None, :, None, None], levels[None, None, :, None]
        self.px, self.py = self.p.sum(2), self.p.sum(1)                      # (B, G, A)
        # means as sums over the whole matrix, not over the marginals: with an asymmetrical GLCM a
        # direction whose pairs all start at one level must give that level to the last bit (then
        # sigma_x is 0 and Correlation is 1), as pyradiomics' sums do
        self.ux = np.sum(self.gi * self.p, (1, 2), keepdims=True)            # (B, 1, 1, A)
        self.uy = np.sum(self.gj * self.p, (1, 2), keepdims=True)
        self.k_sum, self.p_sum = grouped(self.p, levels[:, None] + levels[None, :])
        self.k_diff, self.p_diff = grouped(self.p, np.abs(levels[:, None] - levels[None, :]))
        self.hxy = -np.sum(self.p * np.log2(self.p + EPS), (1, 2))
        self.spread = self.spread2 = None  # i + j - ux - uy and its square, made on first use


def _glcm_correlation(c: GLCMBatch) -> np.ndarray:
    sx = np.sqrt(np.sum(c.p * (c.gi - c.ux) ** 2, (1, 2)))
    sy = np.sqrt(np.sum(c.p * (c.gj - c.uy) ** 2, (1, 2)))
    cov = np.sum(c.p * (c.gi - c.ux) * (c.gj - c.uy), (1, 2))
    return np.where(sx * sy == 0, 1.0, cov / (sx * sy + EPS))


def _glcm_imc1(c: GLCMBatch) -> np.ndarray:
    hx = -np.sum(c.px * np.log2(c.px + EPS), 1)
    hy = -np.sum(c.py * np.log2(c.py + EPS), 1)
    hxy1 = -np.sum(c.p * np.log2(c.px[:, :, None, :] * c.py[:, None, :, :] + EPS), (1, 2))
    div = np.fmax(hx, hy)
    return np.where(div == 0, 0.0, (c.hxy - hxy1) / np.where(div == 0, 1.0, div))


def _glcm_imc2(c: GLCMBatch) -> np.ndarray:
    pxy = c.px[:, :, None, :] * c.py[:, None, :, :]
    hxy2 = -np.sum(pxy * np.log2(pxy + EPS), (1, 2))
    return np.where(hxy2 == c.hxy, 0.0, (1 - np.exp(-2 * (hxy2 - c.hxy))) ** 0.5)


def _glcm_cluster(power: int):
    """sum p (i + j - ux - uy)^power (powers by multiplication: numpy's pow is slow for 3 and 4)."""
    def feature(c: GLCMBatch) -> np.ndarray:
        if c.spread is None:
            c.spread = c.gi + c.gj - c.ux - c.uy
            c.spread2 = c.spread * c.spread
        term = {2: c.spread2, 3: c.spread2 * c.spread, 4: c.spread2 * c.spread2}[power]
        return np.sum(c.p * term, (1, 2))
    return feature


def _glcm_diff(weight: Callable):
    """sum_k p_{x-y}(k) * weight(k, Ng) per direction."""
    return lambda c: np.sum(c.p_diff * weight(c.k_diff, c.ng)[None, :, None], 1)


def _glcm_diff_variance(c: GLCMBatch) -> np.ndarray:
    k = c.k_diff[None, :, None]
    avg = np.sum(k * c.p_diff, 1, keepdims=True)
    return np.sum(c.p_diff * (k - avg) ** 2, 1)


def _glcm_inverse_variance(c: GLCMBatch) -> np.ndarray:
    k = np.where(c.k_diff == 0, np.inf, c.k_diff)  # k = 0 left out
    return np.sum(c.p_diff / (k ** 2)[None, :, None], 1)


def _glcm_mcc(c: GLCMBatch) -> tuple[np.ndarray, np.ndarray]:
    """Per kernel and direction (B, A): the second largest eigenvalue of Q (complex, not yet
    square-rooted) and whether that direction's spectrum holds a complex eigenvalue.

    Q_ij = sum_k p_ik p_jk / (px_i py_k + eps). A batch with a single gray level gives 0 (the zero
    rows pyradiomics keeps for the ROI's other levels give zero eigenvalues).
    """
    p = np.nan_to_num(c.p).transpose(0, 3, 1, 2)                      # (B, A, i, k)
    if p.shape[-1] < 2:
        return np.zeros(p.shape[:2], dtype=np.complex128), np.zeros(p.shape[:2], dtype=bool)
    px = np.nan_to_num(c.px).transpose(0, 2, 1)[:, :, :, None]         # (B, A, i, 1)
    py = np.nan_to_num(c.py).transpose(0, 2, 1)[:, :, None, :]         # (B, A, 1, k)
    q = np.matmul(p / (px * py + EPS), p.transpose(0, 1, 3, 2))
    ev = np.linalg.eigvals(q)
    ev.sort(axis=-1)
    return ev[..., -2].astype(np.complex128), np.any(np.imag(ev) != 0, axis=-1)


GLCM = {
    "Autocorrelation": lambda c: np.sum(c.p * c.gi * c.gj, (1, 2)),
    "JointAverage": lambda c: c.ux[:, 0, 0, :],
    "ClusterProminence": _glcm_cluster(4),
    "ClusterShade": _glcm_cluster(3),
    "ClusterTendency": _glcm_cluster(2),
    "Contrast": lambda c: np.sum(c.p * (c.gi - c.gj) ** 2, (1, 2)),
    "Correlation": _glcm_correlation,
    "DifferenceAverage": _glcm_diff(lambda k, ng: k),
    "DifferenceEntropy": lambda c: -np.sum(c.p_diff * np.log2(c.p_diff + EPS), 1),
    "DifferenceVariance": _glcm_diff_variance,
    "JointEnergy": lambda c: np.sum(c.p ** 2, (1, 2)),
    "JointEntropy": lambda c: c.hxy,
    "Imc1": _glcm_imc1,
    "Imc2": _glcm_imc2,
    "Idm": _glcm_diff(lambda k, ng: 1 / (1 + k ** 2)),
    "Idmn": _glcm_diff(lambda k, ng: 1 / (1 + k ** 2 / ng ** 2)),
    "Id": _glcm_diff(lambda k, ng: 1 / (1 + k)),
    "Idn": _glcm_diff(lambda k, ng: 1 / (1 + k / ng)),
    "InverseVariance": _glcm_inverse_variance,
    "MaximumProbability": lambda c: np.max(c.p, (1, 2)),
    "SumAverage": lambda c: np.sum(c.k_sum[None, :, None] * c.p_sum, 1),
    "SumEntropy": lambda c: -np.sum(c.p_sum * np.log2(c.p_sum + EPS), 1),
    "SumSquares": lambda c: np.sum(c.p * (c.gi - c.ux) ** 2, (1, 2)),
}


def glcm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    """GLCM features of a batch of kernels; extras: empty directions, MCC eigenvalues (for
    pyradiomics' per-batch rules, applied in ``_pyradiomics_batches``)."""
    args = context.args
    angles = offsets(args.get("distances") or [1], bidirectional=False, plane_axis=context.axis)
    compact, levels = compact_levels(windows)
    if len(windows) > 1 and len(windows) * len(levels) ** 2 * len(angles) > WORK_ELEMENTS:
        half = len(windows) // 2  # many gray levels: halve the batch to bound the matrices' memory
        return _joined(glcm_batch(windows[:half], context, chosen), glcm_batch(windows[half:], context, chosen))
    raw = glcm_counts(compact, len(levels), angles)
    if args.get("symmetricalGLCM", True):
        raw = raw + raw.transpose(0, 2, 1, 3)
    norm = args.get("weightingNorm")
    if norm is not None:
        weights = glcm.direction_weights(angles, context.spacing, norm)
        raw = np.sum(raw * weights[None, None, None, :], 3, keepdims=True)
    with np.errstate(all="ignore"):
        ctx = GLCMBatch(raw, levels, context.ng)
    plain = [n for n in chosen if n != "MCC"]
    out = _evaluate(GLCM, plain, ctx, reduce=angle_mean)
    extra = {"empty": ctx.empty}
    if "MCC" in chosen:
        with np.errstate(all="ignore"):
            extra["ev2"], extra["complex"] = _glcm_mcc(ctx)
        out["MCC"] = np.zeros(windows.shape[0])  # set per pyradiomics batch in _pyradiomics_batches
    return out, extra


def _joined(first: tuple[dict, dict], second: tuple[dict, dict]) -> tuple[dict, dict]:
    """(features, extras) of two consecutive parts of a batch, as one."""
    return tuple({key: np.concatenate([a[key], b[key]]) for key in a} for a, b in zip(first, second))


# ----------------------------------------------------------------------------------------------
# GLRLM
# ----------------------------------------------------------------------------------------------
def glrlm_counts(windows: np.ndarray, g: int, angles: np.ndarray) -> np.ndarray:
    """Run-length counts (B, G, Nr, A): runs of equal levels along each direction inside each window.

    A direction along which no line of a window holds two kernel voxels counts nothing there
    (pyradiomics drops it for a kernel, as it does for a thin ROI).
    """
    b = windows.shape[0]
    nr = max(windows.shape[1:])
    fw = FlatWindows(windows, nr)
    out = np.zeros((b, g, nr, len(angles)))
    for a, offset in enumerate(angles):
        step = fw.step(offset)
        start = fw.flat[fw.index - step] != fw.level
        first, level = fw.index[start], fw.level[start]
        length = np.ones(first.size, dtype=np.int64)
        running = np.ones(first.size, dtype=bool)
        for t in range(1, nr):
            running &= fw.flat[first + t * step] == level
            length += running
        kernel = first // fw.block
        out[..., a] = counts((kernel * g + level - 1) * nr + length - 1, (b, g, nr))
        out[~_has_line_pair(fw, step, nr, b), :, :, a] = 0
    return out


def _has_line_pair(fw: FlatWindows, step: int, nr: int, b: int) -> np.ndarray:
    """Per window: does some line along ``step`` hold two kernel voxels?"""
    found = np.zeros(b, dtype=bool)
    for t in range(1, nr):
        found[fw.kernel[fw.flat[fw.index + t * step] > 0]] = True
    return found


def _run_weights(angles: np.ndarray, spacing: np.ndarray, norm: str) -> np.ndarray:
    """GLRLM direction weights: offset length in mm (infinity/euclidean/manhattan norm), else 1."""
    lengths = np.abs(angles) * spacing[None, :]
    if norm == "infinity":
        return lengths.max(1)
    if norm == "euclidean":
        return np.sqrt(np.sum(lengths ** 2, 1))
    if norm == "manhattan":
        return lengths.sum(1)
    return np.ones(len(angles))


class RunBatch:
    """Run-length matrices (B, G, Nr, A), NaN run counts in directions without runs."""

    def __init__(self, p: np.ndarray, levels: np.ndarray):
        nr = p.sum((1, 2))
        self.nr = np.where(nr == 0, np.nan, nr)          # (B, A)
        self.p = p
        self.pr, self.pg = p.sum(1), p.sum(2)             # (B, Nr, A), (B, G, A)
        self.i = levels[None, :, None]
        self.j = np.arange(1, p.shape[2] + 1, dtype=np.float64)[None, :, None]


def _rl_joint(fn: Callable):
    return lambda c: np.sum(fn(c.p, c.i[..., None] ** 2, c.j[:, None] ** 2), (1, 2)) / c.nr


def _marginal_variance(marginal: str, vector: str, total: str):
    """Variance of ``vector`` (gray levels or lengths) under a marginal, normalised by ``total``
    (run counts per direction for GLRLM, zone counts for GLSZM/GLDM)."""
    def feature(c) -> np.ndarray:
        pm = getattr(c, marginal) / np.expand_dims(getattr(c, total), 1)
        v = getattr(c, vector)
        u = np.sum(pm * v, 1, keepdims=True)
        return np.sum(pm * (v - u) ** 2, 1)
    return feature


def _matrix_entropy(total: str):
    """Entropy of the normalised matrix (``total`` as in ``_marginal_variance``)."""
    def feature(c) -> np.ndarray:
        p = c.p / np.expand_dims(getattr(c, total), (1, 2))
        return -np.sum(p * np.log2(p + EPS), (1, 2))
    return feature


GLRLM = {
    "ShortRunEmphasis": lambda c: np.sum(c.pr / c.j ** 2, 1) / c.nr,
    "LongRunEmphasis": lambda c: np.sum(c.pr * c.j ** 2, 1) / c.nr,
    "GrayLevelNonUniformity": lambda c: np.sum(c.pg ** 2, 1) / c.nr,
    "GrayLevelNonUniformityNormalized": lambda c: np.sum(c.pg ** 2, 1) / c.nr ** 2,
    "RunLengthNonUniformity": lambda c: np.sum(c.pr ** 2, 1) / c.nr,
    "RunLengthNonUniformityNormalized": lambda c: np.sum(c.pr ** 2, 1) / c.nr ** 2,
    "RunPercentage": lambda c: c.nr / np.sum(c.pr * c.j, 1),
    "GrayLevelVariance": _marginal_variance("pg", "i", "nr"),
    "RunVariance": _marginal_variance("pr", "j", "nr"),
    "RunEntropy": _matrix_entropy("nr"),
    "LowGrayLevelRunEmphasis": lambda c: np.sum(c.pg / c.i ** 2, 1) / c.nr,
    "HighGrayLevelRunEmphasis": lambda c: np.sum(c.pg * c.i ** 2, 1) / c.nr,
    "ShortRunLowGrayLevelEmphasis": _rl_joint(lambda p, i2, j2: p / (i2 * j2)),
    "ShortRunHighGrayLevelEmphasis": _rl_joint(lambda p, i2, j2: p * i2 / j2),
    "LongRunLowGrayLevelEmphasis": _rl_joint(lambda p, i2, j2: p * j2 / i2),
    "LongRunHighGrayLevelEmphasis": _rl_joint(lambda p, i2, j2: p * (j2 * i2)),
}


def glrlm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    """GLRLM features of a batch of kernels (directions at distance 1, averaged)."""
    angles = offsets([1], bidirectional=False, plane_axis=context.axis)
    compact, levels = compact_levels(windows)
    p = glrlm_counts(compact, len(levels), angles)
    norm = context.args.get("weightingNorm")
    if norm is not None:
        p = np.sum(p * _run_weights(angles, context.spacing, norm)[None, None, None, :], 3, keepdims=True)
    with np.errstate(all="ignore"):
        ctx = RunBatch(p, levels)
    return _evaluate(GLRLM, chosen, ctx, reduce=angle_mean), {}


# ----------------------------------------------------------------------------------------------
# GLSZM, GLDM (zone-type matrices) and NGTDM
# ----------------------------------------------------------------------------------------------
def glszm_counts(windows: np.ndarray, g: int, axis) -> np.ndarray:
    """Size-zone counts (B, G, Ns): 26-connected (8 in-plane with force2D) equal-level zones per window.

    All windows of the batch form one graph (zero padding keeps them apart); its connected
    components are the zones.
    """
    b = windows.shape[0]
    fw = FlatWindows(windows, 1)
    n = fw.index.size
    position = np.full(fw.flat.size, -1, dtype=np.int64)
    position[fw.index] = np.arange(n)
    rows, cols = [], []
    for offset in offsets([1], bidirectional=False, plane_axis=axis):
        step = fw.step(offset)
        same = np.flatnonzero(fw.flat[fw.index + step] == fw.level)
        rows.append(same)
        cols.append(position[fw.index[same] + step])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    n_zones, zone = connected_components(graph, directed=False)
    size = np.bincount(zone, minlength=n_zones)
    zone_level = np.zeros(n_zones, dtype=np.int64)
    zone_level[zone] = fw.level
    zone_kernel = np.zeros(n_zones, dtype=np.int64)
    zone_kernel[zone] = fw.kernel
    ns = int(size.max())
    return counts((zone_kernel * g + zone_level - 1) * ns + size - 1, (b, g, ns))


def gldm_counts(windows: np.ndarray, compact: np.ndarray, g: int, context: KernelContext) -> np.ndarray:
    """Dependence counts (B, G, Na + 1): kernel voxels by level and number of dependent neighbours
    (neighbours in the kernel whose gray level differs by at most gldm_a)."""
    args = context.args
    dist = args.get("distances") or [1]
    alpha = args.get("gldm_a", 0) or 0
    angles = offsets(dist, bidirectional=True, plane_axis=context.axis)
    fw = FlatWindows(windows, int(max(dist)))
    centre = fw.level.astype(np.int64)
    dependent = np.zeros(centre.size, dtype=np.int64)
    for offset in angles:
        neighbour = fw.flat[fw.index + fw.step(offset)].astype(np.int64)
        dependent += (neighbour > 0) & (np.abs(neighbour - centre) <= alpha)
    rank = compact.ravel()[_window_positions(fw, windows.shape)]
    width = len(angles) + 1
    return counts((fw.kernel * g + rank - 1) * width + dependent, (windows.shape[0], g, width))


def _window_positions(fw: FlatWindows, shape: tuple) -> np.ndarray:
    """Flat indices in the unpadded windows of ``fw``'s kernel voxels (same order)."""
    pad = (fw.shape[1] - shape[1]) // 2
    coords = np.unravel_index(fw.index, fw.shape)
    return np.ravel_multi_index((coords[0], coords[1] - pad, coords[2] - pad, coords[3] - pad), shape)


class ZoneBatch:
    """A zone-type matrix (B, G, Nj): GLSZM (j = zone size) or GLDM (j = dependences + 1)."""

    def __init__(self, p: np.ndarray, levels: np.ndarray):
        self.p = p
        self.ps, self.pg = p.sum(1), p.sum(2)                       # (B, Nj), (B, G)
        self.i = levels[None, :]
        self.j = np.arange(1, p.shape[2] + 1, dtype=np.float64)[None, :]
        nz = p.sum((1, 2))
        self.nz = np.where(nz == 0, 1.0, nz)
        n_voxels = np.sum(self.ps * self.j, 1)
        self.np_ = np.where(n_voxels == 0, 1.0, n_voxels)


def _zone_joint(fn: Callable):
    return lambda c: np.sum(fn(c.p, c.i[:, :, None] ** 2, c.j[:, None, :] ** 2), (1, 2)) / c.nz


_ZONE_COMMON = {
    "SmallEmphasis": lambda c: np.sum(c.ps / c.j ** 2, 1) / c.nz,
    "LargeEmphasis": lambda c: np.sum(c.ps * c.j ** 2, 1) / c.nz,
    "GrayLevelNonUniformity": lambda c: np.sum(c.pg ** 2, 1) / c.nz,
    "GrayLevelNonUniformityNormalized": lambda c: np.sum(c.pg ** 2, 1) / c.nz ** 2,
    "NonUniformity": lambda c: np.sum(c.ps ** 2, 1) / c.nz,
    "NonUniformityNormalized": lambda c: np.sum(c.ps ** 2, 1) / c.nz ** 2,
    "GrayLevelVariance": _marginal_variance("pg", "i", "nz"),
    "Variance": _marginal_variance("ps", "j", "nz"),
    "Entropy": _matrix_entropy("nz"),
    "LowGrayLevelEmphasis": lambda c: np.sum(c.pg / c.i ** 2, 1) / c.nz,
    "HighGrayLevelEmphasis": lambda c: np.sum(c.pg * c.i ** 2, 1) / c.nz,
    "SmallLowGrayLevelEmphasis": _zone_joint(lambda p, i2, j2: p / (i2 * j2)),
    "SmallHighGrayLevelEmphasis": _zone_joint(lambda p, i2, j2: p * i2 / j2),
    "LargeLowGrayLevelEmphasis": _zone_joint(lambda p, i2, j2: p * j2 / i2),
    "LargeHighGrayLevelEmphasis": _zone_joint(lambda p, i2, j2: p * i2 * j2),
}

GLSZM = {
    "SmallAreaEmphasis": _ZONE_COMMON["SmallEmphasis"],
    "LargeAreaEmphasis": _ZONE_COMMON["LargeEmphasis"],
    "GrayLevelNonUniformity": _ZONE_COMMON["GrayLevelNonUniformity"],
    "GrayLevelNonUniformityNormalized": _ZONE_COMMON["GrayLevelNonUniformityNormalized"],
    "SizeZoneNonUniformity": _ZONE_COMMON["NonUniformity"],
    "SizeZoneNonUniformityNormalized": _ZONE_COMMON["NonUniformityNormalized"],
    "ZonePercentage": lambda c: c.nz / c.np_,
    "GrayLevelVariance": _ZONE_COMMON["GrayLevelVariance"],
    "ZoneVariance": _ZONE_COMMON["Variance"],
    "ZoneEntropy": _ZONE_COMMON["Entropy"],
    "LowGrayLevelZoneEmphasis": _ZONE_COMMON["LowGrayLevelEmphasis"],
    "HighGrayLevelZoneEmphasis": _ZONE_COMMON["HighGrayLevelEmphasis"],
    "SmallAreaLowGrayLevelEmphasis": _ZONE_COMMON["SmallLowGrayLevelEmphasis"],
    "SmallAreaHighGrayLevelEmphasis": _ZONE_COMMON["SmallHighGrayLevelEmphasis"],
    "LargeAreaLowGrayLevelEmphasis": _ZONE_COMMON["LargeLowGrayLevelEmphasis"],
    "LargeAreaHighGrayLevelEmphasis": _ZONE_COMMON["LargeHighGrayLevelEmphasis"],
}

GLDM = {
    "SmallDependenceEmphasis": _ZONE_COMMON["SmallEmphasis"],
    "LargeDependenceEmphasis": _ZONE_COMMON["LargeEmphasis"],
    "GrayLevelNonUniformity": _ZONE_COMMON["GrayLevelNonUniformity"],
    "DependenceNonUniformity": _ZONE_COMMON["NonUniformity"],
    "DependenceNonUniformityNormalized": _ZONE_COMMON["NonUniformityNormalized"],
    "GrayLevelVariance": _ZONE_COMMON["GrayLevelVariance"],
    "DependenceVariance": _ZONE_COMMON["Variance"],
    "DependenceEntropy": _ZONE_COMMON["Entropy"],
    "LowGrayLevelEmphasis": _ZONE_COMMON["LowGrayLevelEmphasis"],
    "HighGrayLevelEmphasis": _ZONE_COMMON["HighGrayLevelEmphasis"],
    "SmallDependenceLowGrayLevelEmphasis": _ZONE_COMMON["SmallLowGrayLevelEmphasis"],
    "SmallDependenceHighGrayLevelEmphasis": _ZONE_COMMON["SmallHighGrayLevelEmphasis"],
    "LargeDependenceLowGrayLevelEmphasis": _ZONE_COMMON["LargeLowGrayLevelEmphasis"],
    "LargeDependenceHighGrayLevelEmphasis": _ZONE_COMMON["LargeHighGrayLevelEmphasis"],
}


def glszm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    compact, levels = compact_levels(windows)
    with np.errstate(all="ignore"):
        ctx = ZoneBatch(glszm_counts(compact, len(levels), context.axis), levels)
    return _evaluate(GLSZM, chosen, ctx), {}


def gldm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    compact, levels = compact_levels(windows)
    with np.errstate(all="ignore"):
        ctx = ZoneBatch(gldm_counts(windows, compact, len(levels), context), levels)
    return _evaluate(GLDM, chosen, ctx), {}


def ngtdm_counts(windows: np.ndarray, compact: np.ndarray, g: int, context: KernelContext):
    """(n_i, s_i) per kernel and level (B, G): voxel counts and summed |level - mean of neighbours|
    (neighbours in the kernel at the ``distances`` offsets; a voxel without any adds 0)."""
    dist = context.args.get("distances") or [1]
    fw = FlatWindows(windows, int(max(dist)))
    centre = fw.level.astype(np.int64)
    found = np.zeros(centre.size, dtype=np.int64)
    total = np.zeros(centre.size, dtype=np.int64)
    for offset in offsets(dist, bidirectional=True, plane_axis=context.axis):
        neighbour = fw.flat[fw.index + fw.step(offset)].astype(np.int64)
        found += neighbour > 0
        total += neighbour
    diff = np.zeros(centre.size)
    some = found > 0
    diff[some] = np.abs(centre[some] - total[some] / found[some])
    keys = fw.kernel * g + compact.ravel()[_window_positions(fw, windows.shape)] - 1
    shape = (windows.shape[0], g)
    return counts(keys, shape), counts(keys, shape, weights=diff)


class NGTDMBatch:
    """Level probabilities p (B, G) (0 for levels absent from a kernel), s_i and level values."""

    def __init__(self, n: np.ndarray, s: np.ndarray, levels: np.ndarray):
        self.nvp = n.sum(1)
        self.p = n / self.nvp[:, None]
        self.s = s
        self.i = levels[None, :]
        self.ngp = np.sum(n > 0, 1)
        self.both = (self.p[:, :, None] > 0) & (self.p[:, None, :] > 0)  # pairs of levels present


def _ngtdm_coarseness(c: NGTDMBatch) -> np.ndarray:
    total = np.sum(c.p * c.s, 1)
    return np.where(total == 0, 1e6, 1.0 / np.where(total == 0, 1.0, total))


def _ngtdm_contrast(c: NGTDMBatch) -> np.ndarray:
    div = c.ngp * (c.ngp - 1)
    pp = c.p[:, :, None] * c.p[:, None, :] * (c.i[:, :, None] - c.i[:, None, :]) ** 2
    value = np.sum(pp, (1, 2)) * np.sum(c.s, 1) / c.nvp
    return np.where(div == 0, 0.0, value / np.where(div == 0, 1, div))


def _ngtdm_busyness(c: NGTDMBatch) -> np.ndarray:
    ip = c.i * c.p
    absdiff = np.sum(np.where(c.both, np.abs(ip[:, :, None] - ip[:, None, :]), 0.0), (1, 2))
    return np.where(absdiff == 0, 0.0, np.sum(c.p * c.s, 1) / np.where(absdiff == 0, 1.0, absdiff))


def _ngtdm_complexity(c: NGTDMBatch) -> np.ndarray:
    ps = c.p * c.s
    num = np.where(c.both, ps[:, :, None] + ps[:, None, :], 0.0)
    den = c.p[:, :, None] + c.p[:, None, :]
    terms = np.abs(c.i[:, :, None] - c.i[:, None, :]) * num / np.where(den == 0, 1.0, den)
    return np.sum(terms, (1, 2)) / c.nvp


def _ngtdm_strength(c: NGTDMBatch) -> np.ndarray:
    total = np.sum(c.s, 1)
    terms = np.where(c.both, (c.p[:, :, None] + c.p[:, None, :]) * (c.i[:, :, None] - c.i[:, None, :]) ** 2, 0.0)
    return np.where(total == 0, 0.0, np.sum(terms, (1, 2)) / np.where(total == 0, 1.0, total))


NGTDM = {
    "Coarseness": _ngtdm_coarseness,
    "Contrast": _ngtdm_contrast,
    "Busyness": _ngtdm_busyness,
    "Complexity": _ngtdm_complexity,
    "Strength": _ngtdm_strength,
}


def ngtdm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    compact, levels = compact_levels(windows)
    n, s = ngtdm_counts(windows, compact, len(levels), context)
    with np.errstate(all="ignore"):
        ctx = NGTDMBatch(n, s, levels)
    return _evaluate(NGTDM, chosen, ctx), {}


BATCH_FUNCTIONS = {"glcm": glcm_batch, "glrlm": glrlm_batch, "glszm": glszm_batch, "gldm": gldm_batch,
                   "ngtdm": ngtdm_batch}
#: every feature the engine names has a voxel-based implementation (checked by the tests); GLCM MCC's
#: function gives eigenvalues, finished per pyradiomics batch (``_pyradiomics_batches``)
BATCH_FEATURES = {"firstorder": FIRSTORDER, "glcm": {**GLCM, "MCC": _glcm_mcc}, "glrlm": GLRLM, "glszm": GLSZM,
                  "gldm": GLDM, "ngtdm": NGTDM}


# ----------------------------------------------------------------------------------------------
# pyradiomics' per-batch rules (voxelBatch)
# ----------------------------------------------------------------------------------------------
def _pyradiomics_batches(cls: str, values_of: dict, extras: list[dict], count: int, voxel_batch: int,
                         context: KernelContext) -> dict[str, np.ndarray]:
    """Apply pyradiomics' batch-dependent outcomes; returns feature -> voxels left at initValue."""
    if cls != "glcm" or not extras:
        return {}
    empty = np.concatenate([e["empty"] for e in extras])
    size = count if voxel_batch < 0 else voxel_batch
    failed: dict[str, np.ndarray] = {}
    mcc = "MCC" in values_of
    if mcc:
        ev2 = np.concatenate([e["ev2"] for e in extras])
        complex_spectra = np.concatenate([e["complex"] for e in extras])
        failed["MCC"] = np.zeros(count, dtype=bool)
    for start in range(0, count, size):
        part = slice(start, min(start + size, count))
        dangling = _dangling_directions(empty[part])
        if "JointAverage" in values_of:
            values_of["JointAverage"][part][dangling.any(1)] = np.nan
        if mcc:
            if dangling.any():
                failed["MCC"][part] = True  # pyradiomics: eigvals of a NaN matrix raises
            else:
                complex_spectrum = bool(np.any(complex_spectra[part] & ~empty[part]))
                values_of["MCC"][part] = _mcc_values(ev2[part], empty[part], complex_spectrum, context.n_levels)
    return failed


def _dangling_directions(empty: np.ndarray) -> np.ndarray:
    """Directions empty in a kernel but not in every kernel of the batch (pyradiomics deletes those
    only; with a single (weighted) direction it deletes none): NaN in pyradiomics' matrices."""
    if empty.shape[1] == 1:
        return empty
    return empty & ~empty.all(0)[None, :]


def _mcc_values(ev2: np.ndarray, empty: np.ndarray, complex_spectrum: bool, n_levels: int) -> np.ndarray:
    """MCC of a pyradiomics batch: sqrt of the 2nd eigenvalue, mean over the kernel's directions.

    As pyradiomics: 1 when the ROI has a single gray level; the square root is taken in complex
    arithmetic when some eigenvalue of the batch is complex (numpy then returns complex eigenvalues
    for the whole batch), else in real arithmetic (a tiny negative eigenvalue gives NaN).
    """
    if n_levels < 2:
        return np.ones(len(ev2))
    with np.errstate(all="ignore"):
        roots = np.sqrt(ev2) if complex_spectrum else np.sqrt(ev2.real)
    roots = np.where(empty, np.nan, roots)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.real(np.nanmean(roots, axis=1))
