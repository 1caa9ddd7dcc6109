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

from .common import EPS, Levels, evaluate, plane_axis, select
from .glszm import ZoneContext, _joint, _var


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
    "SmallDependenceEmphasis": lambda c: np.sum(c.ps / c.j ** 2) / c.nz,
    "LargeDependenceEmphasis": lambda c: np.sum(c.ps * c.j ** 2) / c.nz,
    "GrayLevelNonUniformity": lambda c: np.sum(c.pg ** 2) / c.nz,
    "DependenceNonUniformity": lambda c: np.sum(c.ps ** 2) / c.nz,
    "DependenceNonUniformityNormalized": lambda c: np.sum(c.ps ** 2) / c.nz ** 2,
    "GrayLevelVariance": lambda c: _var(c.pg, c.i, c.nz),
    "DependenceVariance": lambda c: _var(c.ps, c.j, c.nz),
    "DependenceEntropy": lambda c: -np.sum((c.p / c.nz) * np.log2(c.p / c.nz + EPS)),
    "LowGrayLevelEmphasis": lambda c: np.sum(c.pg / c.i ** 2) / c.nz,
    "HighGrayLevelEmphasis": lambda c: np.sum(c.pg * c.i ** 2) / c.nz,
    "SmallDependenceLowGrayLevelEmphasis": _joint(lambda p, i2, j2: p / (i2 * j2)),
    "SmallDependenceHighGrayLevelEmphasis": _joint(lambda p, i2, j2: p * i2 / j2),
    "LargeDependenceLowGrayLevelEmphasis": _joint(lambda p, i2, j2: p * j2 / i2),
    "LargeDependenceHighGrayLevelEmphasis": _joint(lambda p, i2, j2: p * j2 * i2),
}
#: refused by pyradiomics (GLNN = first-order Uniformity; DependencePercentage is always 1)
DEPRECATED = {"GrayLevelNonUniformityNormalized": False, "DependencePercentage": False}


def compute(lv: Levels, settings: dict, names=None) -> dict:
    """GLDM features of the discretised ROI ``lv``."""
    chosen = select(FEATURES, DEPRECATED, names, "gldm")
    return evaluate(FEATURES, chosen, ZoneContext(matrix(lv, settings), lv.levels))
