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
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .common import EPS, Levels, evaluate, offsets, plane_axis, select

#: zones by ``ndimage.label`` per gray level up to this many levels, else by graph components
LABEL_MAX_LEVELS = 8


def zones(lv: Levels, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """(gray level, size) of every connected zone of equal gray level.

    26-connectivity (8-connectivity within planes normal to ``axis``, force2D). Two equivalent
    methods, chosen by cost: with many gray levels, the connected components of the graph whose
    edges join ROI neighbours of equal level (from the neighbour look-ups GLCM shares); with few
    levels (large zones, many such edges), ``scipy.ndimage.label`` per level on its bounding box.
    """
    if lv.levels.size > LABEL_MAX_LEVELS:
        return _graph_zones(lv, axis)
    gls, sizes = [], []
    for level, box in enumerate(ndimage.find_objects(lv.q), start=1):
        if box is None:
            continue
        lab, n = ndimage.label(lv.q[box] == level, structure=connectivity(axis))
        gls.append(np.full(n, level))
        sizes.append(np.bincount(lab.ravel())[1:])
    return np.concatenate(gls), np.concatenate(sizes)


def _graph_zones(lv: Levels, axis) -> tuple[np.ndarray, np.ndarray]:
    """Zones as connected components of the equal-level neighbour graph (one edge per pair).

    The CSR adjacency is filled by counting sort: each offset gives a row at most one edge.
    """
    centre = lv.centre(1)
    pos = lv.position(1)
    _, _, idx = lv.padded(1)
    edges = []
    angles = offsets([1], bidirectional=False, plane_axis=axis)
    equal = lv.neighbours([1], axis, 1)[:len(angles)] == centre
    for off, row in zip(angles, equal):
        same = np.flatnonzero(row)
        edges.append((same, pos[idx[same] + lv.step(off, 1)]))
    n = centre.size
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sum(np.bincount(rows, minlength=n) for rows, _ in edges), out=indptr[1:])
    cols = np.empty(int(indptr[-1]), dtype=np.int64)
    fill = indptr[:-1].copy()
    for rows, targets in edges:
        cols[fill[rows]] = targets
        fill[rows] += 1
    graph = csr_matrix((np.ones(cols.size), cols, indptr), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    gl = np.zeros(count, dtype=np.int64)
    gl[label] = centre
    return gl, np.bincount(label, minlength=count)


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
    gl, size = zones(lv, plane_axis(settings or {}))
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
