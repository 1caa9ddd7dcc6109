"""IBSI 1 image processing: interpolation, re-segmentation and discretisation as the IBSI manual defines them.

The settings live in their own ``ibsi:`` section of a parameter file, so that they never change what a
pyradiomics parameter file means (pyradiomics' ``setting:`` section keeps pyradiomics' semantics, e.g.
its resampling grid anchored to the image corner and its bin edges aligned on multiples of the bin
width). Each key, with the IBSI term it implements (IBSI 1 reference manual, chapter "Image
processing", and the configuration table of the CT phantom):

``dimension``  (IBSI "slice-wise (2D) or single volume (3D)"): ``2D`` or ``3D`` (default). 2D: texture
    matrices per axial slice (aggregations 2D and 2.5D); 3D: volumetric (3D).
``spacing``  ("resampled voxel spacing", mm): ``[x, y]`` interpolates within the axial slices only
    (IBSI 2D interpolation, slice spacing kept), ``[x, y, z]`` volumetrically; absent/null: none.
``interpolation``  ("interpolation method"): ``nearest``, ``linear`` (bi-/trilinear) or ``cubic``
    (cubic spline) on IBSI's grid: size per axis ``ceil(n_a s_a / s_b)`` ("grid size by ceiling"),
    grid centres aligned ("align grid centers", 3WE3), the image padded with its boundary
    intensities beyond its edge ("nearest-boundary padding").
``intensity_rounding``  ("intensity rounding"): true = interpolated intensities rounded to the nearest
    integer (calibrated integer units such as HU).
``mask_interpolation``  ("ROI interpolation method"): ``linear`` (default) or ``nearest``;
``mask_partial_volume``  ("ROI partial mask volume", default 0.5): a voxel belongs to the interpolated
    ROI when its interpolated mask value is >= this threshold.
``resegmentation_range``  ("re-segmentation range", USB3): ``[a, b]`` or ``[a, null]`` (b = infinity);
    voxels outside leave the intensity mask, the morphological mask keeps them (ECJF).
``outlier_filtering``  ("intensity outlier filtering", 7ACA): k, e.g. 3 = voxels outside
    mean +/- 3 SD of the morphological mask's intensities leave the intensity mask. With a range as
    well, the intersection of both ranges is used.
``discretisation``  (texture and intensity histogram): ``{method: fixed_bin_size, bin_size: w}`` (FBS,
    Q3RU: floor((X - X_min) / w) + 1 with X_min the lower bound of the re-segmentation range, or
    ``lower_bound`` if given, else the ROI minimum) or ``{method: fixed_bin_number, bins: N}`` (FBN, K15C).
``ivh_discretisation``  (intensity-volume histogram, P88C): ``none`` (default: discrete calibrated
    intensities, range = the re-segmentation range, else the ROI range, step 1),
    ``{method: fixed_bin_size, bin_size: w}`` (continuous calibrated intensities: bin centres
    X_min + (X_d - 0.5) w over the re-segmentation range) or ``{method: fixed_bin_number, bins: N}``
    (arbitrary units: levels 1..N).
``distance``  (GLCM, NGTDM and NGLDM distance, default 1); ``ngldm_coarseness`` (NGLDM alpha, default 0).
``aggregation``  (texture aggregation): the variants to report, default all of the ``dimension``:
    2D: ``2D:avg`` (BTW3), ``2D:smrg`` (SUJT), ``2.5D:dmrg`` (JJUI), ``2.5D:mrg`` (ZW7Z) for GLCM/GLRLM,
    ``2D`` (8QNN), ``2.5D`` (62GR) for GLSZM/GLDZM/NGTDM/NGLDM; 3D: ``3D:avg`` (ITBB), ``3D:mrg``
    (IAZD), ``3D`` (KOBO).
``families``  (default all): morph, li, stat, ih, ivh, glcm, glrlm, glszm, gldzm, ngtdm, ngldm.

Morphology, local intensity, intensity statistics, histograms and IVH are computed over the 3D ROI in
every configuration (IBSI DHQ4), after the same interpolation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..errors import InputError, LesionError
from .preprocess import RESAMPLE_SUPPORT_VOXELS

#: the parameter-file section holding these settings
SECTION = "ibsi"
FAMILIES = ("morph", "li", "stat", "ih", "ivh", "glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm")
#: texture aggregations per dimension: (GLCM/GLRLM variants, GLSZM/GLDZM/NGTDM/NGLDM variants)
AGGREGATIONS = {
    "2D": (("2D:avg", "2D:smrg", "2.5D:dmrg", "2.5D:mrg"), ("2D", "2.5D")),
    "3D": (("3D:avg", "3D:mrg"), ("3D",)),
}
DEFAULT_DISCRETISATION = {"method": "fixed_bin_number", "bins": 32}
INTERPOLATION_ORDER = {"nearest": 0, "linear": 1, "cubic": 3}
KEYS = ("dimension", "spacing", "interpolation", "intensity_rounding", "mask_interpolation", "mask_partial_volume",
        "resegmentation_range", "outlier_filtering", "discretisation", "ivh_discretisation", "distance",
        "ngldm_coarseness", "aggregation", "families")


@dataclass(frozen=True)
class Discretisation:
    """Fixed bin size (``bin_size``, optional ``lower_bound``) or fixed bin number (``bins``)."""

    method: str
    bin_size: float | None = None
    bins: int | None = None
    lower_bound: float | None = None

    @classmethod
    def parse(cls, value, what: str) -> Discretisation | None:
        if value is None or value == "none":
            return None
        if not isinstance(value, dict):
            raise InputError(f"ibsi {what} must be a mapping such as {{method: fixed_bin_size, bin_size: 25}}")
        unknown = sorted(set(value) - {"method", "bin_size", "bins", "lower_bound"})
        method = value.get("method")
        if unknown:
            raise InputError(f"ibsi {what}: unknown key(s) {', '.join(unknown)}")
        if method == "fixed_bin_size":
            size = float(value.get("bin_size") or 0)
            if size <= 0:
                raise InputError(f"ibsi {what}: fixed_bin_size needs bin_size > 0")
            low = value.get("lower_bound")
            return cls(method, bin_size=size, lower_bound=None if low is None else float(low))
        if method == "fixed_bin_number":
            bins = int(value.get("bins") or 0)
            if bins < 1:
                raise InputError(f"ibsi {what}: fixed_bin_number needs bins >= 1")
            return cls(method, bins=bins)
        raise InputError(f"ibsi {what}: method must be fixed_bin_size or fixed_bin_number, got {method!r}")


@dataclass(frozen=True)
class IBSISettings:
    """The ``ibsi:`` section, checked (see the module docstring for each key)."""

    dimension: str = "3D"
    spacing: tuple | None = None
    interpolation: str = "linear"
    intensity_rounding: bool = False
    mask_interpolation: str = "linear"
    mask_partial_volume: float = 0.5
    resegmentation_range: tuple | None = None
    outlier_filtering: float | None = None
    discretisation: Discretisation = Discretisation(**DEFAULT_DISCRETISATION)
    ivh_discretisation: Discretisation | None = None
    distance: int = 1
    ngldm_coarseness: int = 0
    aggregation: tuple = ()
    families: tuple = FAMILIES

    @classmethod
    def from_section(cls, section: dict | None) -> IBSISettings:
        """Checked settings from the ``ibsi:`` mapping (InputError naming the bad key)."""
        section = dict(section or {})
        unknown = sorted(set(section) - set(KEYS))
        if unknown:
            raise InputError(f"unknown ibsi setting(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
        dimension = str(section.get("dimension", "3D"))
        if dimension not in AGGREGATIONS:
            raise InputError(f"ibsi dimension must be 2D or 3D, got {dimension!r}")
        spacing = section.get("spacing")
        if spacing is not None:
            spacing = tuple(float(s) for s in spacing)
            if len(spacing) not in (2, 3) or min(spacing) <= 0:
                raise InputError(f"ibsi spacing must be [x, y] or [x, y, z] in mm (> 0), got {section['spacing']}")
        for key in ("interpolation", "mask_interpolation"):
            if str(section.get(key, "linear")) not in INTERPOLATION_ORDER:
                raise InputError(f"ibsi {key} must be one of {', '.join(INTERPOLATION_ORDER)}")
        rng = section.get("resegmentation_range")
        if rng is not None:
            if len(rng) != 2 or rng[0] is None:
                raise InputError(f"ibsi resegmentation_range must be [a, b] or [a, null], got {rng}")
            rng = (float(rng[0]), None if rng[1] is None else float(rng[1]))
        outlier = section.get("outlier_filtering")
        all_aggregations = sum(AGGREGATIONS[dimension], ())
        aggregation = tuple(section.get("aggregation") or all_aggregations)
        bad = sorted(set(aggregation) - set(all_aggregations))
        if bad:
            raise InputError(f"ibsi aggregation {', '.join(bad)} not available in {dimension} "
                             f"(available: {', '.join(all_aggregations)})")
        families = tuple(section.get("families") or FAMILIES)
        bad = sorted(set(families) - set(FAMILIES))
        if bad:
            raise InputError(f"unknown ibsi feature families {', '.join(bad)} (known: {', '.join(FAMILIES)})")
        return cls(
            dimension=dimension, spacing=spacing, interpolation=str(section.get("interpolation", "linear")),
            intensity_rounding=bool(section.get("intensity_rounding", False)),
            mask_interpolation=str(section.get("mask_interpolation", "linear")),
            mask_partial_volume=float(section.get("mask_partial_volume", 0.5)),
            resegmentation_range=rng, outlier_filtering=None if outlier is None else float(outlier),
            discretisation=Discretisation.parse(section.get("discretisation", DEFAULT_DISCRETISATION),
                                                "discretisation"),
            ivh_discretisation=Discretisation.parse(section.get("ivh_discretisation"), "ivh_discretisation"),
            distance=int(section.get("distance", 1)), ngldm_coarseness=int(section.get("ngldm_coarseness", 0)),
            aggregation=aggregation, families=families,
        )


def settings_from_params(params: dict) -> tuple[IBSISettings, int]:
    """(checked ``ibsi:`` settings, ROI label) of a parameter dict that has an ``ibsi:`` section.

    Beside it only ``setting: {label: n}`` and ``imageType: {Original: {}}`` are accepted: pyradiomics'
    processing settings (resampling, binWidth, resegmentRange...) have IBSI counterparts in the section,
    and silently ignoring one would misreport what was computed. Families are chosen with
    ``ibsi: {families: [...]}``, not ``featureClass``.
    """
    extra = sorted(key for key in set(params) - {SECTION, "setting", "imageType"} if params[key])  # empty: absent
    setting = dict(params.get("setting") or {})
    ignored = sorted(set(setting) - {"label"})
    types = dict(params.get("imageType") or {"Original": {}})
    if extra or ignored or set(types) != {"Original"} or any(types.values()):
        what = extra + [f"setting {name}" for name in ignored] + [f"imageType {name}" for name in types
                                                                   if name != "Original"]
        found = ", ".join(what) or "imageType options"
        raise InputError(f"with an 'ibsi' section only 'setting: label' may accompany it (found: {found}); "
                         "IBSI processing is set in the section itself (see engine/ibsi_processing.py)")
    return IBSISettings.from_section(params.get(SECTION)), int(setting.get("label", 1))


@dataclass
class ProcessedROI:
    """An image and its ROI after IBSI processing, on the ROI's bounding box plus ``margin`` voxels.

    Arrays are indexed (k, j, i); ``levels`` holds the discretised grey levels 1..Ng inside the intensity
    mask and 0 elsewhere; ``ivh`` the IVH intensities of the intensity-mask voxels with the IVH range
    ``ivh_range`` = (lowest, highest, step).
    """

    image: np.ndarray
    morph: np.ndarray
    intensity: np.ndarray
    spacing: np.ndarray
    levels: np.ndarray
    ivh: np.ndarray
    ivh_range: tuple
    settings: IBSISettings
    diagnostics: dict = field(default_factory=dict)

    @property
    def values(self) -> np.ndarray:
        """Intensities of the intensity-mask voxels (IBSI X_gl)."""
        return self.image[self.intensity]


# ------------------------------------------------------------------------------------------------
# interpolation (IBSI "Interpolation grid": ceiling size, aligned centres, boundary padding)
# ------------------------------------------------------------------------------------------------
def grid_axis(n_a: int, s_a: float, s_b: float) -> tuple[int, float]:
    """(n_b, first grid coordinate) of IBSI's interpolation grid along one axis.

    n_b = ceil(n_a s_a / s_b); the new grid's centre coincides with the old one's, so its first point
    lies at x_b = (n_a - 1 - (s_b / s_a)(n_b - 1)) / 2 in the original grid's voxel coordinates.
    """
    n_b = int(np.ceil(n_a * s_a / s_b - 1e-6))  # 1e-6: 60 x 3 mm / 2 mm is 90, not 91, in floating point
    return n_b, 0.5 * (n_a - 1 - (s_b / s_a) * (n_b - 1))


def grid_points(shape, spacing_kji: np.ndarray, target_kji: np.ndarray) -> list[np.ndarray]:
    """Per axis, the points of IBSI's interpolation grid of the whole image in its voxel coordinates."""
    axes = []
    for n_a, s_a, s_b in zip(shape, spacing_kji, target_kji):
        n_b, first = grid_axis(n_a, s_a, s_b)
        axes.append(first + np.arange(n_b) * (s_b / s_a))
    return axes


def _sample(array: np.ndarray, axes: list[np.ndarray], order: int) -> np.ndarray:
    """``array`` at the grid ``axes`` (voxel coordinates), padded with its boundary values beyond its edge.

    Only the source voxels under the points are read (plus RESAMPLE_SUPPORT_VOXELS for the cubic
    spline, whose prefilter is infinite but decays below 1e-8 over that margin; linear and nearest are
    exact): a lesion's region, not the whole scan, is held in memory.
    """
    support = RESAMPLE_SUPPORT_VOXELS if order > 1 else 1
    lo = [max(int(np.floor(a.min())) - support, 0) for a in axes]
    hi = [min(int(np.ceil(a.max())) + support, n - 1) for a, n in zip(axes, array.shape)]
    source = np.asarray(array[tuple(slice(a, b + 1) for a, b in zip(lo, hi))], dtype=np.float64)
    coords = np.meshgrid(*[a - offset for a, offset in zip(axes, lo)], indexing="ij")
    return ndimage.map_coordinates(source, coords, order=order, mode="nearest", prefilter=order > 1)


def interpolate(image: np.ndarray, mask: np.ndarray, spacing_kji: np.ndarray, s: IBSISettings,
                margin_mm: float = 0.0):
    """(image, mask (bool), spacing) on IBSI's grid around the ROI, or as given when ``spacing`` is unset.

    The grid is the whole image's (so it does not depend on the ROI); only its points within the
    ROI's bounding box plus ``margin_mm`` and one new voxel are computed.
    """
    if s.spacing is None:
        return np.asarray(image, dtype=np.float64), np.asarray(mask, dtype=bool), spacing_kji
    target = np.array(s.spacing[::-1], dtype=float)  # (z,) y, x
    if target.size == 2:  # in-plane (IBSI 2D interpolation): slices stay where they are
        target = np.concatenate(([spacing_kji[0]], target))
    bounds = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != d)))[[0, -1]] for d in range(3)]
    reach = (margin_mm + target) / spacing_kji + 1  # in source voxels
    axes = [a[(a >= first - r) & (a <= last + r)]
            for a, (first, last), r in zip(grid_points(image.shape, spacing_kji, target), bounds, reach)]
    new_image = _sample(image, axes, INTERPOLATION_ORDER[s.interpolation])
    if s.intensity_rounding:
        new_image = np.floor(new_image + 0.5)  # nearest integer, halves up
    new_mask = _sample(mask, axes, INTERPOLATION_ORDER[s.mask_interpolation])
    return new_image, new_mask >= s.mask_partial_volume - 1e-9, target


# ------------------------------------------------------------------------------------------------
# re-segmentation (IBSI IF9H: range USB3, outliers 7ACA; intensity vs morphological mask ECJF)
# ------------------------------------------------------------------------------------------------
def resegment(image: np.ndarray, morph: np.ndarray, s: IBSISettings) -> np.ndarray:
    """The intensity mask: ``morph`` voxels within the re-segmentation range and the outlier range."""
    values = image[morph]
    low, high = -np.inf, np.inf
    if s.resegmentation_range is not None:
        low = s.resegmentation_range[0]
        high = np.inf if s.resegmentation_range[1] is None else s.resegmentation_range[1]
    if s.outlier_filtering is not None:
        mu, sd = float(np.mean(values)), float(np.std(values))
        low, high = max(low, mu - s.outlier_filtering * sd), min(high, mu + s.outlier_filtering * sd)
    return morph & (image >= low) & (image <= high)


# ------------------------------------------------------------------------------------------------
# discretisation (IBSI 4R0B)
# ------------------------------------------------------------------------------------------------
def fbs_lower_bound(d: Discretisation, values: np.ndarray, s: IBSISettings) -> float:
    """X_min of fixed bin size: ``lower_bound``, else the re-segmentation range's, else the ROI minimum."""
    if d.lower_bound is not None:
        return d.lower_bound
    if s.resegmentation_range is not None:
        return s.resegmentation_range[0]
    return float(np.min(values))


def discretise(values: np.ndarray, d: Discretisation, s: IBSISettings) -> np.ndarray:
    """Grey levels 1, 2, ... of ``values`` by fixed bin size (Q3RU) or fixed bin number (K15C)."""
    if d.method == "fixed_bin_size":
        return (np.floor((values - fbs_lower_bound(d, values, s)) / d.bin_size) + 1).astype(np.int64)
    low, high = float(np.min(values)), float(np.max(values))
    if high == low:
        return np.ones(values.shape, dtype=np.int64)
    q = np.floor(d.bins * (values - low) / (high - low)).astype(np.int64) + 1
    return np.minimum(q, d.bins)


def ivh_intensities(values: np.ndarray, s: IBSISettings) -> tuple[np.ndarray, tuple]:
    """(IVH intensities X_d,gl, (lowest, highest, step) of the IVH range G) per IBSI P88C."""
    d = s.ivh_discretisation
    rng = s.resegmentation_range
    if d is None:  # discrete calibrated intensities: no discretisation, step 1
        low = rng[0] if rng is not None else float(np.min(values))
        high = rng[1] if rng is not None and rng[1] is not None else float(np.max(values))
        return values, (low, high, 1.0)
    if d.method == "fixed_bin_number":  # arbitrary intensity units: levels 1..N
        return discretise(values, d, s).astype(float), (1.0, float(d.bins), 1.0)
    low = fbs_lower_bound(d, values, s)  # continuous calibrated intensities: bin centres
    high = rng[1] if rng is not None and rng[1] is not None else float(np.max(values))
    centres = low + (discretise(values, d, s) - 0.5) * d.bin_size
    return centres, (low + 0.5 * d.bin_size, high - 0.5 * d.bin_size, d.bin_size)


# ------------------------------------------------------------------------------------------------
# the chain
# ------------------------------------------------------------------------------------------------
def process(image: sitk.Image, mask: sitk.Image, s: IBSISettings, label: int = 1, lesion_id: str = "lesion",
            margin_mm: float = 0.0) -> ProcessedROI:
    """Interpolate, re-segment and discretise ``image`` inside ``mask == label`` per IBSI.

    The result is cut to the interpolated ROI's bounding box plus ``margin_mm`` (clipped to the image),
    e.g. room for the local intensity sphere. Image and mask must share their grid.
    """
    spacing = np.array(image.GetSpacing()[::-1], dtype=float)
    roi = sitk.GetArrayViewFromImage(mask) == label
    if not roi.any():
        raise LesionError(lesion_id, f"the mask holds no voxel of label {label}")
    arr, roi, spacing = interpolate(sitk.GetArrayViewFromImage(image), roi, spacing, s, margin_mm)
    if np.count_nonzero(roi) < 2:
        raise LesionError(lesion_id, "the ROI holds fewer than 2 voxels after IBSI interpolation")
    nz = np.nonzero(roi.any(axis=(1, 2)))[0], np.nonzero(roi.any(axis=(0, 2)))[0], np.nonzero(roi.any(axis=(0, 1)))[0]
    pad = np.ceil(margin_mm / spacing).astype(int)
    box = tuple(slice(max(int(ax[0]) - p, 0), min(int(ax[-1]) + p + 1, n)) for ax, p, n in zip(nz, pad, roi.shape))
    arr, roi = arr[box], roi[box]
    intensity = resegment(arr, roi, s)
    if np.count_nonzero(intensity) < 2:
        raise LesionError(lesion_id, "re-segmentation left fewer than 2 voxels in the ROI")
    values = arr[intensity]
    levels = np.zeros(arr.shape, dtype=np.int64)
    levels[intensity] = discretise(values, s.discretisation, s)
    if levels[intensity].min() < 1:
        raise LesionError(lesion_id, "fixed bin size: ROI intensities below the lower bound "
                                     f"{fbs_lower_bound(s.discretisation, values, s)} (set a re-segmentation range)")
    ivh, ivh_range = ivh_intensities(values, s)
    diagnostics = {"grid_kji": arr.shape, "spacing_kji": tuple(spacing), "morph_voxels": int(roi.sum()),
                   "intensity_voxels": int(intensity.sum())}
    return ProcessedROI(arr, roi, intensity, spacing, levels, ivh, ivh_range, s, diagnostics)
