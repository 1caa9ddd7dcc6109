"""Gray Level Dependence Matrix features, pyradiomics class ``gldm`` (IBSI NGLDM, 3.11, 3D).

Matrix: a neighbour v + a (a: every offset with Chebyshev norm in ``distances``, 26 for distance 1)
of ROI voxel v is dependent if it lies in the ROI and |g(v) - g(v + a)| <= ``gldm_a`` (IBSI
coarseness alpha). P(i, j) counts ROI voxels of gray level i with j - 1 dependent neighbours (so
j >= 1). N_z = sum P = N_p. Features use the zone formulas with j = dependence count + 1:
SmallDependenceEmphasis [SODN]; LargeDependenceEmphasis [IMOQ]; GrayLevelNonUniformity [FP8K];
DependenceNonUniformity [Z87G]; DependenceNonUniformityNormalized [OKJI]; GrayLevelVariance [1PFV];
DependenceVariance [DNX2]; DependenceEntropy [FCBV]; LowGrayLevelEmphasis [TL9H];
HighGrayLevelEmphasis [OAE7]; SmallDependenceLowGrayLevelEmphasis [EQ3F];
SmallDependenceHighGrayLevelEmphasis [JA6D]; LargeDependenceLowGrayLevelEmphasis [NBZI];
LargeDependenceHighGrayLevelEmphasis [9QMG].
"""
from __future__ import annotations

import numpy as np

from .common import Levels, counts, evaluate_batch, length_stack, length_stack_size, offsets, plane_axis
from .descriptor import FeatureClass
from .glszm import ZONE_FORMULAS, ZoneBatch, zone_info
from .kernels import FlatWindows, KernelBatch, KernelContext, compact_levels, window_positions


def matrix(lv: Levels, settings: dict) -> np.ndarray:
    """Dependence matrix (Ng', number of offsets + 1) over the gray levels present."""
    dist = settings.get("distances") or [1]
    alpha = settings.get("gldm_a", 0) or 0
    pad = int(max(dist))
    centre = lv.centre(pad)
    stack = lv.neighbours(dist, plane_axis(settings), pad)
    if alpha == 0:
        dep = np.count_nonzero(stack == centre, axis=0)
    else:
        dep = np.count_nonzero((stack > 0) & (np.abs(centre - stack) <= alpha), axis=0)
    width = len(stack) + 1  # dependence 0..number of offsets
    p = np.bincount((centre.astype(np.int64) - 1) * width + dep, minlength=lv.ng * width).reshape(lv.ng, width)
    return p[lv.levels - 1].astype(float)


FEATURES = {
    "SmallDependenceEmphasis": ZONE_FORMULAS["SmallEmphasis"],
    "LargeDependenceEmphasis": ZONE_FORMULAS["LargeEmphasis"],
    "GrayLevelNonUniformity": ZONE_FORMULAS["GrayLevelNonUniformity"],
    "DependenceNonUniformity": ZONE_FORMULAS["NonUniformity"],
    "DependenceNonUniformityNormalized": ZONE_FORMULAS["NonUniformityNormalized"],
    "GrayLevelVariance": ZONE_FORMULAS["GrayLevelVariance"],
    "DependenceVariance": ZONE_FORMULAS["Variance"],
    "DependenceEntropy": ZONE_FORMULAS["Entropy"],
    "LowGrayLevelEmphasis": ZONE_FORMULAS["LowGrayLevelEmphasis"],
    "HighGrayLevelEmphasis": ZONE_FORMULAS["HighGrayLevelEmphasis"],
    "SmallDependenceLowGrayLevelEmphasis": ZONE_FORMULAS["SmallLowGrayLevelEmphasis"],
    "SmallDependenceHighGrayLevelEmphasis": ZONE_FORMULAS["SmallHighGrayLevelEmphasis"],
    "LargeDependenceLowGrayLevelEmphasis": ZONE_FORMULAS["LargeLowGrayLevelEmphasis"],
    "LargeDependenceHighGrayLevelEmphasis": ZONE_FORMULAS["LargeHighGrayLevelEmphasis"],
}
#: refused by pyradiomics (GLNN = first-order Uniformity; DependencePercentage is always 1)
DEPRECATED = {"GrayLevelNonUniformityNormalized": False, "DependencePercentage": False}


def batch_context(images: list, voxel_volume: float) -> ZoneBatch:
    """The dependence matrices of a stack of a lesion's images over common gray levels and counts."""
    stack, gray, dependences = length_stack(images, "gldm")
    return ZoneBatch(stack, gray, j=dependences)


# ----------------------------------------------------------------------------------------------
# feature maps: kernels
# ----------------------------------------------------------------------------------------------
def kernel_counts(windows: np.ndarray, compact: np.ndarray, g: int, context: KernelContext) -> np.ndarray:
    """Dependence counts (B, G, Na + 1): kernel voxels by level and number of dependent neighbours
    (neighbours in the kernel whose gray level differs by at most gldm_a)."""
    args = context.args
    dist = args.get("distances") or [1]
    alpha = args.get("gldm_a", 0) or 0
    angles = offsets(dist, bidirectional=True, plane_axis=context.axis)
    fw = FlatWindows(windows, int(max(dist)))
    centre = fw.level.astype(np.int64)
    dependent = np.zeros(centre.size, dtype=np.int64)
    for offset in angles:
        neighbour = fw.flat[fw.index + fw.step(offset)].astype(np.int64)
        dependent += (neighbour > 0) & (np.abs(neighbour - centre) <= alpha)
    rank = compact.ravel()[window_positions(fw, windows.shape)]
    width = len(angles) + 1
    return counts((fw.kernel * g + rank - 1) * width + dependent, (windows.shape[0], g, width))


def kernel_features(batch: KernelBatch, context: KernelContext, chosen: list[str]):
    windows = batch.texture
    compact, levels = compact_levels(windows)
    with np.errstate(all="ignore"):
        ctx = ZoneBatch(kernel_counts(windows, compact, len(levels), context), levels)
    return evaluate_batch(FEATURES, chosen, ctx), {}


INFO = zone_info({
    "SmallDependenceEmphasis": "SmallEmphasis", "LargeDependenceEmphasis": "LargeEmphasis",
    "GrayLevelNonUniformity": "GrayLevelNonUniformity", "DependenceNonUniformity": "NonUniformity",
    "DependenceNonUniformityNormalized": "NonUniformityNormalized", "GrayLevelVariance": "GrayLevelVariance",
    "DependenceVariance": "Variance", "DependenceEntropy": "Entropy", "LowGrayLevelEmphasis": "LowGrayLevelEmphasis",
    "HighGrayLevelEmphasis": "HighGrayLevelEmphasis",
    "SmallDependenceLowGrayLevelEmphasis": "SmallLowGrayLevelEmphasis",
    "SmallDependenceHighGrayLevelEmphasis": "SmallHighGrayLevelEmphasis",
    "LargeDependenceLowGrayLevelEmphasis": "LargeLowGrayLevelEmphasis",
    "LargeDependenceHighGrayLevelEmphasis": "LargeHighGrayLevelEmphasis",
    "GrayLevelNonUniformityNormalized": "GrayLevelNonUniformityNormalized",
    "DependencePercentage": "Percentage",
}, "voxel dependence", "dependence count", {
    "SmallDependenceEmphasis": "SODN", "LargeDependenceEmphasis": "IMOQ", "GrayLevelNonUniformity": "FP8K",
    "DependenceNonUniformity": "Z87G", "DependenceNonUniformityNormalized": "OKJI", "GrayLevelVariance": "1PFV",
    "DependenceVariance": "DNX2", "DependenceEntropy": "FCBV", "LowGrayLevelEmphasis": "TL9H",
    "HighGrayLevelEmphasis": "OAE7", "SmallDependenceLowGrayLevelEmphasis": "EQ3F",
    "SmallDependenceHighGrayLevelEmphasis": "JA6D", "LargeDependenceLowGrayLevelEmphasis": "NBZI",
    "LargeDependenceHighGrayLevelEmphasis": "9QMG",
})

DESCRIPTOR = FeatureClass(
    name="gldm", title="Gray level dependence matrix", features=FEATURES, info=INFO, deprecated=DEPRECATED,
    default=True, matrix=matrix, length_columns=True, batch_context=batch_context,
    stack_size=length_stack_size("gldm"), kernel_features=kernel_features,
)
