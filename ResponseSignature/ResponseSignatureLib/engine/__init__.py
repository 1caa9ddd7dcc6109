"""Built-in radiomics engine: pyradiomics' features in numpy/scipy/SimpleITK/PyWavelets/scikit-image, crop-first.

``extract_features(image, mask, params, label)`` takes a pyradiomics parameter dict (sections
``setting``, ``imageType``, ``featureClass``, as in a pyradiomics YAML file) and returns pyradiomics'
feature names and values (``original_firstorder_Mean``, ``log-sigma-2-0-mm-3D_glcm_Contrast``,
``wavelet-LLH_glszm_ZoneEntropy``...). No compiled code of its own, no pyradiomics import.

Supported: feature classes shape (3D), shape2D (one-slice ROIs with force2D, see :mod:`.shape2d`),
firstorder, glcm, glrlm, glszm, gldm, ngtdm (+ ``ibsi`` for IBSI-only features, see :mod:`.ibsi`);
image types Original, LoG, Wavelet (with force2D: pyradiomics' in-plane 2D transform), Square,
SquareRoot, Logarithm, Exponential, Gradient, LBP2D, LBP3D (see :mod:`.filters`, :mod:`.lbp`); settings
binWidth, binCount, label, distances, symmetricalGLCM, weightingNorm, gldm_a, voxelArrayShift,
normalize, normalizeScale, removeOutliers, resampledPixelSpacing, interpolator, padDistance,
minimumROIDimensions, minimumROISize, resegmentRange/resegmentMode/resegmentShape, gradientUseSpacing,
lbp2DRadius, lbp2DSamples, lbp2DMethod, lbp3DLevels, lbp3DIcosphereRadius, lbp3DIcosphereSubdivision,
preCrop (for the image types after Wavelet), per-image-type overrides (e.g.
``LoG: {sigma: [1, 2], binWidth: 5}``), force2D/force2Ddimension (in-plane neighbourhoods: IBSI 2.5D).
Voxel-based extraction (pyradiomics' ``execute(..., voxelBased=True)``, settings in ``voxelSetting``:
kernelRadius, maskedKernel, initValue, voxelBatch) is :func:`.feature_maps.feature_maps`: one map per
feature of firstorder and the texture classes (not shape, as pyradiomics), for every image type above.
Segment-based extraction ignores a ``voxelSetting`` section, as pyradiomics does.
Not supported (InputError): the ``ibsi`` class as feature maps (pyradiomics has no such class).

shape2D follows pyradiomics' extractor to the letter: without force2D it is dropped silently; with
force2D it is computed, skipped or refused (LesionError) per lesion exactly where pyradiomics computes,
skips (warning) or raises ValueError, see ``shape2d.plane_decision`` (axial slices with
force2Ddimension 0, sagittal slices with 2; never with 1).

How it differs from pyradiomics, by design (same voxels give the same values to ~1e-12):
- crop first: the scan is cropped to the ROI box + a margin before filtering or resampling, and each
  filter run reads the ROI box + its own margin (:mod:`.margins`, the rule the pyradiomics backend
  follows too): LoG max(15 mm, 6 sigma) + 1 voxel per sigma, wavelet ``(start_level + level) *
  filter length + 1`` voxels. Filtered
  values inside the ROI therefore differ slightly from pyradiomics filtering the whole scan (the
  residual is the far tail of the filter); through binning, LoG features differ by at most ~2e-3
  relative (measured, ``margins.log_margin_voxels``; with 5 sigma zone features differed by up to
  25 %). pyradiomics with preCrop uses only a 5-voxel pad, which changes LoG features by up to ~50 %.
- resampling: pyradiomics' grid (anchored to the image, so identical for every crop of the same scan),
  but the B-spline prefilter sees the crop + 24 source voxels rather than the whole scan (relative
  effect < 1e-13 on interpolated values).
- one discretisation per image (pyradiomics repeats it per class: same result).
- none for Square/SquareRoot/Logarithm/Exponential/Gradient/LBP2D/LBP3D: they filter exactly the image
  pyradiomics filters (whole normalised scan, preCrop box or resampled region; ``preprocess.Source``),
  scaled by its max |x| found before cropping. With resampling the ROI is resampled on pyradiomics' own
  region (nearest-neighbour ties at half-voxel grid points then fall as in pyradiomics).
- shape and shape2D with resegmentRange use the shape ROI's own box; pyradiomics crops the shape mask
  to the resegmented ROI's box (and decides on shape2D from that box).
- a parameter dict without ``featureClass``: the engine computes the seven 3D classes; pyradiomics
  also enables shape2D (with force2D it then raises on every ROI thicker than one slice).
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from . import filters, ibsi_processing, registry
from .image_batch import batch_features, image_matrices
from .margins import filter_margin_voxels
from .preprocess import prepare_region, resegment, roi_bbox, split_params

__all__ = ["check_params", "extract_features"]

#: background threads running the filters (LoG, wavelet...) of a lesion while the calling thread
#: computes features (which hold the GIL most of the time: more feature threads do not help): two
#: below FILTER_PAIR_MAX_VOXELS ROI voxels, where the filters' margins make them the longer part, one
#: above, where a second filter thread only slows the features (measured on 2 cores, full setting:
#: 35 mm lesion, 15k voxels, 170 -> 148 ms with two; 60 mm, 75k voxels, 548 -> 598 ms)
FILTER_THREADS = (2, 1)
FILTER_PAIR_MAX_VOXELS = 40_000
#: image types whose filter jobs start first: no filtering, or one cheap run giving many images
#: (Wavelet: 8 sub-bands), so features start at once while the slow filters (LoG) run behind them
START_FIRST = ("Original", "Wavelet")


def _check_supported(settings: dict, classes: dict) -> None:
    """InputError for classes the registry lacks; drops the classes whose ``applies`` says no for these
    settings (shape2D without force2D: pyradiomics warns and returns nothing)."""
    for name in list(classes):
        descriptor = registry.get(name)
        if descriptor.applies is not None and not descriptor.applies(settings, classes[name]):
            del classes[name]


def check_params(params: dict | None) -> None:
    """InputError at once (not per lesion) for parameters the built-in engine cannot honour."""
    if ibsi_processing.SECTION in (params or {}):  # IBSI image processing (engine/ibsi_processing.py)
        ibsi_processing.settings_from_params(params)
        return
    settings, image_types, classes = split_params(params)
    _check_supported(settings, dict(classes))
    unsupported = sorted(set(image_types) - set(filters.GENERATORS))
    if unsupported:
        raise InputError(f"image type(s) {', '.join(unsupported)} not supported by the built-in engine "
                         f"(supported: {', '.join(filters.GENERATORS)}); use --engine pyradiomics")
    filter_margin_voxels(image_types, settings, np.ones(3))  # bad filter settings fail here, not per lesion
    # a voxelSetting section is ignored here, as pyradiomics ignores it in segment-based extraction


def extract_features(image: sitk.Image, mask: sitk.Image, params: dict | None, label: int | None = None,
                     lesion_id: str | None = None) -> dict[str, float]:
    """pyradiomics-named features of the ROI ``mask == label`` in ``image``.

    ``params``: pyradiomics parameter dict (None: pyradiomics' defaults, Original image, all classes).
    ``label``: ROI label; None = the parameter file's ``setting: label`` (default 1), as pyradiomics'
    ``execute(label=None)``.
    Raises LesionError for an empty/one-voxel/too-flat ROI, InputError for unsupported settings or
    mismatched geometry.
    With an ``ibsi:`` section: IBSI's processing chain and feature set instead (``ibsi_*`` names, see
    :mod:`.ibsi_features`); the pyradiomics path below is then not used.
    """
    if ibsi_processing.SECTION in (params or {}):
        from .ibsi_features import extract

        return extract(image, mask, params, label, lesion_id)
    settings, image_types, classes = split_params(params, label)
    lesion_id = lesion_id or f"label {settings['label']}"
    _check_supported(settings, classes)
    region = prepare_region(image, mask, settings, image_types, lesion_id, classes)
    spacing = region.spacing_kji
    roi_shape = region.mask
    roi = resegment(sitk.GetArrayViewFromImage(region.image), region.mask, settings, lesion_id)
    if settings.get("resegmentShape", False):
        roi_shape = roi
    for name in list(classes):  # before any filtering: a refused lesion fails at once
        check = registry.get(name).roi_check
        if check is not None and not check(roi_shape[_bbox(roi_shape, lesion_id)], settings, lesion_id):
            del classes[name]
    box = _bbox(roi, lesion_id) if settings.get("resegmentRange") is not None else region.box
    per_image = any(not registry.get(name).per_lesion for name in classes)
    geometry = None
    if any(registry.get(name).geometry for name in classes):
        geometry = {"crop_values": sitk.GetArrayViewFromImage(region.image), "crop_roi": roi}
    roi_box = roi[box]
    todo = filters.jobs(region.image, box, image_types, settings, region.source) if per_image else []
    return _run(todo, classes, settings, roi_shape, roi_box, spacing, geometry, lesion_id)


def _run(todo: list, classes: dict, settings: dict, roi_shape: np.ndarray, roi_box: np.ndarray,
         spacing: np.ndarray, geometry: dict | None, lesion_id: str) -> dict[str, float]:
    """The per-lesion classes (shape, shape2D) and the features of every image the filter jobs
    ``todo`` make, in that order (pyradiomics' order).

    With several filter jobs, the filters (ITK, PyWavelets) run in background threads
    (FILTER_THREADS), START_FIRST image types first, while this thread computes shape and each image's
    matrices as soon as it is ready; the formulas run once per class for a stack of images
    (:mod:`.image_batch`): the START_FIRST images' stack while the other filters still run, then the
    rest (fixed stacks, so values do not depend on thread timing). On 2 cores a 35 mm lesion's Original + LoG + Wavelet takes 10 % less time
    than in the given order (measured, Testing/benchmarks/README.md). The overlap is partial:
    SimpleITK's filters release the GIL, but ITK already spreads each pass over all cores (its
    global thread pool), so two RecursiveGaussian runs in two threads take 1.7-2x as long as one,
    and a filter pass and the feature code share the same two cores.
    """
    order = sorted(range(len(todo)), key=lambda k: todo[k].image_type not in START_FIRST)  # stable
    small = int(np.count_nonzero(roi_box)) < FILTER_PAIR_MAX_VOXELS
    pool = ThreadPoolExecutor(max_workers=FILTER_THREADS[0 if small else 1]) if len(todo) > 1 else None
    images = {k: pool.submit(todo[k].run) if pool else _finished(todo[k].run) for k in order}
    try:
        out = _per_lesion(classes, settings, roi_shape[_bbox(roi_shape, lesion_id)], spacing)
        shared: dict = {}  # what depends on the ROI alone, computed for the first image
        features: dict[int, list] = {}  # job -> its images' features
        first = [k for k in order if todo[k].image_type in START_FIRST]
        for group in (first, [k for k in order if k not in first]):  # fixed stacks: same values every run
            prepared = [(k, image_matrices(name, np.asarray(arr), roi_box, spacing, todo[k].args, classes,
                                           geometry, shared)) for k in group for name, arr in images[k].result()]
            for (k, _), values in zip(prepared, batch_features([im for _, im in prepared], classes, spacing)):
                features.setdefault(k, []).append(values)
        for k in range(len(todo)):
            for values in features.get(k, []):
                out.update(values)
        return out
    finally:
        if pool:
            for fut in images.values():
                fut.cancel()  # after an error: drop what has not started
            pool.shutdown(wait=True)


def _finished(job) -> Future:
    """A done Future holding ``job()``'s result or exception (one job: no thread)."""
    fut: Future = Future()
    try:
        fut.set_result(job())
    except Exception as exc:  # handed over to result(), as a pool would
        fut.set_exception(exc)
    return fut


def _per_lesion(classes: dict, settings: dict, roi: np.ndarray, spacing: np.ndarray) -> dict[str, float]:
    """``original_<class>_<feature>`` of the classes computed from the ROI alone (on its box), in the
    registry's order (shape before shape2D, as pyradiomics)."""
    out: dict[str, float] = {}
    for descriptor in registry.all_classes():
        if descriptor.per_lesion and descriptor.name in classes:
            values = descriptor.roi_features(roi, spacing, settings, classes[descriptor.name])
            out.update({f"original_{descriptor.name}_{k}": v for k, v in values.items()})
    return out


def _bbox(roi: np.ndarray, lesion_id: str) -> tuple:
    """Slices of the ROI's bounding box."""
    lo, hi = roi_bbox(roi, lesion_id)
    return tuple(slice(int(a), int(b) + 1) for a, b in zip(lo, hi))
