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
- per kernel, the formulas of segment-based extraction: each registered class's ``kernel_features``
  (:mod:`.registry`; the batched contexts and ``FEATURES`` of :mod:`.firstorder`, :mod:`.glcm`,
  :mod:`.glrlm`, :mod:`.glszm`, :mod:`.gldm`, :mod:`.ngtdm`, the same code) on the kernel windows of
  :mod:`.kernels`; a GLCM or GLRLM direction without pairs or runs in a kernel is left out of that
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

from dataclasses import dataclass
from typing import Callable

import numpy as np
import SimpleITK as sitk

from ..errors import InputError, LesionError
from ..progress import CancelCallback, ProgressCallback, check_cancel, report
from . import filters, registry
from .common import plane_axis
from .descriptor import FeatureClass
from .kernels import KernelBatch, KernelContext, Kernels
from .preprocess import Source, check_roi, discretise, prepare_region, resegment, roi_bbox, split_params

__all__ = ["feature_maps", "voxel_settings", "map_class_names", "VOXEL_DEFAULTS"]

#: pyradiomics' voxel settings and their defaults
VOXEL_DEFAULTS = {"kernelRadius": 1, "maskedKernel": True, "initValue": 0.0, "voxelBatch": -1}
#: kernels computed together (small batches of neighbouring voxels share few gray levels, which keeps
#: their matrices small; measured fastest on lung1/brain1; GLCM halves a batch with many levels)
MAX_BATCH = 32
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


def map_class_names() -> tuple[str, ...]:
    """The registered classes available as feature maps (those with ``kernel_features``)."""
    return tuple(d.name for d in registry.all_classes() if d.voxel_based)


def map_classes(classes: dict) -> dict:
    """The enabled classes as descriptors -> their feature lists; per-lesion classes (shape, shape2D)
    dropped silently, as pyradiomics skips them; classes without kernel features refused."""
    out = {}
    for name, names in classes.items():
        descriptor = registry.get(name)
        if descriptor.per_lesion:
            continue
        if not descriptor.voxel_based:
            raise InputError(f"feature class '{name}' is not available as voxel-based feature maps "
                             f"(available: {', '.join(map_class_names())})")
        out[descriptor] = names
    return out


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
    for number, (descriptor, names) in enumerate(classes.items()):
        chosen, refused = descriptor.chosen(names), descriptor.refused(names)

        def tick(done: float, message: str, number=number) -> None:
            clock.report((number + done) / len(classes), message)

        values_of, extras = _class_values(descriptor, chosen, kernels, stacks, context, tick, should_cancel)
        failed = {}
        if descriptor.kernel_rules is not None:
            failed = descriptor.kernel_rules(values_of, extras, kernels.count, voxel["voxelBatch"], context)
        for n in chosen + refused:
            out[f"{descriptor.name}_{n}"] = _as_map(values_of.get(n), failed.get(n), roi, voxel["initValue"])
    return out


def _class_values(descriptor: FeatureClass, chosen: list[str], kernels: Kernels, stacks: dict,
                  context: KernelContext, tick: Callable, should_cancel: CancelCallback) -> tuple[dict, list]:
    """One class over every kernel, MAX_BATCH kernels at a time: (feature -> value per ROI voxel,
    per-batch extras); cancellation checked and progress ticked after each batch."""
    values_of = {n: np.empty(kernels.count) for n in chosen}
    extras: list[dict] = []
    for start in range(0, kernels.count, MAX_BATCH):
        batch = slice(start, start + MAX_BATCH)
        res, extra = descriptor.kernel_features(KernelBatch(kernels, stacks, batch), context, chosen)
        for n in chosen:
            values_of[n][batch] = res[n]
        extras.append(extra)
        check_cancel(should_cancel)
        done = min(start + MAX_BATCH, kernels.count)
        tick(done / kernels.count, f"{descriptor.name}: {done}/{kernels.count} voxels")
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
