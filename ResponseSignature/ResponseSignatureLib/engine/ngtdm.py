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

from .common import Levels, evaluate, plane_axis, select


def matrix(lv: Levels, settings: dict) -> tuple[np.ndarray, np.ndarray]:
    """(n_i, s_i) per gray level present."""
    dist = settings.get("distances") or [1]
    pad = int(max(dist))
    centre = lv.centre(pad)
    stack = lv.neighbours(dist, plane_axis(settings), pad)
    count = np.count_nonzero(stack, axis=0)
    total = stack.sum(axis=0, dtype=np.int64)  # 0 outside the ROI; integer sums are exact
    diff = np.zeros(centre.size)
    has = count > 0
    diff[has] = np.abs(centre[has] - total[has] / count[has])
    n = np.bincount(centre, minlength=lv.ng + 1)[1:]
    s = np.bincount(centre, weights=diff, minlength=lv.ng + 1)[1:]
    keep = n > 0
    return n[keep].astype(float), s[keep]


class NGTDMContext:
    def __init__(self, n: np.ndarray, s: np.ndarray, levels: np.ndarray):
        self.nvp = n.sum()
        self.p = n / self.nvp
        self.s = s
        self.i = levels.astype(float)
        self.ngp = int(np.sum(n > 0))


def _coarseness(c):
    total = np.sum(c.p * c.s)
    return 1e6 if total == 0 else 1.0 / total


def _contrast(c):
    div = c.ngp * (c.ngp - 1)
    if div == 0:
        return 0.0
    pp = c.p[:, None] * c.p[None, :]
    return np.sum(pp * (c.i[:, None] - c.i[None, :]) ** 2) * np.sum(c.s) / c.nvp / div


def _busyness(c):
    ip = c.i * c.p
    absdiff = np.sum(np.abs(ip[:, None] - ip[None, :]))
    return 0.0 if absdiff == 0 else np.sum(c.p * c.s) / absdiff


def _complexity(c):
    ps = c.p * c.s
    num = ps[:, None] + ps[None, :]
    den = c.p[:, None] + c.p[None, :]
    return np.sum(np.abs(c.i[:, None] - c.i[None, :]) * num / den) / c.nvp


def _strength(c):
    total = np.sum(c.s)
    if total == 0:
        return 0.0
    return np.sum((c.p[:, None] + c.p[None, :]) * (c.i[:, None] - c.i[None, :]) ** 2) / total


FEATURES = {
    "Coarseness": _coarseness,
    "Contrast": _contrast,
    "Busyness": _busyness,
    "Complexity": _complexity,
    "Strength": _strength,
}
DEPRECATED: dict = {}


def compute(lv: Levels, settings: dict, names=None) -> dict:
    """NGTDM features of the discretised ROI ``lv``."""
    chosen = select(FEATURES, DEPRECATED, names, "ngtdm")
    n, s = matrix(lv, settings)
    return evaluate(FEATURES, chosen, NGTDMContext(n, s, lv.levels))
