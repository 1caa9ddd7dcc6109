"""Settings, mask checks, crop-first region, normalisation, resampling and discretisation.

Everything here follows pyradiomics' semantics (parameter names and defaults of
``radiomics.featureextractor`` / ``radiomics.imageoperations``) but touches the whole scan at most
once: the ROI bounding box is found with numpy projections, the image is cropped to that box plus a
margin chosen from the filter support *before* any filtering or resampling, and every later step
works on the crop.

Crop-first differences from pyradiomics (by design, see docs in ``__init__``):
- filters (LoG, wavelet) run on the crop + margin instead of the whole scan;
- resampling (B-spline) prefilters the crop + margin instead of the whole scan. The resampled grid
  itself is pyradiomics' grid, anchored to the input image (not to the crop), so baseline and
  follow-up grids are placed deterministically.

The Region also records which image pyradiomics would hand to its filters (``Source``: the whole
normalised scan, the preCrop box, or the resampled region) and that image's largest |value|, found
before cropping: the Square/SquareRoot/Logarithm/Exponential types scale by it, and the Gradient and
LBP types read only inside that image, so their values match pyradiomics' exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from ..errors import InputError, LesionError
from . import registry
from .margins import filter_margin_voxels

DEFAULT_SETTINGS = {
    "minimumROIDimensions": 2,
    "minimumROISize": None,
    "normalize": False,
    "normalizeScale": 1,
    "removeOutliers": None,
    "resampledPixelSpacing": None,
    "interpolator": "sitkBSpline",
    "preCrop": False,
    "padDistance": 5,
    "distances": [1],
    "force2D": False,
    "force2Ddimension": 0,
    "resegmentRange": None,
    "label": 1,
    "additionalInfo": True,
    "binWidth": 25,
    "binCount": None,
    "voxelArrayShift": 0,
    "symmetricalGLCM": True,
    "weightingNorm": None,
    "gldm_a": 0,
}

#: source voxels kept around the resampling region so that the B-spline prefilter (an IIR filter whose
#: influence decays as 0.268^k) sees the same neighbourhood as on the whole scan (0.268^24 < 2e-14;
#: 14 voxels gave 5e-10 relative on lung1 cast to float64). Both backends resample this way.
RESAMPLE_SUPPORT_VOXELS = 24


@dataclass
class Region:
    """A lesion's working region: image crop (SimpleITK), ROI mask on it (bool, k-j-i), and the ROI box."""

    image: sitk.Image
    mask: np.ndarray
    box: tuple = field(default_factory=tuple)  # slices of the ROI bounding box inside the crop (k, j, i)
    source: Source | None = None  # the image pyradiomics would filter, relative to the crop

    @property
    def spacing_kji(self) -> np.ndarray:
        return np.array(self.image.GetSpacing()[::-1], dtype=float)


# ----------------------------------------------------------------------------------------------
# settings
# ----------------------------------------------------------------------------------------------
def split_params(params: dict | None, label: int | None = None) -> tuple[dict, dict, dict]:
    """pyradiomics parameter dict -> (settings, image types, feature classes), defaults filled in.

    An empty or missing ``imageType`` means ``{'Original': {}}``; an empty or missing
    ``featureClass`` means the registry's default classes: the seven 3D classes, as pyradiomics'
    no-argument default (from a parameter dict pyradiomics would also enable shape2D, see the engine
    docstring).
    A class mapped to ``None`` or ``[]`` means all its non-deprecated features.
    """
    params = dict(params or {})
    unknown = set(params) - {"setting", "imageType", "featureClass", "voxelSetting"}
    if unknown == {"ibsi"}:
        raise InputError("the 'ibsi' section (IBSI image processing) is used by segment-based extraction with the "
                         "built-in engine only")
    if unknown:
        raise InputError(f"unknown parameter section(s) {sorted(unknown)}; expected setting, imageType, featureClass")
    settings = dict(DEFAULT_SETTINGS)
    settings.update(params.get("setting") or {})
    if label is not None:
        settings["label"] = int(label)
    image_types = dict(params.get("imageType") or {"Original": {}})
    for name, custom in list(image_types.items()):
        image_types[name] = dict(custom or {})
    classes = params.get("featureClass")
    if not classes:
        classes = {c: None for c in registry.default_classes()}
    return settings, image_types, dict(classes)


# ----------------------------------------------------------------------------------------------
# mask checks and bounding box
# ----------------------------------------------------------------------------------------------
def check_geometry(image: sitk.Image, mask: sitk.Image) -> None:
    """Raise InputError unless image and mask share size, spacing, origin and direction."""
    if image.GetDimension() != 3 or mask.GetDimension() != 3:
        raise InputError("the built-in engine needs 3D image and mask")
    if image.GetNumberOfComponentsPerPixel() != 1 or mask.GetNumberOfComponentsPerPixel() != 1:
        raise InputError("the built-in engine needs scalar (single-component) image and mask")
    if image.GetSize() != mask.GetSize():
        raise InputError(f"mask size {mask.GetSize()} differs from image size {image.GetSize()}")
    sp = np.array(image.GetSpacing())
    tol = 1e-3 * float(sp.min())
    if (np.abs(sp - np.array(mask.GetSpacing())).max() > tol
            or np.abs(np.array(image.GetOrigin()) - np.array(mask.GetOrigin())).max() > tol
            or np.abs(np.array(image.GetDirection()) - np.array(mask.GetDirection())).max() > 1e-4):
        raise InputError("mask geometry (origin/spacing/direction) differs from the image")


def roi_bbox(roi: np.ndarray, lesion_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive (lower, upper) k-j-i bounds of the ROI; LesionError if it is empty.

    ``roi``: boolean, or any array whose non-zero voxels are the ROI (e.g. a mask's array view).
    One pass over the whole array (slice projection), then only the slabs that hold the ROI.
    """
    hits = np.flatnonzero(roi.reshape(roi.shape[0], -1).any(1))
    if hits.size == 0:
        raise LesionError(lesion_id, "the segment is empty (no voxel carries the label)")
    k0, k1 = hits[0], hits[-1]
    slab = roi[k0:k1 + 1]
    rows = np.flatnonzero(slab.any(axis=(0, 2)))
    cols = np.flatnonzero(slab[:, rows[0]:rows[-1] + 1].any(axis=(0, 1)))
    return np.array([k0, rows[0], cols[0]]), np.array([k1, rows[-1], cols[-1]])


def check_roi(lo: np.ndarray, hi: np.ndarray, count: int, settings: dict, lesion_id: str) -> None:
    """pyradiomics' checkMask rules: >1 voxel, enough dimensions, minimumROISize."""
    ndims = int(np.sum(hi - lo + 1 > 1))
    if ndims == 0:
        raise LesionError(lesion_id, "the segment has a single voxel; features need at least two")
    if ndims < int(settings.get("minimumROIDimensions") or 2):
        raise LesionError(lesion_id, f"the segment spans only {ndims} dimension(s); "
                                     f"minimumROIDimensions is {settings.get('minimumROIDimensions')}")
    min_size = settings.get("minimumROISize")
    if min_size is not None and count <= min_size:
        raise LesionError(lesion_id, f"the segment has {count} voxels, not more than minimumROISize {min_size}")


# ----------------------------------------------------------------------------------------------
# crop, normalise, resample
# ----------------------------------------------------------------------------------------------
def crop_image(image: sitk.Image, lo_kji: np.ndarray, hi_kji: np.ndarray) -> sitk.Image:
    """Crop to the inclusive k-j-i box (clipped to the image), keeping physical placement."""
    size = np.array(image.GetSize()[::-1])
    lo = np.maximum(lo_kji, 0)
    hi = np.minimum(hi_kji, size - 1)
    # the same pixels and placement as sitk.RegionOfInterest, without ITK's per-call thread start-up
    # (0.2 ms, a fixed cost per lesion and crop); only the box is copied
    view = sitk.GetArrayViewFromImage(image)
    out = sitk.GetImageFromArray(view[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1],
                                 isVector=image.GetNumberOfComponentsPerPixel() > 1)
    out.SetSpacing(image.GetSpacing())
    out.SetDirection(image.GetDirection())
    out.SetOrigin(image.TransformIndexToPhysicalPoint([int(v) for v in lo[::-1]]))
    return out


def normalisation(image: sitk.Image, settings: dict):
    """Whole-image (mean, sigma) for pyradiomics' ``normalize`` (sitk.Normalize), or None if off."""
    if not settings.get("normalize"):
        return None
    stats = sitk.StatisticsImageFilter()
    stats.Execute(image)
    return stats.GetMean(), stats.GetSigma()


def apply_normalisation(crop: sitk.Image, norm, settings: dict) -> sitk.Image:
    """pyradiomics ``normalizeImage`` on a crop with whole-image statistics.

    f(x) = s * clip((x - mean) / sigma, -removeOutliers, removeOutliers), s = normalizeScale;
    sigma is the unbiased whole-image standard deviation (as sitk.Normalize).
    """
    if norm is None:
        return crop
    out = sitk.GetImageFromArray(normalise_values(sitk.GetArrayFromImage(crop), norm, settings))
    out.CopyInformation(crop)
    return out


def normalise_values(values: np.ndarray, norm, settings: dict) -> np.ndarray:
    """``apply_normalisation``'s arithmetic on a numpy array (float64 result)."""
    mean, sigma = norm
    arr = (np.asarray(values).astype(np.float64) - mean) * (1.0 / sigma)
    outliers = settings.get("removeOutliers")
    if outliers is not None:
        arr[arr > outliers] = outliers
        arr[arr < -outliers] = -outliers
    return arr * settings.get("normalizeScale", 1)


def _interpolator(name):
    if isinstance(name, str):
        if not hasattr(sitk, name):
            raise InputError(f"unknown interpolator '{name}' (use a SimpleITK name such as sitkBSpline)")
        return getattr(sitk, name)
    return int(name)


def _resampled_index_box(image: sitk.Image, lo_kji, hi_kji, settings: dict, extra_kji: np.ndarray):
    """pyradiomics ``resampleImage`` output region as (low, up, new spacing, old/new ratio), x-y-z.

    ``low``/``up``: inclusive bounds in indices of the resampled grid laid over the whole image, for
    the ROI box +- (padDistance + ``extra``) clipped to the image.
    """
    old = np.array(image.GetSpacing(), dtype=float)
    new = np.array(settings["resampledPixelSpacing"], dtype=float)
    if new.size != 3:
        raise InputError("resampledPixelSpacing needs 3 values (x, y, z)")
    new = np.where(new == 0, old, new)
    lo, hi = np.array(lo_kji[::-1], float), np.array(hi_kji[::-1], float)  # x, y, z
    bbsize = hi - lo + 1
    new = np.where(bbsize != 1, new, old)
    ratio = old / new
    pad = float(settings.get("padDistance", 5)) + np.array(extra_kji[::-1], float)
    low = np.floor((lo - 0.5) * ratio - pad)
    up = np.ceil((lo + bbsize - 0.5) * ratio + pad)
    max_up = np.ceil(np.array(image.GetSize()) * ratio) - 1
    low = np.where(low < 0, 0, low)
    up = np.where(up > max_up, max_up, up)
    return low, up, new, ratio


def resampled_grid(image: sitk.Image, lo_kji, hi_kji, settings: dict, extra_kji: np.ndarray):
    """pyradiomics ``resampleImage`` output grid (origin, size, spacing), padded by ``extra`` voxels.

    Grid points sit at image index ``0.5 * (s_new - s_old) / s_old + k * s_new / s_old`` along each
    axis: anchored to the image's first voxel corner, independent of the ROI, so two time points
    resampled this way share the grid phase. The region is the ROI box +- padDistance (as pyradiomics)
    widened by ``extra`` (filter margin), clipped to the image.
    """
    low, up, new, ratio = _resampled_index_box(image, lo_kji, hi_kji, settings, extra_kji)
    old = np.array(image.GetSpacing(), dtype=float)
    size = np.array(up - low + 1, dtype=int)
    origin_index = 0.5 * (new - old) / old + low / ratio
    origin = image.TransformContinuousIndexToPhysicalPoint(origin_index.tolist())
    return origin, size, new, origin_index


def resample_region(image: sitk.Image, mask: sitk.Image, lo_kji, hi_kji, settings: dict, norm,
                    extra_kji: np.ndarray) -> tuple[sitk.Image, sitk.Image]:
    """Resample image (interpolator) and mask (nearest neighbour) on pyradiomics' grid, crop-first.

    Only the source region under the output grid (+ RESAMPLE_SUPPORT_VOXELS) is read, normalised and
    interpolated. Output pixel type = input pixel type (float64 after normalisation), as pyradiomics.
    The mask is resampled on pyradiomics' own region (``extra`` 0) and zero-padded to the widened one:
    new grid points can fall exactly halfway between source voxels (e.g. 2.1 mm -> 2 mm), and there
    the nearest neighbour follows the last bit of the point's position, which depends on the region's
    origin. So the ROI is pyradiomics' whatever the filter margin (a widened grid moved a whole slice
    of breast1's ROI at 0.5 x 0.5 x 2 mm).
    """
    origin, size, new, origin_index = resampled_grid(image, lo_kji, hi_kji, settings, extra_kji)
    old = np.array(image.GetSpacing(), dtype=float)
    first = origin_index
    last = origin_index + (size - 1) * new / old
    src_lo = np.floor(first).astype(int) - RESAMPLE_SUPPORT_VOXELS
    src_hi = np.ceil(last).astype(int) + RESAMPLE_SUPPORT_VOXELS
    src = crop_image(image, src_lo[::-1], src_hi[::-1])
    src_mask = crop_image(mask, src_lo[::-1], src_hi[::-1])
    src_mask = sitk.Cast(src_mask == int(settings.get("label", 1)), sitk.sitkUInt8)
    src = apply_normalisation(src, norm, settings)
    rif = sitk.ResampleImageFilter()
    rif.SetOutputSpacing(new.tolist())
    rif.SetOutputDirection(image.GetDirection())
    rif.SetSize([int(s) for s in size])
    rif.SetOutputOrigin(origin)
    rif.SetOutputPixelType(src.GetPixelID())
    rif.SetInterpolator(_interpolator(settings.get("interpolator", "sitkBSpline")))
    out_image = rif.Execute(src)
    out_mask = _resampled_mask(image, src_mask, lo_kji, hi_kji, settings, extra_kji, rif)
    out_mask.CopyInformation(out_image)
    return out_image, out_mask


def _resampled_mask(image: sitk.Image, src_mask: sitk.Image, lo_kji, hi_kji, settings: dict,
                    extra_kji: np.ndarray, rif: sitk.ResampleImageFilter) -> sitk.Image:
    """ROI (uint8) resampled on pyradiomics' region, placed in the region widened by ``extra``."""
    origin, size, _, _ = resampled_grid(image, lo_kji, hi_kji, settings, np.zeros(3))
    rif.SetSize([int(s) for s in size])
    rif.SetOutputOrigin(origin)
    rif.SetOutputPixelType(src_mask.GetPixelID())
    rif.SetInterpolator(sitk.sitkNearestNeighbor)
    inner = sitk.GetArrayFromImage(rif.Execute(src_mask))
    low = _resampled_index_box(image, lo_kji, hi_kji, settings, np.zeros(3))[0]
    wide_low, wide_up, _, _ = _resampled_index_box(image, lo_kji, hi_kji, settings, extra_kji)
    out = np.zeros(tuple(int(v) for v in (wide_up - wide_low + 1)[::-1]), dtype=inner.dtype)
    start = (low - wide_low)[::-1].astype(int)
    out[tuple(slice(int(a), int(a) + n) for a, n in zip(start, inner.shape))] = inner
    return sitk.GetImageFromArray(out)


def needs_resampling(settings: dict) -> bool:
    return settings.get("interpolator") is not None and settings.get("resampledPixelSpacing") is not None


def prepare_region(image: sitk.Image, mask: sitk.Image, settings: dict, image_types: dict,
                   lesion_id: str, classes: dict | None = None, extra_margin: int = 0) -> Region:
    """Checks + crop-first preprocessing of one lesion: returns the working Region.

    Order as pyradiomics: label selection, normalisation (whole-image statistics), resampling,
    mask checks; then the crop is widened by the filter margin, and resegmentation is applied.
    ``Region.source`` describes the image pyradiomics would filter, relative to the crop.
    ``extra_margin``: voxels added to the filter margin (feature maps: the kernel radius).
    """
    check_geometry(image, mask)
    label = int(settings.get("label", 1))
    labels = sitk.GetArrayViewFromImage(mask)
    roi = labels == label
    lo, hi = roi_bbox(roi, lesion_id)
    norm = normalisation(image, settings)
    spacing_kji = np.array(image.GetSpacing()[::-1], dtype=float)
    pointwise = any(name in image_types for name in POINTWISE_IMAGE_TYPES)
    if needs_resampling(settings):
        new_sp = np.array(settings["resampledPixelSpacing"], dtype=float)[::-1]
        new_sp = np.where(new_sp == 0, spacing_kji, new_sp)
        extra = filter_margin_voxels(image_types, settings, new_sp, classes, source_margin=0) + extra_margin
        crop, crop_mask = resample_region(image, mask, lo, hi, settings, norm, extra)
        roi_crop = sitk.GetArrayFromImage(crop_mask) > 0
        source = _resampled_source(image, crop, lo, hi, settings, extra, pointwise)
    else:
        pre_crop = int(settings.get("padDistance", 5)) if settings.get("preCrop", False) else None
        extra = filter_margin_voxels(image_types, settings, spacing_kji, classes, source_margin=pre_crop) + extra_margin
        crop = crop_image(image, lo - extra, hi + extra)
        crop = apply_normalisation(crop, norm, settings)
        c_lo = np.maximum(lo - extra, 0)
        c_hi = np.minimum(hi + extra, np.array(roi.shape) - 1)
        roi_crop = np.array(roi[c_lo[0]:c_hi[0] + 1, c_lo[1]:c_hi[1] + 1, c_lo[2]:c_hi[2] + 1])
        source = _scan_source(image, lo, hi, c_lo, settings, norm, pointwise)
    if not roi_crop.any():
        raise LesionError(lesion_id, "the segment vanished after resampling (smaller than one new voxel)")
    r_lo, r_hi = roi_bbox(roi_crop, lesion_id)
    check_roi(r_lo, r_hi, int(roi_crop.sum()), settings, lesion_id)
    box = tuple(slice(int(a), int(b) + 1) for a, b in zip(r_lo, r_hi))
    return Region(image=crop, mask=roi_crop, box=box, source=source)


# ----------------------------------------------------------------------------------------------
# the image pyradiomics filters
# ----------------------------------------------------------------------------------------------
#: image types whose values are rescaled by the largest |value| of the image pyradiomics filters
POINTWISE_IMAGE_TYPES = ("Square", "SquareRoot", "Logarithm", "Exponential")
#: image types whose values on a crop equal those on the whole scan: they read only the ROI box + their
#: margin, no scan-wide value (the pointwise types scale by the scan's max |x|) and no scan index (LBP
#: places its samples in scan indices); checked bit for bit by Testing/response_signature/test_parallel_lesions.py
CROP_SAFE_IMAGE_TYPES = ("Original", "LoG", "Wavelet", "Gradient")


def input_margin_voxels(params: dict | None, spacing_kji: np.ndarray) -> np.ndarray | None:
    """Voxels (k, j, i) around the ROI box that ``extract_features`` reads (the margin ``prepare_region``
    crops with), or None when its features depend on the whole scan: normalisation (scan statistics),
    resampling (grid anchored to the scan) or an image type outside CROP_SAFE_IMAGE_TYPES.
    """
    if "ibsi" in (params or {}):  # IBSI's interpolation grid is centred on the whole scan
        return None
    settings, image_types, classes = split_params(params, label=1)
    if settings.get("normalize") or needs_resampling(settings) or set(image_types) - set(CROP_SAFE_IMAGE_TYPES):
        return None
    return np.asarray(filter_margin_voxels(image_types, settings, spacing_kji, classes), dtype=int)


@dataclass
class Source:
    """Where the image pyradiomics would hand to a filter lies relative to a crop, and its max |value|.

    pyradiomics filters the whole (normalised) scan; with ``preCrop`` the ROI box + padDistance; after
    resampling, the resampled ROI box + padDistance. ``lo``/``hi``: that image's k-j-i index bounds
    (``hi`` exclusive) in crop indices, beyond the crop (``lo`` < 0, ``hi`` > crop size) where it is
    larger. ``abs_max``: its largest |value| (None: not computed; then the crop's part of it is used).
    Filters that read neighbours (Gradient, LBP) read only inside this image, with its borders, and
    form coordinates from its indices; the pointwise ones scale by ``abs_max``.
    """

    lo: np.ndarray
    hi: np.ndarray
    abs_max: float | None = None

    def window(self, shape: tuple, box: tuple, margin: np.ndarray) -> tuple[tuple, tuple, np.ndarray]:
        """(region of the crop to filter, ``box`` inside that region, region start in source indices).

        The region is ``box`` + ``margin`` voxels, within both the crop and the source image.
        """
        region, inner = [], []
        for axis, (size, sl) in enumerate(zip(shape, box)):
            start = max(sl.start - int(margin[axis]), int(self.lo[axis]), 0)
            stop = min(sl.stop + int(margin[axis]), int(self.hi[axis]), size)
            region.append(slice(start, stop))
            inner.append(slice(sl.start - start, sl.stop - start))
        start = np.array([r.start for r in region]) - np.asarray(self.lo)
        return tuple(region), tuple(inner), start

    def max_abs(self, values: np.ndarray) -> float:
        """``abs_max``, or (not computed) the largest |value| of the source's part of the crop."""
        if self.abs_max is not None:
            return self.abs_max
        part = tuple(slice(max(int(a), 0), min(int(b), s)) for a, b, s in zip(self.lo, self.hi, values.shape))
        return float(np.max(np.abs(np.asarray(values[part], dtype=np.float64))))


def whole_crop_source(crop: sitk.Image) -> Source:
    """The Source when the crop itself is the image pyradiomics filters."""
    return Source(np.zeros(3, dtype=int), np.array(crop.GetSize()[::-1]))


def _scan_source(image: sitk.Image, lo: np.ndarray, hi: np.ndarray, c_lo: np.ndarray, settings: dict, norm,
                 pointwise: bool) -> Source:
    """Source without resampling: the whole scan, or with preCrop the ROI box + padDistance.

    Its max |value| (for pointwise types only) comes from the scan's minimum and maximum: the
    normalisation is monotone, so they map to the extremes of the normalised image.
    """
    shape = np.array(image.GetSize()[::-1])
    if settings.get("preCrop", False):
        pad = int(settings.get("padDistance", 5))
        s_lo, s_hi = np.maximum(lo - pad, 0), np.minimum(hi + pad, shape - 1) + 1
    else:
        s_lo, s_hi = np.zeros(3, dtype=int), shape
    abs_max = None
    if pointwise:
        part = image
        if np.any(s_lo > 0) or np.any(s_hi < shape):
            part = crop_image(image, s_lo, s_hi - 1)
        stats = sitk.MinimumMaximumImageFilter()
        stats.Execute(part)
        extremes = np.array([stats.GetMinimum(), stats.GetMaximum()], dtype=np.float64)
        if norm is not None:
            extremes = normalise_values(extremes, norm, settings)
        abs_max = float(np.max(np.abs(extremes)))
    return Source(s_lo - c_lo, s_hi - c_lo, abs_max)


def _resampled_source(image: sitk.Image, crop: sitk.Image, lo: np.ndarray, hi: np.ndarray, settings: dict,
                      extra: np.ndarray, pointwise: bool) -> Source:
    """Source after resampling: pyradiomics' resampled region (ROI box + padDistance), inside the crop.

    Both regions lie on the same grid (anchored to the image), so pyradiomics' region is a sub-box of
    the crop (which adds ``extra`` voxels per side).
    """
    low, up, _, _ = _resampled_index_box(image, lo, hi, settings, np.zeros(3))
    crop_low = _resampled_index_box(image, lo, hi, settings, extra)[0]
    s_lo = (low - crop_low)[::-1].astype(int)
    s_hi = (up + 1 - crop_low)[::-1].astype(int)
    source = Source(s_lo, s_hi)
    if pointwise:
        source.abs_max = source.max_abs(sitk.GetArrayViewFromImage(crop))
    return source


def resegment(values: np.ndarray, roi: np.ndarray, settings: dict, lesion_id: str) -> np.ndarray:
    """pyradiomics ``resegmentMask``: keep ROI voxels whose value lies in resegmentRange.

    Modes: 'absolute' (thresholds as given), 'relative' (fraction of the ROI maximum), 'sigma'
    (mean + k * SD of the ROI).
    """
    rng = settings.get("resegmentRange")
    if rng is None:
        return roi
    if len(rng) == 0 or len(rng) > 2:
        raise InputError(f"resegmentRange needs 1 or 2 values, got {rng}")
    mode = settings.get("resegmentMode", "absolute")
    inside = values[roi]
    if mode == "absolute":
        th = sorted(rng)
    elif mode == "relative":
        th = [np.max(inside) * t for t in sorted(rng)]
    elif mode == "sigma":
        th = [np.mean(inside) + np.std(inside) * t for t in sorted(rng)]
    else:
        raise InputError(f"unknown resegmentMode '{mode}'")
    keep = inside >= th[0]
    if len(th) == 2:
        keep &= inside <= th[1]
    if keep.sum() <= 1:
        raise LesionError(lesion_id, f"resegmentation {rng} left {int(keep.sum())} voxel(s)")
    out = roi.copy()
    out[roi] = keep
    return out


# ----------------------------------------------------------------------------------------------
# discretisation
# ----------------------------------------------------------------------------------------------
def bin_edges(values: np.ndarray, settings: dict) -> np.ndarray:
    """pyradiomics ``getBinEdges``.

    binCount n: the n equal-width edges of ``numpy.histogram`` with the top edge raised by 1.
    binWidth w (default 25): edges ``arange(min - (min mod w), max + 2w, w)``, aligned on multiples
    of w (IBSI fixed bin size with origin 0). Arithmetic is done in the image's own dtype, as
    pyradiomics does, so bin assignments agree to the last bit.
    """
    count = settings.get("binCount")
    if count is not None:
        edges = np.histogram(values, int(count))[1]
        edges[-1] += 1
        return edges
    width = settings.get("binWidth", 25)
    vmin, vmax = np.min(values), np.max(values)
    if values.dtype.kind in "iu" and int(vmax) + 2 * width > np.iinfo(values.dtype).max:
        # near the top of a small integer type pyradiomics' arithmetic would wrap around; widen
        vmin, vmax = np.int64(vmin), np.int64(vmax)
    low = vmin - (vmin % width)
    high = vmax + 2 * width
    edges = np.arange(low, high, width)
    if len(edges) == 1:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def discretise(values: np.ndarray, settings: dict) -> np.ndarray:
    """Gray levels 1..Ng of the ROI values: ``digitize(values, bin_edges(values))``."""
    return np.digitize(values, bin_edges(values, settings)).astype(np.int64)
