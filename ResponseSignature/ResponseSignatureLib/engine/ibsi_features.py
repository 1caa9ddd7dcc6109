"""IBSI 1 feature values of an IBSI-processed ROI, each with its IBSI identifier and texture aggregation.

The input is a :class:`.ibsi_processing.ProcessedROI` (interpolated image, morphological and intensity
masks, discretised grey levels, IVH intensities). The formulas are the engine's own: the
pyradiomics-compatible classes' matrices and batched formulas (:mod:`.glcm`, :mod:`.glrlm`,
:mod:`.glszm`, :mod:`.gldm`, :mod:`.ngtdm`, :mod:`.firstorder`, :mod:`.shape`) and the IBSI-only ones of
:mod:`.ibsi`; this module chooses the ROI each family uses (IBSI: morphological mask for the mesh,
volume, axes and GLDZM distances; intensity mask for everything else) and aggregates texture matrices
the IBSI ways:

=================  =====================================================================  =======
aggregation        GLCM / GLRLM                                                           code
=================  =====================================================================  =======
2D, averaged       features of each slice's directional matrices, mean over all           BTW3
2D, slice-merged   directions merged per slice, features averaged over slices              SUJT
2.5D, dir.-merged  slices merged per direction, features averaged over directions          JJUI
2.5D, merged       one matrix of all slices and directions                                 ZW7Z
3D, averaged       features of each of the 13 directional matrices, mean                   ITBB
3D, merged         one matrix of the 13 directions                                         IAZD
=================  =====================================================================  =======

GLSZM, GLDZM, NGTDM and NGLDM: ``2D`` (features per slice, averaged, 8QNN), ``2.5D`` (slices' matrices
merged, 62GR), ``3D`` (one volumetric matrix, KOBO). Directions or slices without any pair or run are
left out of an average.

Differences from the pyradiomics-compatible classes, as IBSI defines them: NGTDM counts only voxels
with at least one neighbour in n_i; a GLRLM direction is kept even when no line of the ROI box holds
two ROI voxels (every voxel is then a run of 1); GLDZM distances come from the morphological mask;
Moran's I and Geary's C use every pair of intensity-mask voxels (exact, by FFT correlation, whatever
the ROI size). Values are :class:`Value` records; ``Value.key`` is the engine's feature name
(``ibsi_glcm_JointMaximum_2Davg``...).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy import fft as sp_fft

from . import firstorder, glcm, gldm, glrlm, glszm, ibsi, ngtdm, shape
from .common import Levels, evaluate_batch, offsets
from .ibsi_processing import AGGREGATIONS, ProcessedROI, process, settings_from_params
from .preprocess import check_geometry

#: how the IBSI reference tables spell each aggregation, and the suffix of the engine's feature names
AGGREGATION_LABELS = {
    "2D:avg": ("2D, averaged", "2Davg"), "2D:smrg": ("2D, slice-merged", "2Dsmrg"),
    "2.5D:dmrg": ("2.5D, direction-merged", "25Ddmrg"), "2.5D:mrg": ("2.5D, merged", "25Dmrg"),
    "3D:avg": ("3D, averaged", "3Davg"), "3D:mrg": ("3D, merged", "3Dmrg"),
    "2D": ("2D", "2D"), "2.5D": ("2.5D", "25D"), "3D": ("3D", "3D"),
}


@dataclass(frozen=True)
class Value:
    """One IBSI feature value: family, feature name, IBSI identifier, aggregation tag ('' if none)."""

    family: str
    name: str
    code: str
    aggregation: str
    value: float

    @property
    def aggregation_label(self) -> str:
        """The aggregation as the IBSI tables spell it ('2D, averaged', '3D', ''...)."""
        return AGGREGATION_LABELS[self.aggregation][0] if self.aggregation else ""

    @property
    def key(self) -> str:
        """The engine's feature name, e.g. ``ibsi_morph_VolumeMesh``, ``ibsi_glcm_Contrast_3Dmrg``."""
        tail = f"_{AGGREGATION_LABELS[self.aggregation][1]}" if self.aggregation else ""
        return f"ibsi_{self.family}_{self.name}{tail}"


# ------------------------------------------------------------------------------------------------
# morphology and local intensity (3D, DHQ4)
# ------------------------------------------------------------------------------------------------
class _Morph:
    """What the morphological features share: the morphological mask's mesh, voxel points, and the
    engine's IBSI context (``ibsi.IBSIContext``) on it for the ellipsoid, box and hull densities."""

    def __init__(self, p: ProcessedROI):
        self.p = p
        self.roi = p.morph
        self.ctx = ibsi.IBSIContext(np.zeros(int(p.morph.sum())), None, p.morph, p.spacing, {})
        self.area, self.volume = shape.mesh_area_volume(p.morph, p.spacing)
        self._pairs = None

    @property
    def pairs(self) -> tuple[float, float]:
        """(Moran's I, Geary's C), computed once."""
        if self._pairs is None:
            self._pairs = _autocorrelation(self.p)
        return self._pairs


def _centre_of_mass_shift(m: _Morph) -> float:
    """|centroid of the morphological mask - intensity-weighted centroid of the intensity mask| (mm)."""
    geometric = np.argwhere(m.roi).mean(0) * m.p.spacing
    weights = m.p.values
    weighted = (np.argwhere(m.p.intensity) * weights[:, None]).sum(0) / weights.sum() * m.p.spacing
    return float(np.linalg.norm(geometric - weighted))


def _autocorrelation(p: ProcessedROI) -> tuple[float, float]:
    """(Moran's I, Geary's C) over all pairs of intensity-mask voxels with weights 1 / distance (mm).

    sum_ij w_ij f_i g_j is sum_i f_i (w * g)_i, a correlation with the kernel 1/|r| over the ROI box:
    FFT correlations give the exact pair sums (to rounding) for any ROI size.
    """
    box = tuple(slice(int(ax.min()), int(ax.max()) + 1) for ax in np.nonzero(p.intensity))
    inside, image = p.intensity[box], p.image[box]
    x = np.where(inside, image, 0.0)
    dev = np.where(inside, image - p.values.mean(), 0.0)
    grid = np.meshgrid(*[np.arange(-(n - 1), n) * s for n, s in zip(inside.shape, p.spacing)], indexing="ij")
    dist = np.sqrt(grid[0] ** 2 + grid[1] ** 2 + grid[2] ** 2)
    kernel = np.divide(1.0, dist, out=np.zeros_like(dist), where=dist > 0)
    size = [sp_fft.next_fast_len(n, real=True) for n in kernel.shape]
    kernel_ft = sp_fft.rfftn(kernel, size)
    centre = tuple(slice(n - 1, 2 * n - 1) for n in inside.shape)

    def near(field: np.ndarray) -> np.ndarray:  # (w * field)_i at every voxel i of the box
        return sp_fft.irfftn(sp_fft.rfftn(field, size) * kernel_ft, size)[centre]

    mask = inside.astype(float)
    w_mask = near(mask)
    n = float(inside.sum())
    wsum = float(np.sum(mask * w_mask))
    var = float(np.sum(dev ** 2))
    moran = n / wsum * float(np.sum(dev * near(dev))) / var
    # sum_ij w_ij (x_i - x_j)^2 = 2 sum_i x_i^2 W_i - 2 sum_ij w_ij x_i x_j
    geary_sum = 2 * float(np.sum(x * x * w_mask)) - 2 * float(np.sum(x * near(x)))
    geary = (n - 1) / (2 * wsum) * geary_sum / var
    return moran, geary


_IBSI_MORPH = ibsi.MORPHOLOGY
MORPH = [
    ("VolumeMesh", "RNU0", lambda m: m.volume),
    ("VolumeVoxelCounting", "YEKZ", lambda m: m.roi.sum() * float(np.prod(m.p.spacing))),
    ("SurfaceArea", "C0JK", lambda m: m.area),
    ("SurfaceToVolumeRatio", "2PR5", lambda m: m.area / m.volume),
    ("Compactness1", "SKGS", lambda m: m.volume / (np.sqrt(np.pi) * m.area ** 1.5)),
    ("Compactness2", "BQWJ", lambda m: 36 * np.pi * m.volume ** 2 / m.area ** 3),
    ("SphericalDisproportion", "KRCK", lambda m: m.area / (36 * np.pi * m.volume ** 2) ** (1 / 3)),
    ("Sphericity", "QCFX", lambda m: (36 * np.pi * m.volume ** 2) ** (1 / 3) / m.area),
    ("Asphericity", "25C7", lambda m: (m.area ** 3 / (36 * np.pi * m.volume ** 2)) ** (1 / 3) - 1),
    ("CentreOfMassShift", "KLMA", _centre_of_mass_shift),
    ("Maximum3DDiameter", "L0JK", lambda m: shape.diameters(m.roi, m.p.spacing)[3]),
    ("MajorAxisLength", "TDIC", lambda m: _IBSI_MORPH["MajorAxisLength"](m.ctx)),
    ("MinorAxisLength", "P9VJ", lambda m: _IBSI_MORPH["MinorAxisLength"](m.ctx)),
    ("LeastAxisLength", "7J51", lambda m: _IBSI_MORPH["LeastAxisLength"](m.ctx)),
    ("Elongation", "Q3CK", lambda m: _IBSI_MORPH["MinorAxisLength"](m.ctx) / _IBSI_MORPH["MajorAxisLength"](m.ctx)),
    ("Flatness", "N17B", lambda m: _IBSI_MORPH["LeastAxisLength"](m.ctx) / _IBSI_MORPH["MajorAxisLength"](m.ctx)),
    ("VolumeDensityAABB", "PBX1", lambda m: _IBSI_MORPH["VolumeDensityAABB"](m.ctx)),
    ("AreaDensityAABB", "R59B", lambda m: _IBSI_MORPH["AreaDensityAABB"](m.ctx)),
    ("VolumeDensityAEE", "6BDE", lambda m: _IBSI_MORPH["VolumeDensityAEE"](m.ctx)),
    ("AreaDensityAEE", "RDD2", lambda m: _IBSI_MORPH["AreaDensityAEE"](m.ctx)),
    ("VolumeDensityConvexHull", "R3ER", lambda m: _IBSI_MORPH["VolumeDensityConvexHull"](m.ctx)),
    ("AreaDensityConvexHull", "7T7F", lambda m: _IBSI_MORPH["AreaDensityConvexHull"](m.ctx)),
    ("IntegratedIntensity", "99N0", lambda m: m.volume * m.p.values.mean()),
    ("MoransI", "N365", lambda m: m.pairs[0]),
    ("GearysC", "NPT7", lambda m: m.pairs[1]),
]


def _local_intensity(p: ProcessedROI) -> list[tuple[str, str, float]]:
    """Local (VJGA) and global (0F91) intensity peaks: means in 1 cm^3 spheres, image voxels around
    the intensity mask included (the processed box keeps a margin of the sphere's radius)."""
    ctx = ibsi.IBSIContext(p.values, None, p.intensity, p.spacing, {},
                           geometry={"crop_values": p.image, "crop_roi": p.intensity})
    return [("LocalIntensityPeak", "VJGA", _IBSI_MORPH["LocalIntensityPeak"](ctx)),
            ("GlobalIntensityPeak", "0F91", _IBSI_MORPH["GlobalIntensityPeak"](ctx))]


# ------------------------------------------------------------------------------------------------
# intensity statistics and intensity histogram (3D, DHQ4)
# ------------------------------------------------------------------------------------------------
def _first_order(values: np.ndarray, levels: np.ndarray, voxel_volume: float) -> dict:
    """The engine's first-order formulas on one set of values, as plain floats."""
    batch = firstorder.FirstOrderBatch(values[None].astype(np.float64), levels[None], voxel_volume, 0.0)
    return {k: float(v[0]) for k, v in evaluate_batch(firstorder.FEATURES, list(firstorder.FEATURES), batch).items()}


def _distribution(family: str, values: np.ndarray, levels: np.ndarray, spacing: np.ndarray) -> list[tuple]:
    """Statistics of ``values`` (intensities, or discretised levels for the histogram family)."""
    # (name, statistics code, histogram code, value); the histogram's 10th / 90th percentiles carry the
    # codes the manual prints above them (1PR8 / GPMT; other IBSI tables: GPMT / OZ0C)
    fo = _first_order(values, levels, float(np.prod(spacing)))
    ctx = ibsi.IBSIContext(values, levels, None, spacing, {})
    extra = {k: float(ibsi.INTENSITY[k](ctx)) for k in
             ("ExcessKurtosis", "MedianAbsoluteDeviation", "QuartileCoefficientOfDispersion", "CoefficientOfVariation")}
    rows = [("Mean", "Q4LE", "X6K6", fo["Mean"]), ("Variance", "ECT3", "CH89", fo["Variance"]),
            ("Skewness", "KE2A", "88K1", fo["Skewness"]), ("ExcessKurtosis", "IPH6", "C3I7", extra["ExcessKurtosis"]),
            ("Median", "Y12H", "WIFQ", fo["Median"]), ("Minimum", "1GSF", "1PR8", fo["Minimum"]),
            ("10thPercentile", "QG58", "1PR8", fo["10Percentile"]),
            ("90thPercentile", "8DWT", "GPMT", fo["90Percentile"]),
            ("Maximum", "84IY", "3NCY", fo["Maximum"])]
    if family == "ih":
        rows.append(("Mode", None, "AMMC", float(ibsi.INTENSITY["HistogramMode"](ctx))))
    rows += [("InterquartileRange", "SALO", "WR0O", fo["InterquartileRange"]), ("Range", "2OJQ", "5Z3W", fo["Range"]),
             ("MeanAbsoluteDeviation", "4FUA", "D2ZX", fo["MeanAbsoluteDeviation"]),
             ("RobustMeanAbsoluteDeviation", "1128", "WRZB", fo["RobustMeanAbsoluteDeviation"]),
             ("MedianAbsoluteDeviation", "N72L", "4RNL", extra["MedianAbsoluteDeviation"]),
             ("CoefficientOfVariation", "7TET", "CWYJ", extra["CoefficientOfVariation"]),
             ("QuartileCoefficientOfDispersion", "9S40", "SLWD", extra["QuartileCoefficientOfDispersion"])]
    if family == "stat":
        rows += [("Energy", "N8CA", None, fo["Energy"]), ("RootMeanSquare", "5ZWQ", None, fo["RootMeanSquared"])]
        return [(name, stat, value) for name, stat, _, value in rows]
    rows += [("Entropy", None, "TLU2", fo["Entropy"]), ("Uniformity", None, "BJ5W", fo["Uniformity"])]
    for name, code in (("MaximumHistogramGradient", "12CE"), ("MaximumHistogramGradientIntensity", "8E6O"),
                       ("MinimumHistogramGradient", "VQB3"), ("MinimumHistogramGradientIntensity", "RHQZ")):
        rows.append((name, None, code, float(ibsi.INTENSITY[name](ctx))))
    return [(name, hist, value) for name, _, hist, value in rows]


def _ivh(p: ProcessedROI) -> list[tuple[str, str, float]]:
    """V10, V90 (BC2M), I10, I90 (GBPN) and their differences (DDTU, CNV2) over the IVH range G.

    nu(i) = fraction of voxels with X_d,gl >= i and gamma(i) = (i - min G) / (max G - min G) for every
    i of G (step w, intensities absent from the ROI included); V_x = nu at the first i with
    gamma >= x; I_x = the first i with nu(i) <= x (max G + w if none).
    """
    low, high, step = p.ivh_range
    k_max = int(round((high - low) / step))
    index = np.sort(np.floor((p.ivh - low) / step + 1e-9))  # X >= low + k step  <=>  index >= k
    nu = 1.0 - np.searchsorted(index, np.arange(k_max + 1), side="left") / index.size  # k = 0..k_max
    gamma = np.arange(k_max + 1) / k_max if k_max else np.zeros(1)

    def volume_at(x: float) -> float:
        return float(nu[np.argmax(gamma >= x - 1e-12)])

    def intensity_at(x: float) -> float:
        ok = nu <= x + 1e-12
        return low + step * (int(np.argmax(ok)) if ok.any() else k_max + 1)

    v10, v90, i10, i90 = volume_at(0.1), volume_at(0.9), intensity_at(0.1), intensity_at(0.9)
    return [("V10", "BC2M", v10), ("V90", "BC2M", v90), ("I10", "GBPN", i10), ("I90", "GBPN", i90),
            ("V10minusV90", "DDTU", v10 - v90), ("I10minusI90", "CNV2", i10 - i90)]


# ------------------------------------------------------------------------------------------------
# texture matrices per slice (2D) or per volume (3D)
# ------------------------------------------------------------------------------------------------
GLCM = [("JointMaximum", "GYBY", "MaximumProbability"), ("JointAverage", "60VM", "JointAverage"),
        ("JointVariance", "UR99", "SumSquares"), ("JointEntropy", "TU9B", "JointEntropy"),
        ("DifferenceAverage", "TF7R", "DifferenceAverage"), ("DifferenceVariance", "D3YU", "DifferenceVariance"),
        ("DifferenceEntropy", "NTRS", "DifferenceEntropy"), ("SumAverage", "ZGXS", "SumAverage"),
        ("SumVariance", "OEEB", None), ("SumEntropy", "P6QZ", "SumEntropy"),
        ("AngularSecondMoment", "8ZQL", "JointEnergy"), ("Contrast", "ACUI", "Contrast"),
        ("Dissimilarity", "8S9J", "DifferenceAverage"), ("InverseDifference", "IB1Z", "Id"),
        ("NormalisedInverseDifference", "NDRX", "Idn"), ("InverseDifferenceMoment", "WF0Z", "Idm"),
        ("NormalisedInverseDifferenceMoment", "1QCO", "Idmn"), ("InverseVariance", "E8JP", "InverseVariance"),
        ("Correlation", "NI2N", "Correlation"), ("Autocorrelation", "QWB0", "Autocorrelation"),
        ("ClusterTendency", "DG8W", "ClusterTendency"), ("ClusterShade", "7NFM", "ClusterShade"),
        ("ClusterProminence", "AE86", "ClusterProminence"), ("InformationCorrelation1", "R8DG", "Imc1"),
        ("InformationCorrelation2", "JN9H", "Imc2")]
GLRLM = [("ShortRunsEmphasis", "22OV", "ShortRunEmphasis"), ("LongRunsEmphasis", "W4KF", "LongRunEmphasis"),
         ("LowGreyLevelRunEmphasis", "V3SW", "LowGrayLevelRunEmphasis"),
         ("HighGreyLevelRunEmphasis", "G3QZ", "HighGrayLevelRunEmphasis"),
         ("ShortRunLowGreyLevelEmphasis", "HTZT", "ShortRunLowGrayLevelEmphasis"),
         ("ShortRunHighGreyLevelEmphasis", "GD3A", "ShortRunHighGrayLevelEmphasis"),
         ("LongRunLowGreyLevelEmphasis", "IVPO", "LongRunLowGrayLevelEmphasis"),
         ("LongRunHighGreyLevelEmphasis", "3KUM", "LongRunHighGrayLevelEmphasis"),
         ("GreyLevelNonUniformity", "R5YN", "GrayLevelNonUniformity"),
         ("NormalisedGreyLevelNonUniformity", "OVBL", "GrayLevelNonUniformityNormalized"),
         ("RunLengthNonUniformity", "W92Y", "RunLengthNonUniformity"),
         ("NormalisedRunLengthNonUniformity", "IC23", "RunLengthNonUniformityNormalized"),
         ("RunPercentage", "9ZK5", "RunPercentage"), ("GreyLevelVariance", "8CE5", "GrayLevelVariance"),
         ("RunLengthVariance", "SXLW", "RunVariance"), ("RunEntropy", "HJ9O", "RunEntropy")]
#: (IBSI name, IBSI code, engine zone formula); small zone emphasis is printed without its own
#: identifier in the IBSI manual, whose reference table carries the GLSZM family's, 9SAK
GLSZM = [("SmallZoneEmphasis", "9SAK", "SmallEmphasis"), ("LargeZoneEmphasis", "48P8", "LargeEmphasis"),
         ("LowGreyLevelZoneEmphasis", "XMSY", "LowGrayLevelEmphasis"),
         ("HighGreyLevelZoneEmphasis", "5GN9", "HighGrayLevelEmphasis"),
         ("SmallZoneLowGreyLevelEmphasis", "5RAI", "SmallLowGrayLevelEmphasis"),
         ("SmallZoneHighGreyLevelEmphasis", "HW1V", "SmallHighGrayLevelEmphasis"),
         ("LargeZoneLowGreyLevelEmphasis", "YH51", "LargeLowGrayLevelEmphasis"),
         ("LargeZoneHighGreyLevelEmphasis", "J17V", "LargeHighGrayLevelEmphasis"),
         ("GreyLevelNonUniformity", "JNSA", "GrayLevelNonUniformity"),
         ("NormalisedGreyLevelNonUniformity", "Y1RO", "GrayLevelNonUniformityNormalized"),
         ("ZoneSizeNonUniformity", "4JP3", "NonUniformity"),
         ("NormalisedZoneSizeNonUniformity", "VB3A", "NonUniformityNormalized"),
         ("ZonePercentage", "P30P", "Percentage"), ("GreyLevelVariance", "BYLV", "GrayLevelVariance"),
         ("ZoneSizeVariance", "3NSA", "Variance"), ("ZoneSizeEntropy", "GU8N", "Entropy")]
GLDZM = [("SmallDistanceEmphasis", "0GBI"), ("LargeDistanceEmphasis", "MB4I"), ("LowGreyLevelZoneEmphasis", "S1RA"),
         ("HighGreyLevelZoneEmphasis", "K26C"), ("SmallDistanceLowGreyLevelEmphasis", "RUVG"),
         ("SmallDistanceHighGreyLevelEmphasis", "DKNJ"), ("LargeDistanceLowGreyLevelEmphasis", "A7WM"),
         ("LargeDistanceHighGreyLevelEmphasis", "KLTH"), ("GreyLevelNonUniformity", "VFT7"),
         ("GreyLevelNonUniformityNormalised", "7HP3"), ("ZoneDistanceNonUniformity", "V294"),
         ("ZoneDistanceNonUniformityNormalised", "IATH"), ("ZonePercentage", "VIWW"),
         ("GreyLevelVariance", "QK93"), ("ZoneDistanceVariance", "7WT1"), ("ZoneDistanceEntropy", "GBDU")]
NGTDM = [("Coarseness", "QCDE"), ("Contrast", "65HE"), ("Busyness", "NQ30"), ("Complexity", "HDEZ"),
         ("Strength", "1X9X")]
NGLDM = [("LowDependenceEmphasis", "SODN", "SmallEmphasis"), ("HighDependenceEmphasis", "IMOQ", "LargeEmphasis"),
         ("LowGreyLevelCountEmphasis", "TL9H", "LowGrayLevelEmphasis"),
         ("HighGreyLevelCountEmphasis", "OAE7", "HighGrayLevelEmphasis"),
         ("LowDependenceLowGreyLevelEmphasis", "EQ3F", "SmallLowGrayLevelEmphasis"),
         ("LowDependenceHighGreyLevelEmphasis", "JA6D", "SmallHighGrayLevelEmphasis"),
         ("HighDependenceLowGreyLevelEmphasis", "NBZI", "LargeLowGrayLevelEmphasis"),
         ("HighDependenceHighGreyLevelEmphasis", "9QMG", "LargeHighGrayLevelEmphasis"),
         ("GreyLevelNonUniformity", "FP8K", "GrayLevelNonUniformity"),
         ("NormalisedGreyLevelNonUniformity", "5SPA", "GrayLevelNonUniformityNormalized"),
         ("DependenceCountNonUniformity", "Z87G", "NonUniformity"),
         ("NormalisedDependenceCountNonUniformity", "OKJI", "NonUniformityNormalized"),
         ("DependenceCountPercentage", "6XV8", "Percentage"), ("GreyLevelVariance", "1PFV", "GrayLevelVariance"),
         ("DependenceCountVariance", "DNX2", "Variance"), ("DependenceCountEntropy", "FCBV", "Entropy"),
         ("DependenceCountEnergy", "CAS9", None)]


class _Planes:
    """The texture inputs: one ``Levels`` per axial slice (2D) or one for the volume (3D), over the
    intensity mask's bounding box, with the union of grey levels present."""

    def __init__(self, p: ProcessedROI):
        box = tuple(slice(int(ax.min()), int(ax.max()) + 1) for ax in np.nonzero(p.intensity))
        self.q, self.morph = p.levels[box], p.morph[box]
        self.spacing = p.spacing
        self.two_d = p.settings.dimension == "2D"
        self.axis = 0 if self.two_d else None
        self.settings = {"distances": [p.settings.distance], "gldm_a": p.settings.ngldm_coarseness,
                         "force2D": self.two_d, "force2Ddimension": 0, "symmetricalGLCM": True, "weightingNorm": None}
        if self.two_d:
            slices = [k for k in range(self.q.shape[0]) if self.q[k].any()]
            self.parts = [(self.q[k:k + 1], self.morph[k:k + 1]) for k in slices]
        else:
            self.parts = [(self.q, self.morph)]
        self.levels_of = [Levels(q, self.spacing) for q, _ in self.parts]
        self.levels = np.unique(np.concatenate([lv.levels for lv in self.levels_of]))
        # N_g of the normalised inverse differences: the highest grey level present (with fixed bin number
        # the number of bins, as the ROI maximum falls in the top bin)
        self.ng = int(self.levels.max())


def _stack(parts: list[np.ndarray], rows: list[np.ndarray], n_levels: int, both: bool = False) -> np.ndarray:
    """(parts, n_levels[, n_levels], rest...) zeros holding each part's matrix at its grey-level rows
    (and columns, ``both``: GLCM); trailing axes (lengths, directions) padded to the largest part."""
    lead = 2 if both else 1
    rest = tuple(np.max([m.shape[lead:] for m in parts], axis=0)) if parts[0].ndim > lead else ()
    out = np.zeros((len(parts),) + (n_levels,) * lead + rest)
    for b, (m, r) in enumerate(zip(parts, rows)):
        tail = tuple(slice(0, n) for n in m.shape[lead:])
        out[(b,) + (np.ix_(r, r) if both else (r,)) + tail] = m
    return out


def _rows(planes: _Planes) -> list[np.ndarray]:
    """Each part's grey levels as rows of the union levels."""
    return [np.searchsorted(planes.levels, lv.levels) for lv in planes.levels_of]


def _directional(planes: _Planes, kind: str) -> np.ndarray:
    """(parts, G, G or Nr, directions) co-occurrence or run-length counts over the union levels."""
    rows = _rows(planes)
    if kind == "glcm":
        mats = [glcm.matrix(lv, planes.settings) for lv in planes.levels_of]
        return _stack(mats, rows, len(planes.levels), both=True)
    angles = offsets([1], bidirectional=False, plane_axis=planes.axis)
    mats = []
    for lv in planes.levels_of:
        m = glrlm.matrix(lv, planes.settings)
        counts = np.bincount(lv.q[lv.q > 0], minlength=lv.ng + 1)[lv.levels]
        for a in range(len(angles)):  # a direction pyradiomics drops (no line with 2 voxels): all runs of 1
            if not m[:, :, a].any():
                m[:, 0, a] = counts
        mats.append(m)
    return _stack(mats, rows, len(planes.levels))


def _merge_variants(raw: np.ndarray, two_d: bool) -> dict:
    """Texture matrices (parts, ..., directions) merged as each aggregation variant needs."""
    if two_d:
        return {"2D:avg": raw, "2D:smrg": raw.sum(-1, keepdims=True),
                "2.5D:dmrg": raw.sum(0, keepdims=True), "2.5D:mrg": raw.sum((0, -1), keepdims=True)}
    return {"3D:avg": raw, "3D:mrg": raw.sum(-1, keepdims=True)}


def _glcm_values(planes: _Planes, variants) -> list[tuple]:
    """GLCM values per aggregation variant; sum variance (not a pyradiomics feature) from p_{x+y}."""
    merged = _merge_variants(_directional(planes, "glcm"), planes.two_d)
    out = []
    wanted = sorted({engine for _, _, engine in GLCM if engine})
    for variant in variants:
        ctx = glcm.GLCMBatch(merged[variant], planes.levels.astype(float), planes.ng)
        res = evaluate_batch(glcm.FEATURES, wanted, ctx)
        mu = np.sum(ctx.k_sum[None, :, None] * ctx.p_sum, 1, keepdims=True)
        res["SumVariance"] = np.sum((ctx.k_sum[None, :, None] - mu) ** 2 * ctx.p_sum, 1)
        for name, code, engine in GLCM:
            out.append((name, code, variant, float(np.nanmean(res[engine or name]))))
    return out


def _glrlm_values(planes: _Planes, variants) -> list[tuple]:
    """GLRLM values per aggregation variant (run percentage of merged matrices: N_v per direction)."""
    merged = _merge_variants(_directional(planes, "glrlm"), planes.two_d)
    out = []
    for variant in variants:
        res = evaluate_batch(glrlm.FEATURES, [e for _, _, e in GLRLM],
                             glrlm.runs_batch(merged[variant], planes.levels.astype(float)))
        out += [(name, code, variant, float(np.nanmean(res[engine]))) for name, code, engine in GLRLM]
    return out


def _zone_variants(planes: _Planes, mats: list[np.ndarray]) -> dict:
    """Per-part zone-type matrices over the union levels: 2D (per slice), 2.5D (summed), 3D."""
    stack = _stack(mats, _rows(planes), len(planes.levels))
    if planes.two_d:
        return {"2D": stack, "2.5D": stack.sum(0, keepdims=True)}
    return {"3D": stack}


def _zone_values(planes: _Planes, variants, mats, table, formulas, n_voxels=None, extra=None) -> list[tuple]:
    """(name, code, variant, value) of a zone-type family (GLSZM, GLDZM, NGLDM) from per-part matrices.

    ``table`` rows (name, code, formula): the formula's name in ``formulas``, or None for ``extra[name]``;
    ``n_voxels``: N_v per part where zone percentage is not sum_j j s_j (GLDZM, NGLDM).
    """
    out = []
    counts = None if n_voxels is None else np.array(n_voxels, dtype=float)
    for variant, stack in _zone_variants(planes, mats).items():
        if variant not in variants:
            continue
        nv = None if counts is None else (counts if variant == "2D" else counts.sum(keepdims=True))
        batch = glszm.ZoneBatch(stack, planes.levels.astype(float), n_voxels=nv)
        for name, code, formula in table:
            values = (extra[name] if formula is None else formulas[formula])(batch)
            out.append((name, code, variant, float(np.nanmean(values))))
    return out


def _gldzm_matrix(q: np.ndarray, morph: np.ndarray, lv: Levels, axis) -> np.ndarray:
    """GLDZM (levels present, largest distance): zones of the intensity mask, distances to the
    morphological mask's border (IBSI: both masks)."""
    gl, _, labels = glszm.zones(q, axis)
    dist = ibsi.border_distance(morph, axis)
    d = np.asarray(ndimage.minimum(dist, labels, np.arange(1, gl.size + 1)), dtype=np.int64)
    dmax = int(d.max())
    p = np.bincount((gl - 1) * dmax + d - 1, minlength=lv.ng * dmax).reshape(lv.ng, dmax)
    return p[lv.levels - 1].astype(float)


def _ngtdm_matrix(lv: Levels, settings: dict, axis) -> tuple[np.ndarray, np.ndarray]:
    """(n_i, s_i) over the levels present, n_i counting only voxels with a neighbour (IBSI); s_i is
    pyradiomics' (a voxel without neighbours adds nothing to it)."""
    _, s = ngtdm.matrix(lv, settings)
    pad = int(max(settings["distances"]))
    with_neighbour = np.count_nonzero(lv.neighbours(settings["distances"], axis, pad), axis=0) > 0
    n = np.bincount(lv.centre(pad)[with_neighbour], minlength=lv.ng + 1)[lv.levels]
    return n.astype(float), s


def _texture(p: ProcessedROI, families) -> list[tuple]:
    """(family, name, code, aggregation, value) of the texture families asked for."""
    planes = _Planes(p)
    chosen = p.settings.aggregation
    directional, zone = AGGREGATIONS[p.settings.dimension]
    dvars = [v for v in directional if v in chosen]
    zvars = [v for v in zone if v in chosen]
    out = []
    if "glcm" in families and dvars:
        out += [("glcm",) + row for row in _glcm_values(planes, dvars)]
    if "glrlm" in families and dvars:
        out += [("glrlm",) + row for row in _glrlm_values(planes, dvars)]
    if not zvars:
        return out
    if "glszm" in families:
        mats = [glszm.matrix(lv, planes.settings) for lv in planes.levels_of]
        out += [("glszm",) + r for r in _zone_values(planes, zvars, mats, GLSZM, glszm.ZONE_FORMULAS)]
    n_vox = [np.count_nonzero(q) for q, _ in planes.parts]  # N_v of zone percentage (GLDZM) and NGLDM's
    if "gldzm" in families:
        mats = [_gldzm_matrix(q, morph, lv, planes.axis) for (q, morph), lv in zip(planes.parts, planes.levels_of)]
        table = [(name, code, None) for name, code in GLDZM]
        out += [("gldzm",) + r for r in _zone_values(planes, zvars, mats, table, {}, n_vox, ibsi.GLDZM)]
    if "ngtdm" in families:
        out += [("ngtdm",) + r for r in _ngtdm_values(planes, zvars)]
    if "ngldm" in families:
        mats = [gldm.matrix(lv, planes.settings) for lv in planes.levels_of]
        extra = {"DependenceCountEnergy": _dependence_energy}
        out += [("ngldm",) + r for r in _zone_values(planes, zvars, mats, NGLDM, glszm.ZONE_FORMULAS, n_vox, extra)]
    return out


def _dependence_energy(batch) -> np.ndarray:
    """NGLDM dependence count energy CAS9: sum of the squared normalised matrix."""
    return np.sum((batch.p / batch.nz[:, None, None]) ** 2, (1, 2))


def _ngtdm_values(planes: _Planes, variants) -> list[tuple]:
    """NGTDM values: 2D per slice averaged, 2.5D with n_i and s_i summed over slices, 3D."""
    pairs = [_ngtdm_matrix(lv, planes.settings, planes.axis) for lv in planes.levels_of]
    rows = _rows(planes)
    n = _stack([m[0] for m in pairs], rows, len(planes.levels))
    s = _stack([m[1] for m in pairs], rows, len(planes.levels))
    if planes.two_d:
        merged = {"2D": (n, s), "2.5D": (n.sum(0, keepdims=True), s.sum(0, keepdims=True))}
    else:
        merged = {"3D": (n, s)}
    out = []
    for variant in variants:
        n_v, s_v = merged[variant]
        keep = n_v.sum(1) > 0  # slices without any voxel that has a neighbour have no NGTDM
        batch = ngtdm.NGTDMBatch(n_v[keep], s_v[keep], planes.levels.astype(float))
        res = evaluate_batch(ngtdm.FEATURES, [e for e, _ in NGTDM], batch)
        out += [(name, code, variant, float(np.nanmean(res[name]))) for name, code in NGTDM]
    return out


# ------------------------------------------------------------------------------------------------
# all families
# ------------------------------------------------------------------------------------------------
def compute(p: ProcessedROI) -> list[Value]:
    """Every IBSI value of the ``families`` in ``p.settings``, in the IBSI manual's order."""
    families = p.settings.families
    out: list[Value] = []
    with np.errstate(divide="ignore", invalid="ignore"):
        if "morph" in families:
            m = _Morph(p)
            out += [Value("morph", name, code, "", float(fn(m))) for name, code, fn in MORPH]
        if "li" in families:
            out += [Value("li", name, code, "", float(v)) for name, code, v in _local_intensity(p)]
        if "stat" in families:
            stats = _distribution("stat", p.values, p.levels[p.intensity], p.spacing)
            out += [Value("stat", n, c, "", v) for n, c, v in stats]
        if "ih" in families:
            q = p.levels[p.intensity]
            out += [Value("ih", n, c, "", v) for n, c, v in _distribution("ih", q.astype(float), q, p.spacing)]
        if "ivh" in families:
            out += [Value("ivh", n, c, "", float(v)) for n, c, v in _ivh(p)]
        out += [Value(fam, n, c, agg, v) for fam, n, c, agg, v in _texture(p, families)]
    return out


def ibsi_values(image: sitk.Image, mask: sitk.Image, params: dict, label: int | None = None,
                lesion_id: str | None = None) -> list[Value]:
    """IBSI values of the ROI ``mask == label`` (default: the parameters' ``setting: label``, else 1)
    after the IBSI processing of the parameters' ``ibsi:`` section."""
    settings, default_label = settings_from_params(params)
    label = default_label if label is None else int(label)
    check_geometry(image, mask)
    # margin: the local intensity sphere around ROI voxels reads image voxels up to its radius away
    p = process(image, mask, settings, label, lesion_id or f"label {label}", margin_mm=ibsi.PEAK_RADIUS_MM)
    return compute(p)


def extract(image: sitk.Image, mask: sitk.Image, params: dict, label: int | None = None,
            lesion_id: str | None = None) -> dict[str, float]:
    """Engine feature name (``Value.key``) -> value: what ``engine.extract_features`` returns for
    parameters with an ``ibsi:`` section."""
    return {v.key: v.value for v in ibsi_values(image, mask, params, label, lesion_id)}
