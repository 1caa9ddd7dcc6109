"""Gray Level Size Zone Matrix features, pyradiomics class ``glszm`` (IBSI 3.8, 3D).

Matrix: P(i, j) = number of zones (26-connected groups of ROI voxels with the same gray level i) of
size j voxels. N_z = number of zones, N_p = number of ROI voxels, p_g / p_s the marginals.
SmallAreaEmphasis sum p_s/j^2 / N_z [5QRC]; LargeAreaEmphasis sum p_s j^2 / N_z [48P8];
GrayLevelNonUniformity sum p_g^2 / N_z [JNSA]; ...Normalized / N_z^2 [Y1RO];
SizeZoneNonUniformity sum p_s^2 / N_z [4JP3]; ...Normalized [VB3A]; ZonePercentage N_z/N_p [P30P];
GrayLevelVariance [BYLV]; ZoneVariance [3NSA]; ZoneEntropy [GU8N]; LowGrayLevelZoneEmphasis [XMSY];
HighGrayLevelZoneEmphasis [5GN9]; SmallAreaLowGrayLevelEmphasis [5RAI]; SmallAreaHighGrayLevelEmphasis
[HW1V]; LargeAreaLowGrayLevelEmphasis [YH51]; LargeAreaHighGrayLevelEmphasis [J17V].
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .common import EPS, Levels, evaluate, plane_axis, select

_FULL = np.ones((3, 3, 3), dtype=bool)


def zones(q: np.ndarray, connectivity: np.ndarray = _FULL) -> tuple[np.ndarray, np.ndarray]:
    """(gray level, size) of every connected zone of equal gray level (0 = background ignored)."""
    gls, sizes = [], []
    for level, box in enumerate(ndimage.find_objects(q), start=1):
        if box is None:
            continue
        lab, n = ndimage.label(q[box] == level, structure=connectivity)
        size = np.bincount(lab.ravel())[1:]
        gls.append(np.full(n, level))
        sizes.append(size)
    return np.concatenate(gls), np.concatenate(sizes)


def connectivity(axis) -> np.ndarray:
    """26-connectivity, or 8-connectivity within planes normal to ``axis`` (force2D)."""
    st = np.ones((3, 3, 3), dtype=bool)
    if axis is not None:
        st = np.zeros((3, 3, 3), dtype=bool)
        sl = [slice(None)] * 3
        sl[axis] = 1
        st[tuple(sl)] = True
    return st


def matrix(lv: Levels, settings: dict | None = None) -> np.ndarray:
    """Size-zone matrix (Ng', max zone size) over the gray levels present."""
    gl, size = zones(lv.q, connectivity(plane_axis(settings or {})))
    ns = int(size.max())
    p = np.bincount((gl - 1) * ns + size - 1, minlength=lv.ng * ns).reshape(lv.ng, ns)
    return p[lv.levels - 1].astype(float)


class ZoneContext:
    """Shared by GLSZM (zones) and GLDM (dependences): matrix, marginals, vectors, totals."""

    def __init__(self, p: np.ndarray, levels: np.ndarray, n_voxels: float | None = None):
        ps = p.sum(0)
        self.pg = p.sum(1)
        jvec = np.arange(1, p.shape[1] + 1, dtype=float)
        self.nz = p.sum() or 1.0
        self.np_ = n_voxels if n_voxels is not None else (np.sum(ps * jvec) or 1.0)
        used = ps > 0
        self.p, self.ps, self.j = p[:, used], ps[used], jvec[used]
        self.i = levels.astype(float)


def _var(marg, vec, nz):
    pm = marg / nz
    u = np.sum(pm * vec)
    return np.sum(pm * (vec - u) ** 2)


def _joint(fn):
    return lambda c: np.sum(fn(c.p, c.i[:, None] ** 2, c.j[None, :] ** 2)) / c.nz


FEATURES = {
    "SmallAreaEmphasis": lambda c: np.sum(c.ps / c.j ** 2) / c.nz,
    "LargeAreaEmphasis": lambda c: np.sum(c.ps * c.j ** 2) / c.nz,
    "GrayLevelNonUniformity": lambda c: np.sum(c.pg ** 2) / c.nz,
    "GrayLevelNonUniformityNormalized": lambda c: np.sum(c.pg ** 2) / c.nz ** 2,
    "SizeZoneNonUniformity": lambda c: np.sum(c.ps ** 2) / c.nz,
    "SizeZoneNonUniformityNormalized": lambda c: np.sum(c.ps ** 2) / c.nz ** 2,
    "ZonePercentage": lambda c: c.nz / c.np_,
    "GrayLevelVariance": lambda c: _var(c.pg, c.i, c.nz),
    "ZoneVariance": lambda c: _var(c.ps, c.j, c.nz),
    "ZoneEntropy": lambda c: -np.sum((c.p / c.nz) * np.log2(c.p / c.nz + EPS)),
    "LowGrayLevelZoneEmphasis": lambda c: np.sum(c.pg / c.i ** 2) / c.nz,
    "HighGrayLevelZoneEmphasis": lambda c: np.sum(c.pg * c.i ** 2) / c.nz,
    "SmallAreaLowGrayLevelEmphasis": _joint(lambda p, i2, j2: p / (i2 * j2)),
    "SmallAreaHighGrayLevelEmphasis": _joint(lambda p, i2, j2: p * i2 / j2),
    "LargeAreaLowGrayLevelEmphasis": _joint(lambda p, i2, j2: p * j2 / i2),
    "LargeAreaHighGrayLevelEmphasis": _joint(lambda p, i2, j2: p * i2 * j2),
}
DEPRECATED: dict = {}


def compute(lv: Levels, settings: dict, names=None) -> dict:
    """GLSZM features of the discretised ROI ``lv``."""
    chosen = select(FEATURES, DEPRECATED, names, "glszm")
    return evaluate(FEATURES, chosen, ZoneContext(matrix(lv, settings), lv.levels))
