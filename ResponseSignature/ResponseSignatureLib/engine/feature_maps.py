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
- per kernel, the formulas of segment-based extraction (the batched contexts and ``FEATURES`` of
  :mod:`.firstorder`, :mod:`.glcm`, :mod:`.glrlm`, :mod:`.glszm`, :mod:`.gldm`, :mod:`.ngtdm`, the
  same code); a GLCM or GLRLM direction without pairs or runs in a kernel is left out of that
  kernel's mean over directions.
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

from ..errors import InputError, LesionError
from ..progress import CancelCallback, ProgressCallback, check_cancel, report
from . import filters, firstorder, glcm, gldm, glrlm, glszm, ngtdm
from .common import EPS, angle_mean, counts, evaluate_batch, offsets, plane_axis, select
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
    """(``windows`` with gray levels renumbered 1..G, 0 kept; the G levels present, ascending, float).

    Levels absent from every kernel of a batch would add only zero rows to its matrices, which no
    feature sees (up to rounding); renumbering keeps the matrices small.
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


# ----------------------------------------------------------------------------------------------
# firstorder
# ----------------------------------------------------------------------------------------------
def firstorder_batch(values: np.ndarray, levels: np.ndarray, context: KernelContext, chosen: list[str]):
    """First-order features of a batch of kernels (values NaN and levels 0 outside each kernel)."""
    ctx = firstorder.FirstOrderBatch(values, levels, float(np.prod(context.spacing)),
                                     float(context.args.get("voxelArrayShift", 0) or 0))
    return evaluate_batch(firstorder.FEATURES, chosen, ctx), {}


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


def _glcm_mcc(c: glcm.GLCMBatch) -> tuple[np.ndarray, np.ndarray]:
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


def glcm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    """GLCM features of a batch of kernels; extras: empty directions, MCC eigenvalues (for
    pyradiomics' per-batch rules, applied in ``_pyradiomics_batches``)."""
    args = context.args
    angles = offsets(args.get("distances") or [1], bidirectional=False, plane_axis=context.axis)
    compact, levels = compact_levels(windows)
    if len(windows) > 1 and len(windows) * len(levels) ** 2 * len(angles) > WORK_ELEMENTS:
        half = len(windows) // 2  # many gray levels: halve the batch to bound the matrices' memory
        return _joined(glcm_batch(windows[:half], context, chosen), glcm_batch(windows[half:], context, chosen))
    raw = glcm.combine_directions(glcm_counts(compact, len(levels), angles), angles, context.spacing, args)
    with np.errstate(all="ignore"):
        ctx = glcm.GLCMBatch(raw, levels, context.ng)
    plain = [n for n in chosen if n != "MCC"]  # MCC: per pyradiomics batch, from the eigenvalues
    out = evaluate_batch(glcm.FEATURES, plain, ctx, reduce=angle_mean)
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


def glrlm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    """GLRLM features of a batch of kernels (directions at distance 1, averaged)."""
    angles = offsets([1], bidirectional=False, plane_axis=context.axis)
    compact, levels = compact_levels(windows)
    p = glrlm_counts(compact, len(levels), angles)
    norm = context.args.get("weightingNorm")
    if norm is not None:
        p = np.sum(p * glrlm.run_weights(angles, context.spacing, norm)[None, None, None, :], 3, keepdims=True)
    with np.errstate(all="ignore"):
        ctx = glrlm.runs_batch(p, levels)
    return evaluate_batch(glrlm.FEATURES, chosen, ctx, reduce=angle_mean), {}


# ----------------------------------------------------------------------------------------------
# GLSZM, GLDM (zone-type matrices) and NGTDM
# ----------------------------------------------------------------------------------------------
def glszm_counts(windows: np.ndarray, g: int, axis) -> np.ndarray:
    """Size-zone counts (B, G, Ns): 26-connected (8 in-plane with force2D) equal-level zones per window.

    The windows are stacked along their first axis with a zero plane after each, which keeps their
    zones apart, and labelled at once (``glszm.zones``).
    """
    b, depth = windows.shape[:2]
    stacked = np.zeros((b, depth + 1) + windows.shape[2:], dtype=windows.dtype)
    stacked[:, :depth] = windows
    stacked = stacked.reshape((b * (depth + 1),) + windows.shape[2:])
    zone_level, size, labels = glszm.zones(stacked, axis)
    zone_kernel = np.zeros(size.size + 1, dtype=np.int64)
    zone_kernel[labels.ravel()] = np.arange(labels.size) // (labels.size // b)
    ns = int(size.max())
    return counts((zone_kernel[1:] * g + zone_level - 1) * ns + size - 1, (b, g, ns))


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


def glszm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    compact, levels = compact_levels(windows)
    with np.errstate(all="ignore"):
        ctx = glszm.ZoneBatch(glszm_counts(compact, len(levels), context.axis), levels)
    return evaluate_batch(glszm.FEATURES, chosen, ctx), {}


def gldm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    compact, levels = compact_levels(windows)
    with np.errstate(all="ignore"):
        ctx = glszm.ZoneBatch(gldm_counts(windows, compact, len(levels), context), levels)
    return evaluate_batch(gldm.FEATURES, chosen, ctx), {}


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


def ngtdm_batch(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    compact, levels = compact_levels(windows)
    n, s = ngtdm_counts(windows, compact, len(levels), context)
    with np.errstate(all="ignore"):
        ctx = ngtdm.NGTDMBatch(n, s, levels)
    return evaluate_batch(ngtdm.FEATURES, chosen, ctx), {}


BATCH_FUNCTIONS = {"glcm": glcm_batch, "glrlm": glrlm_batch, "glszm": glszm_batch, "gldm": gldm_batch,
                   "ngtdm": ngtdm_batch}
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
