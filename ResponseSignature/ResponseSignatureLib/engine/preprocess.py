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
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from ..errors import InputError, LesionError

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
#: influence decays as 0.268^k) sees the same neighbourhood as on the whole scan (0.268^14 < 1e-8).
RESAMPLE_SUPPORT_VOXELS = 14


@dataclass
class Region:
    """A lesion's working region: image crop (SimpleITK), ROI mask on it (bool, k-j-i), and the ROI box."""

    image: sitk.Image
    mask: np.ndarray
    box: tuple = field(default_factory=tuple)  # slices of the ROI bounding box inside the crop (k, j, i)

    @property
    def spacing_kji(self) -> np.ndarray:
        return np.array(self.image.GetSpacing()[::-1], dtype=float)


# ----------------------------------------------------------------------------------------------
# settings
# ----------------------------------------------------------------------------------------------
def split_params(params: dict | None, label: int | None = None) -> tuple[dict, dict, dict]:
    """pyradiomics parameter dict -> (settings, image types, feature classes), defaults filled in.

    An empty or missing ``imageType`` means ``{'Original': {}}``; an empty or missing
    ``featureClass`` means every class (pyradiomics' rule; shape2D is not supported here).
    A class mapped to ``None`` or ``[]`` means all its non-deprecated features.
    """
    params = dict(params or {})
    unknown = set(params) - {"setting", "imageType", "featureClass", "voxelSetting"}
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
        classes = {c: None for c in ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")}
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
# margins
# ----------------------------------------------------------------------------------------------
def filter_margin_voxels(image_types: dict, settings: dict, spacing_kji: np.ndarray,
                         classes: dict | None = None) -> np.ndarray:
    """Per-axis crop margin (voxels) from the filter supports; 0 for the Original image only.

    LoG: the largest sigma's margin, max(LOG_MIN_MARGIN_MM, 4 sigma) + 1 voxel (each sigma is then
    filtered on its own sub-crop, see ``filters.log``). Wavelet: ``dec_len * 2**levels + 1`` voxels.
    """
    from .filters import log_margin_voxels

    vox = np.zeros(3, dtype=int)
    if "LoG" in image_types:
        args = dict(settings)
        args.update(image_types["LoG"])
        sig = [float(s) for s in (args.get("sigma") or []) if float(s) > 0]
        if sig:
            vox = log_margin_voxels(max(sig), spacing_kji)
    if "Wavelet" in image_types:
        import pywt

        args = dict(settings)
        args.update(image_types["Wavelet"])
        w = pywt.Wavelet(args.get("wavelet", "coif1"))
        levels = int(args.get("start_level", 0)) + int(args.get("level", 1))
        vox = np.maximum(vox, w.dec_len * 2 ** levels + 1)
    if classes and "ibsi" in classes:  # intensity peaks: 1 cm^3 sphere around ROI voxels
        from .ibsi import PEAK_RADIUS_MM

        vox = np.maximum(vox, np.ceil(PEAK_RADIUS_MM / spacing_kji).astype(int) + 1)
    return vox


# ----------------------------------------------------------------------------------------------
# crop, normalise, resample
# ----------------------------------------------------------------------------------------------
def crop_image(image: sitk.Image, lo_kji: np.ndarray, hi_kji: np.ndarray) -> sitk.Image:
    """Crop to the inclusive k-j-i box (clipped to the image), keeping physical placement."""
    size = np.array(image.GetSize()[::-1])
    lo = np.maximum(lo_kji, 0)
    hi = np.minimum(hi_kji, size - 1)
    return image[int(lo[2]):int(hi[2]) + 1, int(lo[1]):int(hi[1]) + 1, int(lo[0]):int(hi[0]) + 1]


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
    mean, sigma = norm
    arr = (sitk.GetArrayFromImage(crop).astype(np.float64) - mean) * (1.0 / sigma)
    outliers = settings.get("removeOutliers")
    if outliers is not None:
        arr[arr > outliers] = outliers
        arr[arr < -outliers] = -outliers
    arr = arr * settings.get("normalizeScale", 1)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(crop)
    return out


def _interpolator(name):
    if isinstance(name, str):
        if not hasattr(sitk, name):
            raise InputError(f"unknown interpolator '{name}' (use a SimpleITK name such as sitkBSpline)")
        return getattr(sitk, name)
    return int(name)


def resampled_grid(image: sitk.Image, lo_kji, hi_kji, settings: dict, extra_kji: np.ndarray):
    """pyradiomics ``resampleImage`` output grid (origin, size, spacing), padded by ``extra`` voxels.

    Grid points sit at image index ``0.5 * (s_new - s_old) / s_old + k * s_new / s_old`` along each
    axis: anchored to the image's first voxel corner, independent of the ROI, so two time points
    resampled this way share the grid phase. The region is the ROI box +- padDistance (as pyradiomics)
    widened by ``extra`` (filter margin), clipped to the image.
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
    size = np.array(up - low + 1, dtype=int)
    origin_index = 0.5 * (new - old) / old + low / ratio
    origin = image.TransformContinuousIndexToPhysicalPoint(origin_index.tolist())
    return origin, size, new, origin_index


def resample_region(image: sitk.Image, mask: sitk.Image, lo_kji, hi_kji, settings: dict, norm,
                    extra_kji: np.ndarray) -> tuple[sitk.Image, sitk.Image]:
    """Resample image (interpolator) and mask (nearest neighbour) on pyradiomics' grid, crop-first.

    Only the source region under the output grid (+ RESAMPLE_SUPPORT_VOXELS) is read, normalised and
    interpolated. Output pixel type = input pixel type (float64 after normalisation), as pyradiomics.
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
    rif.SetOutputPixelType(src_mask.GetPixelID())
    rif.SetInterpolator(sitk.sitkNearestNeighbor)
    out_mask = rif.Execute(src_mask)
    return out_image, out_mask


def needs_resampling(settings: dict) -> bool:
    return settings.get("interpolator") is not None and settings.get("resampledPixelSpacing") is not None


def prepare_region(image: sitk.Image, mask: sitk.Image, settings: dict, image_types: dict,
                   lesion_id: str, classes: dict | None = None) -> Region:
    """Checks + crop-first preprocessing of one lesion: returns the working Region.

    Order as pyradiomics: label selection, normalisation (whole-image statistics), resampling,
    mask checks; then the crop is widened by the filter margin, and resegmentation is applied.
    """
    check_geometry(image, mask)
    label = int(settings.get("label", 1))
    labels = sitk.GetArrayViewFromImage(mask)
    roi = labels == label
    lo, hi = roi_bbox(roi, lesion_id)
    norm = normalisation(image, settings)
    spacing_kji = np.array(image.GetSpacing()[::-1], dtype=float)
    if needs_resampling(settings):
        new_sp = np.array(settings["resampledPixelSpacing"], dtype=float)[::-1]
        new_sp = np.where(new_sp == 0, spacing_kji, new_sp)
        extra = filter_margin_voxels(image_types, settings, new_sp, classes)
        crop, crop_mask = resample_region(image, mask, lo, hi, settings, norm, extra)
        roi_crop = sitk.GetArrayFromImage(crop_mask) > 0
    else:
        extra = filter_margin_voxels(image_types, settings, spacing_kji, classes)
        crop = crop_image(image, lo - extra, hi + extra)
        crop = apply_normalisation(crop, norm, settings)
        c_lo = np.maximum(lo - extra, 0)
        c_hi = np.minimum(hi + extra, np.array(roi.shape) - 1)
        roi_crop = np.array(roi[c_lo[0]:c_hi[0] + 1, c_lo[1]:c_hi[1] + 1, c_lo[2]:c_hi[2] + 1])
    if not roi_crop.any():
        raise LesionError(lesion_id, "the segment vanished after resampling (smaller than one new voxel)")
    r_lo, r_hi = roi_bbox(roi_crop, lesion_id)
    check_roi(r_lo, r_hi, int(roi_crop.sum()), settings, lesion_id)
    box = tuple(slice(int(a), int(b) + 1) for a, b in zip(r_lo, r_hi))
    return Region(image=crop, mask=roi_crop, box=box)


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
