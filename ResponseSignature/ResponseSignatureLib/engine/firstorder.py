"""First-order (intensity statistics) features, pyradiomics class ``firstorder``.

X = ROI intensities (float64, N voxels), c = voxelArrayShift, p(i) = fraction of ROI voxels in gray
level i of the discretised image. IBSI codes in brackets (IBSI 1, chapter 3.3/3.4).

- Energy = sum (X + c)^2                                   [N8CA with c = 0]
- TotalEnergy = Energy * voxel volume (mm^3)
- Entropy = -sum p log2(p + eps)                           [TLU2]
- Minimum, Maximum, Mean, Median, Range, 10Percentile, 90Percentile, InterquartileRange
  (percentiles with linear interpolation, numpy default) [1GSF, 84IY, Q4LE, Y12H, 2OJQ, QG58, 8DWT, SALO]
- MeanAbsoluteDeviation = mean |X - mean|                   [4FUA]
- RobustMeanAbsoluteDeviation = MAD of the voxels within [P10, P90]   [1128]
- RootMeanSquared = sqrt(mean (X + c)^2)                     [5ZWQ with c = 0]
- StandardDeviation (deprecated, on request) = sqrt(Variance)
- Skewness = m3 / m2^1.5, Kurtosis = m4 / m2^2 (central moments; IBSI kurtosis IPH6 = this - 3)
  flat ROI (m2 = 0): 0                                       [KE2A]
- Variance = m2 (population variance)                        [ECT3]
- Uniformity = sum p^2                                       [BJ5W, 5SPA]

Batched: ``FirstOrderBatch`` holds B rows of intensities (a lesion's images, or a feature map's
kernels with NaN for voxels outside a kernel); every feature gives one value per row.
"""
from __future__ import annotations

import numpy as np

from .common import EPS, counts, evaluate_batch
from .descriptor import FeatureClass, FeatureInfo

#: the percentiles the features use, computed together
PERCENTILES = (10, 25, 50, 75, 90)


class FirstOrderBatch:
    """Intensities (B, K), NaN for voxels outside a row's region, with their gray levels (B, K; 0
    outside): histograms, moments and percentiles shared by the first-order features."""

    def __init__(self, values: np.ndarray, levels: np.ndarray, voxel_volume: float, shift: float):
        b = values.shape[0]
        self.x = values.reshape(b, -1).astype(np.float64, copy=False)
        self.complete = not np.isnan(self.x).any()  # a lesion's images: every row full
        # reductions that skip NaN only where there is some (the nan-versions copy the array)
        self.reduce = {"mean": np.mean, "sum": np.sum, "min": np.min, "max": np.max} if self.complete else \
            {"mean": np.nanmean, "sum": np.nansum, "min": np.nanmin, "max": np.nanmax}
        self.n = np.full(b, self.x.shape[1]) if self.complete else np.sum(~np.isnan(self.x), axis=1)
        self.mean = self.reduce["mean"](self.x, axis=1)
        self.minimum, self.maximum = self.reduce["min"](self.x, axis=1), self.reduce["max"](self.x, axis=1)
        self.dev = self.x - self.mean[:, None]
        levels = levels.reshape(b, -1)
        top = int(levels.max()) + 1
        rows = np.broadcast_to(np.arange(b)[:, None] * top, levels.shape)
        hist = counts((rows + levels).ravel(), (b, top))[:, 1:]  # level 0: outside the row's region
        self.p = hist / self.n[:, None]
        self.voxel_volume, self.shift = voxel_volume, shift
        self._percentiles: dict = {}
        self._moments: dict = {}

    def percentile(self, q: float) -> np.ndarray:
        """Linear-interpolation percentile of each row (numpy's default method) over its voxels."""
        if not self._percentiles:
            if self.complete:  # partial sorts, all five at once
                table = np.percentile(self.x, PERCENTILES, axis=1)
            else:  # rows of different lengths: NaN sorts last
                table = [self._sorted_percentile(np.sort(self.x, axis=1), v) for v in PERCENTILES]
            self._percentiles = dict(zip(PERCENTILES, table))
        return self._percentiles[q]

    def _sorted_percentile(self, ordered: np.ndarray, q: float) -> np.ndarray:
        pos = (self.n - 1) * (q / 100.0)
        below = np.floor(pos).astype(np.int64)
        above = np.minimum(below + 1, self.n - 1)
        t = pos - below
        rows = np.arange(len(self.n))
        a, b = ordered[rows, below], ordered[rows, above]
        diff = b - a
        return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)

    def moment(self, k: int) -> np.ndarray:
        """Central moments 2, 3, 4 (population), by products (``**`` calls pow), computed once."""
        if not self._moments:
            d2 = self.dev * self.dev
            for power, term in ((2, d2), (3, d2 * self.dev), (4, d2 * d2)):
                self._moments[power] = self.reduce["mean"](term, axis=1)
        return self._moments[k]

    def energy(self) -> np.ndarray:
        shifted = self.x + self.shift
        return self.reduce["sum"](shifted * shifted, axis=1)


def _robust_mad(c: FirstOrderBatch) -> np.ndarray:
    """Mean absolute deviation of the voxels within [P10, P90] of each row (NaN if none)."""
    keep = (c.x >= c.percentile(10)[:, None]) & (c.x <= c.percentile(90)[:, None])  # NaN: False
    n = np.count_nonzero(keep, axis=1)
    mean = np.sum(np.where(keep, c.x, 0.0), axis=1) / n
    return np.sum(np.where(keep, np.abs(c.x - mean[:, None]), 0.0), axis=1) / n


def _standardised_moment(k: int):
    """Skewness (k 3) or kurtosis (k 4): m_k / m2^(k/2); 0 for a flat row (m2 = 0)."""
    def feature(c: FirstOrderBatch) -> np.ndarray:
        m2, mk = c.moment(2), c.moment(k)
        return np.where(m2 == 0, 0.0, mk / np.where(m2 == 0, 1.0, m2) ** (k / 2.0))
    return feature


FEATURES = {
    "Energy": lambda c: c.energy(),
    "TotalEnergy": lambda c: c.energy() * c.voxel_volume,
    "Entropy": lambda c: -np.sum(c.p * np.log2(c.p + EPS), axis=1),
    "Minimum": lambda c: c.minimum,
    "10Percentile": lambda c: c.percentile(10),
    "90Percentile": lambda c: c.percentile(90),
    "Maximum": lambda c: c.maximum,
    "Mean": lambda c: c.mean,
    "Median": lambda c: c.percentile(50),
    "InterquartileRange": lambda c: c.percentile(75) - c.percentile(25),
    "Range": lambda c: c.maximum - c.minimum,
    "MeanAbsoluteDeviation": lambda c: c.reduce["mean"](np.abs(c.dev), axis=1),
    "RobustMeanAbsoluteDeviation": _robust_mad,
    "RootMeanSquared": lambda c: np.sqrt(c.energy() / c.n),
    "StandardDeviation": lambda c: np.sqrt(c.moment(2)),
    "Skewness": _standardised_moment(3),
    "Kurtosis": _standardised_moment(4),
    "Variance": lambda c: c.moment(2),
    "Uniformity": lambda c: np.sum(c.p ** 2, axis=1),
}
#: deprecated features: True = computed when named explicitly
DEPRECATED = {"StandardDeviation": True}


def batch_context(images: list, voxel_volume: float) -> FirstOrderBatch:
    """The first-order context of a stack of a lesion's images (same voxel count and shift)."""
    return FirstOrderBatch(np.stack([im.values for im in images]).astype(np.float64),
                           np.stack([im.q for im in images]), voxel_volume,
                           float(images[0].args.get("voxelArrayShift", 0) or 0))


def stack_key(image) -> tuple:
    """Images of one stack share voxelArrayShift and their voxel count."""
    return float(image.args.get("voxelArrayShift", 0) or 0), image.values.size


def kernel_features(batch, context, chosen: list[str]):
    """First-order features of a batch of kernels (values NaN and levels 0 outside each kernel)."""
    ctx = FirstOrderBatch(batch.values, batch.value_levels, float(np.prod(context.spacing)),
                          float(context.args.get("voxelArrayShift", 0) or 0))
    return evaluate_batch(FEATURES, chosen, ctx), {}


INFO = {
    "Energy": FeatureInfo("Sum of squared intensities (shifted by voxelArrayShift)", "intensity2", "N8CA"),
    "TotalEnergy": FeatureInfo("Energy times the voxel volume", "intensity2 mm3"),
    "Entropy": FeatureInfo("Entropy (bits) of the discretised intensity histogram", "", "TLU2"),
    "Minimum": FeatureInfo("Lowest intensity in the ROI", "intensity", "1GSF"),
    "10Percentile": FeatureInfo("10th percentile of the intensities", "intensity", "QG58"),
    "90Percentile": FeatureInfo("90th percentile of the intensities", "intensity", "8DWT"),
    "Maximum": FeatureInfo("Highest intensity in the ROI", "intensity", "84IY"),
    "Mean": FeatureInfo("Mean intensity", "intensity", "Q4LE"),
    "Median": FeatureInfo("Median intensity", "intensity", "Y12H"),
    "InterquartileRange": FeatureInfo("75th minus 25th intensity percentile", "intensity", "SALO"),
    "Range": FeatureInfo("Maximum minus minimum intensity", "intensity", "2OJQ"),
    "MeanAbsoluteDeviation": FeatureInfo("Mean distance of the intensities from their mean", "intensity", "4FUA"),
    "RobustMeanAbsoluteDeviation": FeatureInfo(
        "Mean absolute deviation of the intensities between the 10th and 90th percentiles", "intensity", "1128"),
    "RootMeanSquared": FeatureInfo("Square root of the mean squared (shifted) intensity", "intensity", "5ZWQ"),
    "StandardDeviation": FeatureInfo("Standard deviation of the intensities (deprecated)", "intensity"),
    "Skewness": FeatureInfo("Asymmetry of the intensity distribution (third standardised moment)", "", "KE2A"),
    "Kurtosis": FeatureInfo("Peakedness of the intensity distribution (fourth standardised moment, not "
                            "minus 3)", ""),
    "Variance": FeatureInfo("Population variance of the intensities", "intensity2", "ECT3"),
    "Uniformity": FeatureInfo("Sum of the squared discretised-histogram probabilities", "", "BJ5W, 5SPA"),
}

DESCRIPTOR = FeatureClass(
    name="firstorder", title="First order (intensity statistics)", features=FEATURES, info=INFO,
    deprecated=DEPRECATED, default=True, batch_context=batch_context, stack_key=stack_key,
    kernel_features=kernel_features,
)
