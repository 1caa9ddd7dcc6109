"""First-order (intensity statistics) features, pyradiomics class ``firstorder``.

X = ROI intensities (float64, N voxels), c = voxelArrayShift, p(i) = fraction of ROI voxels in gray
level i of the discretised image. IBSI codes in brackets (IBSI 1, chapter 3.3/3.4).

- Energy = sum (X + c)^2                                   [N8CA with c = 0]
- TotalEnergy = Energy * voxel volume (mm^3)
- Entropy = -sum p log2(p + eps)                           [TU9B]
- Minimum, Maximum, Mean, Median, Range, 10Percentile, 90Percentile, InterquartileRange
  (percentiles with linear interpolation, numpy default) [1GSF, 84IY, Q4LE, Y12H, 2OJQ, QG58, 8DWT, SALO]
- MeanAbsoluteDeviation = mean |X - mean|                   [4FUA]
- RobustMeanAbsoluteDeviation = MAD of the voxels within [P10, P90]   [1128]
- RootMeanSquared = sqrt(mean (X + c)^2)                     [5ZWQ with c = 0]
- StandardDeviation (deprecated, on request) = sqrt(Variance)
- Skewness = m3 / m2^1.5, Kurtosis = m4 / m2^2 (central moments; IBSI kurtosis IPH6 = this - 3)
  flat ROI (m2 = 0): 0                                       [KE2A]
- Variance = m2 (population variance)                        [ECT3]
- Uniformity = sum p^2                                       [BJ5W]
"""
from __future__ import annotations

import numpy as np

from .common import EPS, evaluate, select


class FirstOrderContext:
    """Intensities, histogram probabilities and moments shared by the first-order features."""

    def __init__(self, values: np.ndarray, q: np.ndarray, voxel_volume: float, shift: float):
        self.x = values.astype(np.float64)
        counts = np.bincount(q)
        counts = counts[counts > 0]
        self.p = counts / float(counts.sum())
        self.voxel_volume = voxel_volume
        self.shift = shift
        self.mean = self.x.mean()
        self._pct = None
        self._mom = None

    def percentile(self, q):
        """Percentiles 10, 25, 50, 75, 90 (linear interpolation), computed together once."""
        if self._pct is None:
            self._pct = dict(zip((10, 25, 50, 75, 90), np.percentile(self.x, [10, 25, 50, 75, 90])))
        return self._pct[q]

    def moment(self, k: int) -> float:
        """Central moments 2, 3, 4 (population), computed together once."""
        if self._mom is None:
            d = self.x - self.mean
            d2 = d * d
            self._mom = {2: float(np.mean(d2)), 3: float(np.mean(d2 * d)), 4: float(np.mean(d2 * d2))}
        return self._mom[k]


def _energy(c):
    return np.sum((c.x + c.shift) ** 2)


def _skewness(c):
    m2, m3 = c.moment(2), c.moment(3)
    return 0.0 if m2 == 0 else m3 / m2 ** 1.5


def _kurtosis(c):
    m2, m4 = c.moment(2), c.moment(4)
    return 0.0 if m2 == 0 else m4 / m2 ** 2.0


def _robust_mad(c):
    lo, hi = c.percentile(10), c.percentile(90)
    sub = c.x[(c.x >= lo) & (c.x <= hi)]
    if sub.size == 0:  # only possible with NaN-free rounding corner cases; pyradiomics gives NaN
        return np.nan
    return np.mean(np.abs(sub - sub.mean()))


FEATURES = {
    "Energy": _energy,
    "TotalEnergy": lambda c: _energy(c) * c.voxel_volume,
    "Entropy": lambda c: -np.sum(c.p * np.log2(c.p + EPS)),
    "Minimum": lambda c: np.min(c.x),
    "10Percentile": lambda c: c.percentile(10),
    "90Percentile": lambda c: c.percentile(90),
    "Maximum": lambda c: np.max(c.x),
    "Mean": lambda c: c.mean,
    "Median": lambda c: c.percentile(50),
    "InterquartileRange": lambda c: c.percentile(75) - c.percentile(25),
    "Range": lambda c: np.max(c.x) - np.min(c.x),
    "MeanAbsoluteDeviation": lambda c: np.mean(np.abs(c.x - c.mean)),
    "RobustMeanAbsoluteDeviation": _robust_mad,
    "RootMeanSquared": lambda c: np.sqrt(_energy(c) / c.x.size),
    "StandardDeviation": lambda c: np.sqrt(c.moment(2)),
    "Skewness": _skewness,
    "Kurtosis": _kurtosis,
    "Variance": lambda c: c.moment(2),
    "Uniformity": lambda c: np.sum(c.p ** 2),
}
#: deprecated features: True = computed when named explicitly
DEPRECATED = {"StandardDeviation": True}


def compute(values: np.ndarray, q: np.ndarray, voxel_volume: float, settings: dict, names=None) -> dict:
    """First-order features of ROI ``values`` with gray levels ``q`` (same voxel order)."""
    ctx = FirstOrderContext(values, q, voxel_volume, settings.get("voxelArrayShift", 0) or 0)
    return evaluate(FEATURES, select(FEATURES, DEPRECATED, names, "firstorder"), ctx)
