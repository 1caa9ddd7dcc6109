"""Gray Level Size Zone Matrix features, pyradiomics class ``glszm`` (IBSI 3.8, 3D).

Matrix: P(i, j) = number of zones (26-connected groups of ROI voxels with the same gray level i) of
size j voxels. N_z = number of zones, N_p = number of ROI voxels, p_g / p_s the marginals.
SmallAreaEmphasis sum p_s/j^2 / N_z [5QRC]; LargeAreaEmphasis sum p_s j^2 / N_z [48P8];
GrayLevelNonUniformity sum p_g^2 / N_z [JNSA]; ...Normalized / N_z^2 [Y1RO];
SizeZoneNonUniformity sum p_s^2 / N_z [4JP3]; ...Normalized [VB3A]; ZonePercentage N_z/N_p [P30P];
GrayLevelVariance [BYLV]; ZoneVariance [3NSA]; ZoneEntropy [GU8N]; LowGrayLevelZoneEmphasis [XMSY];
HighGrayLevelZoneEmphasis [5GN9]; SmallAreaLowGrayLevelEmphasis [5RAI]; SmallAreaHighGrayLevelEmphasis
[HW1V]; LargeAreaLowGrayLevelEmphasis [YH51]; LargeAreaHighGrayLevelEmphasis [J17V].

Batched: ``ZoneBatch`` holds B matrices (a lesion's images, or a feature map's kernels) over common
gray levels and zone sizes; every feature gives one value per row. GLDM and IBSI's GLDZM use it too.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .common import Levels, marginal_variance, matrix_entropy, offsets, plane_axis

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


class ZoneBatch:
    """Zone-type matrices (B, G, Nj) over common gray levels: GLSZM (j = zone size), GLDM (j =
    dependences + 1), IBSI GLDZM (j = distance). ``j``: the value of each column (default 1..Nj);
    ``n_voxels``: N_p per row when it is not sum_j j p_s(j) (GLDZM)."""

    def __init__(self, p: np.ndarray, levels: np.ndarray, n_voxels=None, j=None):
        self.p = p
        self.ps, self.pg = p.sum(1), p.sum(2)                       # (B, Nj), (B, G)
        self.i = levels[None, :]
        j = np.arange(1, p.shape[2] + 1) if j is None else j
        self.j = np.asarray(j, dtype=np.float64)[None, :]
        nz = p.sum((1, 2))
        self.nz = np.where(nz == 0, 1.0, nz)
        if n_voxels is None:
            n_voxels = np.sum(self.ps * self.j, 1)
        self.np_ = np.where(n_voxels == 0, 1.0, n_voxels)


def zone_joint(fn):
    """sum_ij fn(p, i^2, j^2) / N_z (the four joint emphases)."""
    return lambda c: np.sum(fn(c.p, c.i[:, :, None] ** 2, c.j[:, None, :] ** 2), (1, 2)) / c.nz


#: the formulas GLSZM, GLDM and IBSI's GLDZM share (under their own names)
ZONE_FORMULAS = {
    "SmallEmphasis": lambda c: np.sum(c.ps / c.j ** 2, 1) / c.nz,
    "LargeEmphasis": lambda c: np.sum(c.ps * c.j ** 2, 1) / c.nz,
    "GrayLevelNonUniformity": lambda c: np.sum(c.pg ** 2, 1) / c.nz,
    "GrayLevelNonUniformityNormalized": lambda c: np.sum(c.pg ** 2, 1) / c.nz ** 2,
    "NonUniformity": lambda c: np.sum(c.ps ** 2, 1) / c.nz,
    "NonUniformityNormalized": lambda c: np.sum(c.ps ** 2, 1) / c.nz ** 2,
    "Percentage": lambda c: c.nz / c.np_,
    "GrayLevelVariance": marginal_variance("pg", "i", "nz"),
    "Variance": marginal_variance("ps", "j", "nz"),
    "Entropy": matrix_entropy("nz"),
    "LowGrayLevelEmphasis": lambda c: np.sum(c.pg / c.i ** 2, 1) / c.nz,
    "HighGrayLevelEmphasis": lambda c: np.sum(c.pg * c.i ** 2, 1) / c.nz,
    "SmallLowGrayLevelEmphasis": zone_joint(lambda p, i2, j2: p / (i2 * j2)),
    "SmallHighGrayLevelEmphasis": zone_joint(lambda p, i2, j2: p * i2 / j2),
    "LargeLowGrayLevelEmphasis": zone_joint(lambda p, i2, j2: p * j2 / i2),
    "LargeHighGrayLevelEmphasis": zone_joint(lambda p, i2, j2: p * i2 * j2),
}

FEATURES = {
    "SmallAreaEmphasis": ZONE_FORMULAS["SmallEmphasis"],
    "LargeAreaEmphasis": ZONE_FORMULAS["LargeEmphasis"],
    "GrayLevelNonUniformity": ZONE_FORMULAS["GrayLevelNonUniformity"],
    "GrayLevelNonUniformityNormalized": ZONE_FORMULAS["GrayLevelNonUniformityNormalized"],
    "SizeZoneNonUniformity": ZONE_FORMULAS["NonUniformity"],
    "SizeZoneNonUniformityNormalized": ZONE_FORMULAS["NonUniformityNormalized"],
    "ZonePercentage": ZONE_FORMULAS["Percentage"],
    "GrayLevelVariance": ZONE_FORMULAS["GrayLevelVariance"],
    "ZoneVariance": ZONE_FORMULAS["Variance"],
    "ZoneEntropy": ZONE_FORMULAS["Entropy"],
    "LowGrayLevelZoneEmphasis": ZONE_FORMULAS["LowGrayLevelEmphasis"],
    "HighGrayLevelZoneEmphasis": ZONE_FORMULAS["HighGrayLevelEmphasis"],
    "SmallAreaLowGrayLevelEmphasis": ZONE_FORMULAS["SmallLowGrayLevelEmphasis"],
    "SmallAreaHighGrayLevelEmphasis": ZONE_FORMULAS["SmallHighGrayLevelEmphasis"],
    "LargeAreaLowGrayLevelEmphasis": ZONE_FORMULAS["LargeLowGrayLevelEmphasis"],
    "LargeAreaHighGrayLevelEmphasis": ZONE_FORMULAS["LargeHighGrayLevelEmphasis"],
}
DEPRECATED: dict = {}
