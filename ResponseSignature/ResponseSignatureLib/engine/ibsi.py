"""IBSI-only features, feature class ``ibsi`` (names cannot collide with pyradiomics' classes).

Names are ``<image>_ibsi_<Feature>``; IBSI 1 codes in brackets. Features marked (original) are
computed for the original image only (they need the mask geometry or the unfiltered image).

Morphology (original):
  MajorAxisLength [TDIC], MinorAxisLength [P9VJ], LeastAxisLength [7J51]: 4 sqrt(lambda) of the
  voxel-centre covariance with the unbiased 1/(N-1) normalisation IBSI uses (pyradiomics' shape
  class uses 1/N, i.e. sqrt((N-1)/N) smaller); Asphericity [25C7] (A^3/(36 pi V^2))^(1/3) - 1;
  IntegratedIntensity [99N0] V * mean; CentreOfMassShift [KLMA] |geometric centre - intensity-
  weighted centre| (mm); VolumeDensityAABB [PBX1] V / V_aabb and AreaDensityAABB [R59B] A / A_aabb
  (box of the mesh vertices); VolumeDensityAEE [6BDE] V / (4 pi a b c / 3) and AreaDensityAEE [RDD2]
  A / A_ellipsoid (semi-axes a, b, c = 2 sqrt(lambda), surface by IBSI's Legendre series, 20 terms);
  VolumeDensityConvexHull [R3ER], AreaDensityConvexHull [7T7F] (hull of the mesh vertices);
  MoransI [N365], GearysC [NPT7] with weights 1/distance over all voxel pairs (O(N^2): NaN when the
  ROI has more than MAX_PAIRWISE_VOXELS voxels).
Local intensity (original): LocalIntensityPeak [VJGA] (mean of the image in a 1 cm^3 sphere, radius
  6.2 mm, centred on the ROI's maximum-intensity voxels, largest such mean), GlobalIntensityPeak
  [0F91] (largest sphere mean over all ROI voxels). Image voxels outside the ROI count, voxels outside
  the image do not.
Intensity statistics: ExcessKurtosis [IPH6] (pyradiomics Kurtosis - 3), MedianAbsoluteDeviation
  [N72L] mean |X - median|, QuartileCoefficientOfDispersion [9S40] (P75 - P25)/(P75 + P25),
  CoefficientOfVariation [7TET] sd / mean.
Intensity histogram (discretised levels): HistogramMode [AMMC] (lowest most frequent level),
  HistogramMedianAbsoluteDeviation [4RNL], HistogramQuartileCoefficientOfDispersion [SLWD],
  HistogramCoefficientOfVariation [CWYJ], HistogramExcessKurtosis [C3I7], Maximum/Minimum
  HistogramGradient [12CE, VQB3] and their levels [8E6O, RHQZ] (gradient: central differences of the
  level counts over Xmin..Xmax, one-sided at the ends).
Intensity-volume histogram (discretised levels, gamma = (i - Xmin)/(Xmax - Xmin), nu(i) = fraction of
  voxels >= i): IvhV10, IvhV90 [BC2M] (nu at the first level with gamma >= 0.1 / 0.9), IvhI10, IvhI90
  [GBPN] (lowest level with nu < 0.1 / 0.9 ... , see ``_ivh_intensity``), IvhV10minusV90 [DDTU],
  IvhI10minusI90 [CNV2].
GLDZM (3D: 26-connected zones, 6-connected distance to the ROI border; force2D: in-plane, IBSI 2.5D
  merged): GldzmSmallDistanceEmphasis [0GBI], GldzmLargeDistanceEmphasis [MB4I],
  GldzmLowGreyLevelZoneEmphasis [S1RA], GldzmHighGreyLevelZoneEmphasis [K26C],
  GldzmSmallDistanceLowGreyLevelEmphasis [RUVG], GldzmSmallDistanceHighGreyLevelEmphasis [DKNJ],
  GldzmLargeDistanceLowGreyLevelEmphasis [A7WM], GldzmLargeDistanceHighGreyLevelEmphasis [KLTH],
  GldzmGreyLevelNonUniformity [VFT7], GldzmGreyLevelNonUniformityNormalised [7HP3],
  GldzmZoneDistanceNonUniformity [V294], GldzmZoneDistanceNonUniformityNormalised [IATH],
  GldzmZonePercentage [VIWW], GldzmGreyLevelVariance [QK93], GldzmZoneDistanceVariance [7WT1],
  GldzmZoneDistanceEntropy [GBDU]; zone distance = smallest border distance of its voxels.
NGLDM additions (same matrix as pyradiomics' gldm): NgldmDependenceCountPercentage [6XV8],
  NgldmDependenceCountEnergy [CAS9] sum (P/N)^2.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import gldm, shape
from .common import Levels, evaluate, plane_axis, select
from .descriptor import FeatureClass, FeatureInfo
from .glszm import ZONE_FORMULAS, ZoneBatch, zone_info, zones

MAX_PAIRWISE_VOXELS = 10000
PEAK_RADIUS_MM = (3.0 / (4.0 * np.pi) * 1000.0) ** (1.0 / 3.0)  # 1 cm^3 sphere: 6.2035 mm


class IBSIContext:
    """Inputs of the IBSI features of one image (geometry only for the original image)."""

    def __init__(self, values, q_roi, roi_box, spacing, settings, geometry=None):
        self.x = values.astype(np.float64)
        self.q = q_roi
        self.roi = roi_box
        self.spacing = np.asarray(spacing, float)
        self.settings = settings
        self.geometry = geometry  # dict: crop_values, crop_roi, box (original image only)
        self._cache: dict = {}

    def cached(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


# --- morphology ---------------------------------------------------------------------------------
def _eig_unbiased(c):
    def f():
        pts = np.argwhere(c.roi) * c.spacing
        ev = np.linalg.eigvalsh(np.cov(pts.T, ddof=1))
        return np.sort(np.clip(ev, 0, None))
    return c.cached("eig", f)


def _mesh(c):
    return c.cached("mesh", lambda: shape.mesh_area_volume(c.roi, c.spacing))


def _vertices(c):
    return c.cached("verts", lambda: shape.mesh_vertices(c.roi) * (c.spacing / 2.0))


def _aee_area(a, b, cc, terms=20):
    """Surface of the ellipsoid with semi-axes a >= b >= c (IBSI 3.1.18 Legendre series)."""
    from numpy.polynomial import legendre

    alpha = np.sqrt(max(0.0, 1 - b ** 2 / a ** 2))
    beta = np.sqrt(max(0.0, 1 - cc ** 2 / a ** 2))
    if alpha == 0 or beta == 0:
        x = 1.0
    else:
        x = (alpha ** 2 + beta ** 2) / (2 * alpha * beta)
    total = 0.0
    for nu in range(terms + 1):
        coef = np.zeros(nu + 1)
        coef[nu] = 1
        total += (alpha * beta) ** nu / (1 - 4 * nu ** 2) * legendre.legval(x, coef)
    return 4 * np.pi * a * b * total


def _aee_axes(c):
    ev = _eig_unbiased(c)
    return 2 * np.sqrt(ev[2]), 2 * np.sqrt(ev[1]), 2 * np.sqrt(ev[0])


def _hull(c):
    from scipy.spatial import ConvexHull

    return c.cached("hull", lambda: ConvexHull(_vertices(c)))


def _aabb(c):
    v = _vertices(c)
    return v.max(0) - v.min(0)


def _centre_shift(c):
    pts = np.argwhere(c.roi) * c.spacing
    geo = pts.mean(0)
    w = c.x
    return float(np.linalg.norm(geo - (pts * w[:, None]).sum(0) / w.sum()))


def _pairwise(c):
    """(Moran's I, Geary's C) with inverse-distance weights over all ROI voxel pairs."""
    def f():
        n = c.x.size
        if n > MAX_PAIRWISE_VOXELS:
            return np.nan, np.nan
        pts = np.argwhere(c.roi) * c.spacing
        dev = c.x - c.x.mean()
        wsum = moran = geary = 0.0
        for s in range(0, n, 1024):
            d = np.sqrt(((pts[s:s + 1024, None, :] - pts[None, :, :]) ** 2).sum(-1))
            with np.errstate(divide="ignore"):
                w = np.where(d > 0, 1.0 / d, 0.0)
            wsum += w.sum()
            moran += (w * dev[s:s + 1024, None] * dev[None, :]).sum()
            geary += (w * (c.x[s:s + 1024, None] - c.x[None, :]) ** 2).sum()
        var = np.sum(dev ** 2)
        if var == 0:
            return np.nan, np.nan
        return n / wsum * moran / var, (n - 1) / (2 * wsum) * geary / var
    return c.cached("pairwise", f)


# --- local intensity ----------------------------------------------------------------------------
def _sphere_means(c):
    def f():
        g = c.geometry
        sp = c.spacing
        r = np.ceil(PEAK_RADIUS_MM / sp).astype(int)
        grid = np.meshgrid(*[np.arange(-k, k + 1) * s for k, s in zip(r, sp)], indexing="ij")
        ball = (grid[0] ** 2 + grid[1] ** 2 + grid[2] ** 2) <= PEAK_RADIUS_MM ** 2
        vals = np.asarray(g["crop_values"], dtype=np.float64)
        roi = g["crop_roi"]
        return _ball_mean(vals, ball)[roi], vals[roi]
    return c.cached("peaks", f)


def _ball_mean(vals: np.ndarray, ball: np.ndarray) -> np.ndarray:
    """Mean of ``vals`` over the (symmetric) ball around every voxel, voxels outside the array excluded.

    Direct correlation for small balls, FFT convolution (relative rounding ~1e-12) for large ones.
    """
    kernel = ball.astype(float)
    if kernel.size <= 343:
        sums = ndimage.correlate(vals, kernel, mode="constant", cval=0.0)
        counts = ndimage.correlate(np.ones_like(vals), kernel, mode="constant", cval=0.0)
    else:
        from scipy.signal import fftconvolve

        sums = fftconvolve(vals, kernel, mode="same")
        counts = np.rint(fftconvolve(np.ones_like(vals), kernel, mode="same"))
    return sums / counts


def _local_peak(c):
    means, vals = _sphere_means(c)
    return np.max(means[vals == vals.max()])


# --- intensity statistics and histogram ---------------------------------------------------------
def _qcod(x):
    p25, p75 = np.percentile(x, [25, 75])
    return (p75 - p25) / (p75 + p25)


def _excess_kurtosis(x):
    d = x - x.mean()
    m2 = np.mean(d ** 2)
    return 0.0 if m2 == 0 else np.mean(d ** 4) / m2 ** 2 - 3


def _hist(c):
    def f():
        lo, hi = int(c.q.min()), int(c.q.max())
        levels = np.arange(lo, hi + 1)
        return levels, np.bincount(c.q - lo, minlength=hi - lo + 1).astype(float)
    return c.cached("hist", f)


def _gradient(c):
    levels, h = _hist(c)
    return levels, (np.gradient(h) if h.size > 1 else np.zeros_like(h))


def _ivh_volume(c, frac):
    levels, h = _hist(c)
    nu = 1 - np.concatenate(([0.0], np.cumsum(h)[:-1])) / h.sum()  # fraction of voxels >= level
    span = levels[-1] - levels[0]
    gamma = (levels - levels[0]) / span if span else np.zeros(levels.size)
    return nu[np.argmax(gamma >= frac)] if np.any(gamma >= frac) else 0.0


def _ivh_intensity(c, frac):
    """Lowest level i whose volume fraction nu(i) is at most ``frac`` (IBSI I_x)."""
    levels, h = _hist(c)
    nu = 1 - np.concatenate(([0.0], np.cumsum(h)[:-1])) / h.sum()
    ok = nu <= frac
    return float(levels[np.argmax(ok)]) if ok.any() else float(levels[-1] + 1)


# --- GLDZM and NGLDM ----------------------------------------------------------------------------
def border_distance(roi: np.ndarray, axis=None) -> np.ndarray:
    """City-block distance of each ROI voxel to the nearest non-ROI voxel (border voxels: 1).

    3D: 6-connected steps; with ``axis`` (force2D) 4-connected steps within each plane.
    """
    st = ndimage.generate_binary_structure(3, 1)
    if axis is not None:
        sl = [slice(None)] * 3
        for k in (0, 2):
            sl[axis] = k
            st[tuple(sl)] = False
    padded = np.pad(roi, 1)
    return ndimage.distance_transform_cdt(padded, metric=st)[1:-1, 1:-1, 1:-1]


def gldzm_matrix(q: np.ndarray, levels: np.ndarray, axis=None) -> np.ndarray:
    """P(i, d): zones of gray level i (the GLSZM's zones) whose smallest border distance is d."""
    gl, _, labels = zones(q, axis)
    d = np.asarray(ndimage.minimum(border_distance(q > 0, axis), labels, np.arange(1, gl.size + 1)), dtype=int)
    dmax = int(d.max())
    p = np.bincount((gl - 1) * dmax + d - 1, minlength=int(q.max()) * dmax).reshape(-1, dmax)
    return p[levels - 1].astype(float)


def _gldzm(c):
    def f():
        lv = _levels(c)
        p = gldzm_matrix(lv.q, lv.levels, plane_axis(c.settings))
        return ZoneBatch(p[None], lv.levels.astype(float), n_voxels=np.array([float(c.q.size)]))
    return c.cached("gldzm", f)


def _levels(c):
    def f():
        q = np.zeros(c.roi.shape, dtype=np.int64)
        q[c.roi] = c.q
        return Levels(q, c.spacing)
    return c.cached("levels", f)


def _ngldm_energy(c):
    p = gldm.matrix(_levels(c), c.settings)
    p = p / p.sum()
    return float(np.sum(p ** 2))


def _zone(fn):
    """A GLDZM feature of the ROI: the zone formula on its one-row ZoneBatch."""
    return lambda c: fn(_gldzm(c))[0]


def _distance_entropy(z: ZoneBatch) -> np.ndarray:
    """IBSI's entropy over the non-empty cells (no eps), per row."""
    q = z.p / z.nz[:, None, None]
    return np.array([-np.sum(row[row > 0] * np.log2(row[row > 0])) for row in q])


GLDZM = {
    "SmallDistanceEmphasis": ZONE_FORMULAS["SmallEmphasis"],
    "LargeDistanceEmphasis": ZONE_FORMULAS["LargeEmphasis"],
    "LowGreyLevelZoneEmphasis": ZONE_FORMULAS["LowGrayLevelEmphasis"],
    "HighGreyLevelZoneEmphasis": ZONE_FORMULAS["HighGrayLevelEmphasis"],
    "SmallDistanceLowGreyLevelEmphasis": ZONE_FORMULAS["SmallLowGrayLevelEmphasis"],
    "SmallDistanceHighGreyLevelEmphasis": ZONE_FORMULAS["SmallHighGrayLevelEmphasis"],
    "LargeDistanceLowGreyLevelEmphasis": ZONE_FORMULAS["LargeLowGrayLevelEmphasis"],
    "LargeDistanceHighGreyLevelEmphasis": ZONE_FORMULAS["LargeHighGrayLevelEmphasis"],
    "GreyLevelNonUniformity": ZONE_FORMULAS["GrayLevelNonUniformity"],
    "GreyLevelNonUniformityNormalised": ZONE_FORMULAS["GrayLevelNonUniformityNormalized"],
    "ZoneDistanceNonUniformity": ZONE_FORMULAS["NonUniformity"],
    "ZoneDistanceNonUniformityNormalised": ZONE_FORMULAS["NonUniformityNormalized"],
    "ZonePercentage": ZONE_FORMULAS["Percentage"],
    "GreyLevelVariance": ZONE_FORMULAS["GrayLevelVariance"],
    "ZoneDistanceVariance": ZONE_FORMULAS["Variance"],
    "ZoneDistanceEntropy": _distance_entropy,
}

MORPHOLOGY = {
    "MajorAxisLength": lambda c: 4 * np.sqrt(_eig_unbiased(c)[2]),
    "MinorAxisLength": lambda c: 4 * np.sqrt(_eig_unbiased(c)[1]),
    "LeastAxisLength": lambda c: 4 * np.sqrt(_eig_unbiased(c)[0]),
    "Asphericity": lambda c: (_mesh(c)[0] ** 3 / (36 * np.pi * _mesh(c)[1] ** 2)) ** (1 / 3) - 1,
    "IntegratedIntensity": lambda c: _mesh(c)[1] * c.x.mean(),
    "CentreOfMassShift": _centre_shift,
    "VolumeDensityAABB": lambda c: _mesh(c)[1] / np.prod(_aabb(c)),
    "AreaDensityAABB": lambda c: _mesh(c)[0] / (2 * (lambda e: e[0] * e[1] + e[1] * e[2] + e[0] * e[2])(_aabb(c))),
    "VolumeDensityAEE": lambda c: _mesh(c)[1] / (4 * np.pi / 3 * np.prod(_aee_axes(c))),
    "AreaDensityAEE": lambda c: _mesh(c)[0] / _aee_area(*_aee_axes(c)),
    "VolumeDensityConvexHull": lambda c: _mesh(c)[1] / _hull(c).volume,
    "AreaDensityConvexHull": lambda c: _mesh(c)[0] / _hull(c).area,
    "MoransI": lambda c: _pairwise(c)[0],
    "GearysC": lambda c: _pairwise(c)[1],
    "LocalIntensityPeak": _local_peak,
    "GlobalIntensityPeak": lambda c: np.max(_sphere_means(c)[0]),
}

INTENSITY = {
    "ExcessKurtosis": lambda c: _excess_kurtosis(c.x),
    "MedianAbsoluteDeviation": lambda c: np.mean(np.abs(c.x - np.median(c.x))),
    "QuartileCoefficientOfDispersion": lambda c: _qcod(c.x),
    "CoefficientOfVariation": lambda c: np.std(c.x) / np.mean(c.x),
    "HistogramMode": lambda c: float(_hist(c)[0][np.argmax(_hist(c)[1])]),
    "HistogramMedianAbsoluteDeviation": lambda c: np.mean(np.abs(c.q - np.median(c.q))),
    "HistogramQuartileCoefficientOfDispersion": lambda c: _qcod(c.q.astype(float)),
    "HistogramCoefficientOfVariation": lambda c: np.std(c.q) / np.mean(c.q),
    "HistogramExcessKurtosis": lambda c: _excess_kurtosis(c.q.astype(float)),
    "MaximumHistogramGradient": lambda c: np.max(_gradient(c)[1]),
    "MaximumHistogramGradientIntensity": lambda c: float(_gradient(c)[0][np.argmax(_gradient(c)[1])]),
    "MinimumHistogramGradient": lambda c: np.min(_gradient(c)[1]),
    "MinimumHistogramGradientIntensity": lambda c: float(_gradient(c)[0][np.argmin(_gradient(c)[1])]),
    "IvhV10": lambda c: _ivh_volume(c, 0.1),
    "IvhV90": lambda c: _ivh_volume(c, 0.9),
    "IvhI10": lambda c: _ivh_intensity(c, 0.1),
    "IvhI90": lambda c: _ivh_intensity(c, 0.9),
    "IvhV10minusV90": lambda c: _ivh_volume(c, 0.1) - _ivh_volume(c, 0.9),
    "IvhI10minusI90": lambda c: _ivh_intensity(c, 0.1) - _ivh_intensity(c, 0.9),
    "NgldmDependenceCountPercentage": lambda c: 1.0,
    "NgldmDependenceCountEnergy": _ngldm_energy,
}
INTENSITY.update({"Gldzm" + k: _zone(f) for k, f in GLDZM.items()})

FEATURES = dict(MORPHOLOGY)
FEATURES.update(INTENSITY)
DEPRECATED: dict = {}


def compute(values, q_roi, roi_box, spacing, settings, names=None, geometry=None) -> dict:
    """IBSI features; morphology and intensity peaks only when ``geometry`` (original image) is given."""
    table = FEATURES if geometry is not None else INTENSITY
    chosen = [n for n in select(FEATURES, DEPRECATED, names, "ibsi") if n in table]
    return evaluate(table, chosen, IBSIContext(values, q_roi, roi_box, spacing, settings, geometry))


# ----------------------------------------------------------------------------------------------
# the class descriptor (see descriptor.py)
# ----------------------------------------------------------------------------------------------
def _peak_margin_voxels(spacing_kji: np.ndarray) -> np.ndarray:
    """Crop margin for the intensity peaks: the 1 cm^3 sphere around ROI voxels reads beyond the ROI."""
    return np.ceil(PEAK_RADIUS_MM / np.asarray(spacing_kji, dtype=float)).astype(int) + 1


def _gldzm_info() -> dict:
    keys = {"SmallDistanceEmphasis": "SmallEmphasis", "LargeDistanceEmphasis": "LargeEmphasis",
            "LowGreyLevelZoneEmphasis": "LowGrayLevelEmphasis", "HighGreyLevelZoneEmphasis": "HighGrayLevelEmphasis",
            "SmallDistanceLowGreyLevelEmphasis": "SmallLowGrayLevelEmphasis",
            "SmallDistanceHighGreyLevelEmphasis": "SmallHighGrayLevelEmphasis",
            "LargeDistanceLowGreyLevelEmphasis": "LargeLowGrayLevelEmphasis",
            "LargeDistanceHighGreyLevelEmphasis": "LargeHighGrayLevelEmphasis",
            "GreyLevelNonUniformity": "GrayLevelNonUniformity",
            "GreyLevelNonUniformityNormalised": "GrayLevelNonUniformityNormalized",
            "ZoneDistanceNonUniformity": "NonUniformity", "ZoneDistanceNonUniformityNormalised": "NonUniformityNormalized",
            "ZonePercentage": "Percentage", "GreyLevelVariance": "GrayLevelVariance",
            "ZoneDistanceVariance": "Variance", "ZoneDistanceEntropy": "Entropy"}
    codes = {"SmallDistanceEmphasis": "0GBI", "LargeDistanceEmphasis": "MB4I", "LowGreyLevelZoneEmphasis": "S1RA",
             "HighGreyLevelZoneEmphasis": "K26C", "SmallDistanceLowGreyLevelEmphasis": "RUVG",
             "SmallDistanceHighGreyLevelEmphasis": "DKNJ", "LargeDistanceLowGreyLevelEmphasis": "A7WM",
             "LargeDistanceHighGreyLevelEmphasis": "KLTH", "GreyLevelNonUniformity": "VFT7",
             "GreyLevelNonUniformityNormalised": "7HP3", "ZoneDistanceNonUniformity": "V294",
             "ZoneDistanceNonUniformityNormalised": "IATH", "ZonePercentage": "VIWW", "GreyLevelVariance": "QK93",
             "ZoneDistanceVariance": "7WT1", "ZoneDistanceEntropy": "GBDU"}
    info = zone_info(keys, "zone", "border distance", codes)
    return {"Gldzm" + name: FeatureInfo("Distance zones: " + i.description, i.unit, i.ibsi) for name, i in info.items()}


def _info() -> dict:
    F = FeatureInfo
    info = {
        "MajorAxisLength": F("Largest principal axis, IBSI's unbiased covariance", "mm", "TDIC"),
        "MinorAxisLength": F("Second principal axis, IBSI's unbiased covariance", "mm", "P9VJ"),
        "LeastAxisLength": F("Smallest principal axis, IBSI's unbiased covariance", "mm", "7J51"),
        "Asphericity": F("How far the surface is from a sphere's (0 for a sphere)", "", "25C7"),
        "IntegratedIntensity": F("Mesh volume times mean intensity", "intensity mm3", "99N0"),
        "CentreOfMassShift": F("Distance between the ROI's geometric and intensity-weighted centres", "mm", "KLMA"),
        "VolumeDensityAABB": F("Mesh volume / volume of the axis-aligned bounding box", "", "PBX1"),
        "AreaDensityAABB": F("Mesh area / surface of the axis-aligned bounding box", "", "R59B"),
        "VolumeDensityAEE": F("Mesh volume / volume of the approximate enclosing ellipsoid", "", "6BDE"),
        "AreaDensityAEE": F("Mesh area / surface of the approximate enclosing ellipsoid", "", "RDD2"),
        "VolumeDensityConvexHull": F("Mesh volume / convex hull volume (solidity)", "", "R3ER"),
        "AreaDensityConvexHull": F("Mesh area / convex hull area", "", "7T7F"),
        "MoransI": F("Spatial autocorrelation of intensities, Moran's I (inverse-distance weights)", "", "N365"),
        "GearysC": F("Spatial autocorrelation of intensities, Geary's C (inverse-distance weights)", "", "NPT7"),
        "LocalIntensityPeak": F("Mean intensity in a 1 cm3 sphere around the brightest ROI voxel", "intensity",
                                "VJGA"),
        "GlobalIntensityPeak": F("Largest mean intensity in a 1 cm3 sphere around any ROI voxel", "intensity",
                                 "0F91"),
        "ExcessKurtosis": F("Kurtosis of the intensities minus 3 (0 for a normal distribution)", "", "IPH6"),
        "MedianAbsoluteDeviation": F("Mean distance of the intensities from their median", "intensity", "N72L"),
        "QuartileCoefficientOfDispersion": F("(P75 - P25) / (P75 + P25) of the intensities", "", "9S40"),
        "CoefficientOfVariation": F("Standard deviation / mean of the intensities", "", "7TET"),
        "HistogramMode": F("Most frequent gray level (the lowest of ties)", "gray level", "AMMC"),
        "HistogramMedianAbsoluteDeviation": F("Mean distance of the gray levels from their median", "gray level",
                                              "4RNL"),
        "HistogramQuartileCoefficientOfDispersion": F("(P75 - P25) / (P75 + P25) of the gray levels", "", "SLWD"),
        "HistogramCoefficientOfVariation": F("Standard deviation / mean of the gray levels", "", "CWYJ"),
        "HistogramExcessKurtosis": F("Kurtosis of the gray levels minus 3", "", "C3I7"),
        "MaximumHistogramGradient": F("Largest increase of the voxel count from one gray level to the next", "",
                                      "12CE"),
        "MaximumHistogramGradientIntensity": F("Gray level of the largest histogram increase", "gray level", "8E6O"),
        "MinimumHistogramGradient": F("Largest decrease of the voxel count from one gray level to the next", "",
                                      "VQB3"),
        "MinimumHistogramGradientIntensity": F("Gray level of the largest histogram decrease", "gray level", "RHQZ"),
        "IvhV10": F("Fraction of the ROI at or above the 10 % point of the gray-level range", "", "BC2M"),
        "IvhV90": F("Fraction of the ROI at or above the 90 % point of the gray-level range", "", "BC2M"),
        "IvhI10": F("Lowest gray level reached by at most 10 % of the ROI", "gray level", "GBPN"),
        "IvhI90": F("Lowest gray level reached by at most 90 % of the ROI", "gray level", "GBPN"),
        "IvhV10minusV90": F("IvhV10 minus IvhV90", "", "DDTU"),
        "IvhI10minusI90": F("IvhI10 minus IvhI90", "gray level", "CNV2"),
        "NgldmDependenceCountPercentage": F("Fraction of voxels with a dependence count (always 1)", "", "6XV8"),
        "NgldmDependenceCountEnergy": F("Sum of squared dependence-matrix probabilities", "", "CAS9"),
    }
    info.update(_gldzm_info())
    return info


def image_features(values, q_roi, roi_box, spacing, settings, names, geometry) -> dict:
    """The descriptor's per-image entry: ``compute`` (morphology and peaks with ``geometry`` only)."""
    return compute(values, q_roi, roi_box, spacing, settings, names, geometry=geometry)


DESCRIPTOR = FeatureClass(
    name="ibsi", title="IBSI-only features (built-in engine)", features=FEATURES, info=_info(),
    deprecated=DEPRECATED, pyradiomics=False, image_features=image_features, geometry=True,
    margin_voxels=_peak_margin_voxels,
)
