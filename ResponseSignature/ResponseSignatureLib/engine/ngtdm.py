"""Neighbouring Gray Tone Difference Matrix features, pyradiomics class ``ngtdm`` (IBSI 3.10, 3D).

Matrix: for each ROI voxel v of gray level i, A(v) = mean gray level of its neighbours inside the ROI
(offsets with Chebyshev norm in ``distances``); s_i = sum over voxels of level i of |i - A(v)| (a voxel
without ROI neighbours adds 0 but is still counted), n_i = number of voxels of level i,
N_vp = sum n_i, p_i = n_i / N_vp, N_gp = number of levels present.
Coarseness 1 / sum p_i s_i (1e6 if 0) [QCDE]; Contrast [sum_ij p_i p_j (i-j)^2 / (N_gp (N_gp - 1))]
* sum s_i / N_vp [65HE]; Busyness sum p_i s_i / sum_ij |i p_i - j p_j| [NQ30];
Complexity sum_ij |i - j| (p_i s_i + p_j s_j) / (p_i + p_j) / N_vp [HDEZ];
Strength sum_ij (p_i + p_j)(i - j)^2 / sum s_i [1X9X].
"""
from __future__ import annotations

import numpy as np

from .common import Levels, common_levels, counts, evaluate_batch, offsets, place, plane_axis
from .descriptor import FeatureClass, FeatureInfo
from .kernels import FlatWindows, KernelBatch, KernelContext, compact_levels, window_positions


def matrix(lv: Levels, settings: dict) -> tuple[np.ndarray, np.ndarray]:
    """(n_i, s_i) per gray level present."""
    dist = settings.get("distances") or [1]
    pad = int(max(dist))
    centre = lv.centre(pad)
    stack = lv.neighbours(dist, plane_axis(settings), pad)
    count = lv.roi_neighbour_count(dist, plane_axis(settings), pad)
    total = stack.sum(axis=0, dtype=np.int64)  # 0 outside the ROI; integer sums are exact
    diff = np.zeros(centre.size)
    has = count > 0
    diff[has] = np.abs(centre[has] - total[has] / count[has])
    n = np.bincount(centre, minlength=lv.ng + 1)[1:]
    s = np.bincount(centre, weights=diff, minlength=lv.ng + 1)[1:]
    keep = n > 0
    return n[keep].astype(float), s[keep]


class NGTDMBatch:
    """Level probabilities p (B, G) (0 for levels absent from a row), s_i and the level values, for
    B rows (a lesion's images, or a feature map's kernels) over common gray levels."""

    def __init__(self, n: np.ndarray, s: np.ndarray, levels: np.ndarray):
        self.nvp = n.sum(1)
        self.p = n / self.nvp[:, None]
        self.s = s
        self.i = levels[None, :]
        self.ngp = np.sum(n > 0, 1)
        self.both = (self.p[:, :, None] > 0) & (self.p[:, None, :] > 0)  # pairs of levels present


def _coarseness(c: NGTDMBatch) -> np.ndarray:
    total = np.sum(c.p * c.s, 1)
    return np.where(total == 0, 1e6, 1.0 / np.where(total == 0, 1.0, total))


def _contrast(c: NGTDMBatch) -> np.ndarray:
    div = c.ngp * (c.ngp - 1)
    pp = c.p[:, :, None] * c.p[:, None, :] * (c.i[:, :, None] - c.i[:, None, :]) ** 2
    value = np.sum(pp, (1, 2)) * np.sum(c.s, 1) / c.nvp
    return np.where(div == 0, 0.0, value / np.where(div == 0, 1, div))


def _busyness(c: NGTDMBatch) -> np.ndarray:
    ip = c.i * c.p
    absdiff = np.sum(np.where(c.both, np.abs(ip[:, :, None] - ip[:, None, :]), 0.0), (1, 2))
    return np.where(absdiff == 0, 0.0, np.sum(c.p * c.s, 1) / np.where(absdiff == 0, 1.0, absdiff))


def _complexity(c: NGTDMBatch) -> np.ndarray:
    ps = c.p * c.s
    num = np.where(c.both, ps[:, :, None] + ps[:, None, :], 0.0)
    den = c.p[:, :, None] + c.p[:, None, :]
    terms = np.abs(c.i[:, :, None] - c.i[:, None, :]) * num / np.where(den == 0, 1.0, den)
    return np.sum(terms, (1, 2)) / c.nvp


def _strength(c: NGTDMBatch) -> np.ndarray:
    total = np.sum(c.s, 1)
    terms = np.where(c.both, (c.p[:, :, None] + c.p[:, None, :]) * (c.i[:, :, None] - c.i[:, None, :]) ** 2, 0.0)
    return np.where(total == 0, 0.0, np.sum(terms, (1, 2)) / np.where(total == 0, 1.0, total))


FEATURES = {
    "Coarseness": _coarseness,
    "Contrast": _contrast,
    "Busyness": _busyness,
    "Complexity": _complexity,
    "Strength": _strength,
}
DEPRECATED: dict = {}


def batch_context(images: list, voxel_volume: float) -> NGTDMBatch:
    """The (n_i, s_i) of a stack of a lesion's images over their common gray levels."""
    union, own = common_levels(images)
    where = [(o,) for o in own]
    n = place([im.matrices["ngtdm"][0] for im in images], where, (len(union),))
    s = place([im.matrices["ngtdm"][1] for im in images], where, (len(union),))
    return NGTDMBatch(n, s, union.astype(np.float64))


# ----------------------------------------------------------------------------------------------
# feature maps: kernels
# ----------------------------------------------------------------------------------------------
def kernel_counts(windows: np.ndarray, compact: np.ndarray, g: int, context: KernelContext):
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
    keys = fw.kernel * g + compact.ravel()[window_positions(fw, windows.shape)] - 1
    shape = (windows.shape[0], g)
    return counts(keys, shape), counts(keys, shape, weights=diff)


def kernel_features(batch: KernelBatch, context: KernelContext, chosen: list[str]):
    windows = batch.texture
    compact, levels = compact_levels(windows)
    n, s = kernel_counts(windows, compact, len(levels), context)
    with np.errstate(all="ignore"):
        ctx = NGTDMBatch(n, s, levels)
    return evaluate_batch(FEATURES, chosen, ctx), {}


INFO = {
    "Coarseness": FeatureInfo("Inverse of the summed level-weighted differences from the neighbourhood mean "
                              "(high for slowly varying texture)", "", "QCDE"),
    "Contrast": FeatureInfo("Dynamic range of gray levels times the spatial rate of change", "", "65HE"),
    "Busyness": FeatureInfo("Rapid changes between neighbouring levels relative to the level range", "", "NQ30"),
    "Complexity": FeatureInfo("Amount of non-uniform, rapidly changing texture", "", "HDEZ"),
    "Strength": FeatureInfo("Large, distinct primitives: level differences over summed neighbourhood "
                            "differences", "", "1X9X"),
}

DESCRIPTOR = FeatureClass(
    name="ngtdm", title="Neighbouring gray tone difference matrix", features=FEATURES, info=INFO,
    deprecated=DEPRECATED, default=True, matrix=matrix, batch_context=batch_context,
    stack_size=lambda images, rows, n_levels: len(rows) * n_levels * 2, kernel_features=kernel_features,
)
