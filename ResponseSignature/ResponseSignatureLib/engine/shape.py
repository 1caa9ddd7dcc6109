"""3D shape features, pyradiomics class ``shape`` (IBSI 3.1).

Mesh: marching cubes on the binary ROI (vertices at edge midpoints, table in ``_mc_table``), the same
triangulation pyradiomics uses. Computed per cube configuration, not per cube: the area of a
configuration's triangles is fixed, and the signed-tetrahedron volume sum_t det(a, b, c) / 6 splits
into a configuration constant plus origin . (sum of edge cross products), so both totals are weighted
bincounts over the cube configurations.

MeshVolume V [RNU0]; VoxelVolume N_v * voxel volume [YEKZ]; SurfaceArea A [C0JK];
SurfaceVolumeRatio A/V [2PR5]; Sphericity (36 pi V^2)^(1/3) / A [QCFX]; Compactness1
V / (sqrt(pi) A^1.5) and Compactness2 36 pi V^2 / A^3 [SKGS], SphericalDisproportion
A / (36 pi V^2)^(1/3) [KRCK] (deprecated, on request); Maximum3DDiameter [L0JK] and the maximum
in-plane diameters Slice (axial, constant z), Column (constant y), Row (constant x): largest
distance between mesh vertices (computed over the extreme vertices only: the maximum is always
attained on the convex hull); Major/Minor/LeastAxisLength 4 sqrt(lambda) of the voxel-centre
covariance with 1/N normalisation (pyradiomics) [TDIC, P9VJ, 7J51]; Elongation sqrt(l_minor/l_major)
[Q3CK]; Flatness sqrt(l_least/l_major) [N17B].
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _mc_table
from .common import evaluate, select


def _triangle_arrays():
    """(configuration of each triangle, its three edge numbers) over all 128 configurations."""
    conf, edges = [], []
    for c, tris in enumerate(_mc_table.triangle_edges()):
        for tri in tris:
            conf.append(c)
            edges.append(tri)
    return np.array(conf), np.array(edges)


_TRI_CONF, _TRI_EDGES = _triangle_arrays()
#: below this many candidate points the diameter search skips the convex hull
HULL_MIN_POINTS = 400


def _config_tables(spacing: np.ndarray):
    """Per configuration: triangle area sum, det constant D_c and vector N_c (spacing applied)."""
    return _config_tables_cached(tuple(float(x) for x in spacing))


@lru_cache(maxsize=32)
def _config_tables_cached(spacing: tuple):
    spacing = np.array(spacing)
    corners = np.array(_mc_table.CORNERS, dtype=float)
    verts = np.array([(corners[a] + corners[b]) / 2 for a, b in _mc_table.EDGES]) * spacing
    a, b, c = (verts[_TRI_EDGES[:, k]] for k in range(3))
    area_t = 0.5 * np.linalg.norm(np.cross(a - c, b - c), axis=1)
    det_t = np.einsum("ij,ij->i", np.cross(a, b), c)
    n_t = np.cross(b, c) + np.cross(c, a) + np.cross(a, b)
    area = np.bincount(_TRI_CONF, weights=area_t, minlength=128)
    dconst = np.bincount(_TRI_CONF, weights=det_t, minlength=128)
    nvec = np.stack([np.bincount(_TRI_CONF, weights=n_t[:, d], minlength=128) for d in range(3)], 1)
    for table in (area, dconst, nvec):
        table.setflags(write=False)  # cached: shared by every call
    return area, dconst, nvec


def _cube_configs(m: np.ndarray) -> np.ndarray:
    """Configuration number (8 corner bits) of every 2x2x2 cube of the padded mask."""
    idx = np.zeros(tuple(s - 1 for s in m.shape), dtype=np.uint8)
    for bit, (z, y, x) in enumerate(_mc_table.CORNERS):
        corner = m[z:z + idx.shape[0], y:y + idx.shape[1], x:x + idx.shape[2]]
        idx |= corner.astype(np.uint8) << bit
    return idx


def mesh_area_volume(roi: np.ndarray, spacing: np.ndarray) -> tuple[float, float]:
    """(surface area mm^2, enclosed volume mm^3) of pyradiomics' marching-cubes mesh."""
    m = np.pad(roi, 1)
    cfg = _cube_configs(m)
    flip = cfg >= 128
    cfg = np.where(flip, cfg ^ 0xFF, cfg).astype(np.intp)
    sign = np.where(flip, -1.0, 1.0)
    area_t, dconst, nvec = _config_tables(spacing)
    sel = cfg > 0
    conf = cfg[sel]
    sgn = sign[sel]
    origin = np.argwhere(sel) * spacing
    area = np.sum(np.bincount(conf, minlength=128) * area_t)
    vol = np.sum(np.bincount(conf, weights=sgn, minlength=128) * dconst)
    for d in range(3):
        vol += np.sum(np.bincount(conf, weights=sgn * origin[:, d], minlength=128) * nvec[:, d])
    return float(area), float(vol / 6.0)


def mesh_vertices(roi: np.ndarray) -> np.ndarray:
    """Mesh vertices in half-voxel units (2 * index + edge direction): midpoints of ROI/background edges."""
    m = np.pad(roi, 1)
    out = []
    for axis in range(3):
        a = np.swapaxes(m, 0, axis)
        cross = a[1:] != a[:-1]
        pts = np.argwhere(cross)
        pts = pts * 2
        pts[:, 0] += 1
        pts[:, [0, axis]] = pts[:, [axis, 0]]
        out.append(pts)
    return np.concatenate(out)


def _line_extremes(pts: np.ndarray, along: int, fixed: list[int]) -> np.ndarray:
    """Mask of points that are the first or last along ``along`` among points sharing ``fixed`` coords."""
    key = np.zeros(len(pts), dtype=np.int64)
    for d in fixed:
        key = key * (int(pts[:, d].max()) + 1) + pts[:, d]
    order = np.lexsort((pts[:, along], key))
    k = key[order]
    edge = np.r_[True, k[1:] != k[:-1]] | np.r_[k[1:] != k[:-1], True]
    keep = np.zeros(len(pts), dtype=bool)
    keep[order[edge]] = True
    return keep


def _max_sq_distance(phys: np.ndarray) -> float:
    """Largest squared pairwise distance (see ``_max_sq_distance_per_group``)."""
    return _max_sq_distance_per_group(phys, np.zeros(len(phys), dtype=np.int64))


def _hull(phys: np.ndarray) -> np.ndarray:
    """Vertices of the convex hull (all points when few: the pair search is then cheaper than qhull)."""
    if len(phys) <= HULL_MIN_POINTS:
        return phys
    try:
        from scipy.spatial import ConvexHull

        return phys[ConvexHull(phys).vertices]
    except Exception:  # noqa: BLE001 - degenerate (flat) point sets: use all candidates
        return phys


def diameters(roi: np.ndarray, spacing: np.ndarray) -> tuple[float, float, float, float]:
    """(max 2D slice, column, row diameter, max 3D diameter) over mesh vertices, mm.

    Same maxima as pyradiomics' O(n^2) search over all vertex pairs, over fewer points: the farthest
    pair of a set is always two vertices of its convex hull, and a hull vertex is the first or last
    point on every line through it. So the 3D search uses scipy's hull of the points that are first
    or last on their x, y, z and in-plane diagonal lines; a plane's search uses the points first or
    last on both of their in-plane lines (a superset of its hull's vertices). The remaining pairs are
    searched with batched matrix products.
    """
    pts = mesh_vertices(roi)
    phys = pts * (spacing / 2.0)
    ends = [_line_extremes(pts, d, [e for e in range(3) if e != d]) for d in range(3)]
    cand = np.flatnonzero(ends[0] & ends[1] & ends[2])
    for sign in (1, -1):  # also first or last on the in-plane diagonal lines (direction (0, 1, sign))
        p = pts[cand]
        key = p[:, 1] - sign * p[:, 2]
        cand = cand[_line_extremes(np.column_stack([p[:, 0], key - key.min(), p[:, 1]]), 2, [0, 1])]
    d3 = np.sqrt(_max_sq_distance(_hull(phys[cand])))
    planes = []
    for axis in range(3):
        inplane = [d for d in range(3) if d != axis]
        cand = ends[inplane[0]] & ends[inplane[1]]
        planes.append(np.sqrt(_max_planar_sq_distance(phys[cand], pts[cand, axis], inplane)))
    return planes[0], planes[1], planes[2], d3


def _max_planar_sq_distance(phys: np.ndarray, group: np.ndarray, inplane: list[int], n_dir: int = 16) -> float:
    """Largest squared in-plane distance over all planes (groups), pruning planes that cannot win.

    A plane's diameter is at most max_k w_k / cos(pi / (2 n_dir)), w_k its width along n_dir
    directions spread over 180 degrees, and at least every w_k; planes are searched exactly in
    decreasing order of that bound until the bound falls below the best diameter found.
    """
    order = np.argsort(group, kind="stable")
    g, p = group[order], phys[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    theta = np.arange(n_dir) * np.pi / n_dir
    proj = p[:, inplane[0], None] * np.cos(theta) + p[:, inplane[1], None] * np.sin(theta)
    width = np.maximum.reduceat(proj, starts, axis=0) - np.minimum.reduceat(proj, starts, axis=0)
    bound = (width.max(1) / np.cos(np.pi / (2 * n_dir))) ** 2 * (1 + 1e-9)
    ends = np.r_[starts[1:], g.size]
    best = 0.0
    ranked = np.argsort(-bound)
    for s in range(0, ranked.size, 8):
        batch = [b for b in ranked[s:s + 8] if bound[b] > best]
        if not batch:
            break
        sel = np.concatenate([np.arange(starts[b], ends[b]) for b in batch])
        best = max(best, _max_sq_distance_per_group(p[sel], g[sel]))
    return best


def _max_sq_distance_per_group(phys: np.ndarray, group: np.ndarray, budget: int = 4_000_000) -> float:
    """Largest squared distance between two points of the same group, all groups batched.

    The search uses |p|^2 + |q|^2 - 2 p.q on group-centred coordinates (one batched matrix product);
    the winning pair's distance is then recomputed from coordinate differences, as pyradiomics does.
    Groups are padded to equal size by repeating their last point (distance 0 to itself).
    """
    if len(phys) < 2:
        return 0.0
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, g.size])
    nmax = int(counts.max())
    if nmax < 2:
        return 0.0
    take = starts[:, None] + np.minimum(np.arange(nmax)[None, :], counts[:, None] - 1)
    pts = phys[order][take]  # (groups, nmax, 3)
    centred = pts - pts.mean(1, keepdims=True)
    norms = np.einsum("gnk,gnk->gn", centred, centred)
    best = 0.0
    step = max(1, budget // (nmax * nmax))
    for s in range(0, len(pts), step):
        c = centred[s:s + step]
        d = norms[s:s + step, :, None] + norms[s:s + step, None, :] - 2 * np.matmul(c, c.transpose(0, 2, 1))
        gi, i, j = np.unravel_index(np.argmax(d), d.shape)
        diff = pts[s + gi, i] - pts[s + gi, j]
        best = max(best, float(diff[0] * diff[0] + diff[1] * diff[1] + diff[2] * diff[2]))
    return best


class ShapeContext:
    def __init__(self, roi: np.ndarray, spacing: np.ndarray):
        self.roi, self.spacing = roi, spacing
        self.area, self.volume = mesh_area_volume(roi, spacing)
        self.n = int(roi.sum())
        self._diam = None
        coords = np.argwhere(roi) * spacing
        coords = coords - coords.mean(0)
        coords /= np.sqrt(self.n)
        ev = np.linalg.eigvals(coords.T @ coords)
        ev[(ev < 0) & (ev > -1e-10)] = 0
        self.eig = np.sort(ev)

    @property
    def diam(self):
        if self._diam is None:
            self._diam = diameters(self.roi, self.spacing)
        return self._diam


def _axis(k):
    return lambda c: np.nan if c.eig[k] < 0 else np.sqrt(c.eig[k]) * 4


def _ratio(k):
    return lambda c: np.nan if c.eig[k] < 0 or c.eig[2] < 0 else np.sqrt(c.eig[k] / c.eig[2])


FEATURES = {
    "MeshVolume": lambda c: c.volume,
    "VoxelVolume": lambda c: c.n * float(np.prod(c.spacing)),
    "SurfaceArea": lambda c: c.area,
    "SurfaceVolumeRatio": lambda c: c.area / c.volume,
    "Sphericity": lambda c: (36 * np.pi * c.volume ** 2) ** (1.0 / 3.0) / c.area,
    "Compactness1": lambda c: c.volume / (c.area ** 1.5 * np.sqrt(np.pi)),
    "Compactness2": lambda c: 36.0 * np.pi * c.volume ** 2 / c.area ** 3,
    "SphericalDisproportion": lambda c: c.area / (36 * np.pi * c.volume ** 2) ** (1.0 / 3.0),
    "Maximum3DDiameter": lambda c: c.diam[3],
    "Maximum2DDiameterSlice": lambda c: c.diam[0],
    "Maximum2DDiameterColumn": lambda c: c.diam[1],
    "Maximum2DDiameterRow": lambda c: c.diam[2],
    "MajorAxisLength": _axis(2),
    "MinorAxisLength": _axis(1),
    "LeastAxisLength": _axis(0),
    "Elongation": _ratio(1),
    "Flatness": _ratio(0),
}
DEPRECATED = {"Compactness1": True, "Compactness2": True, "SphericalDisproportion": True}


def compute(roi: np.ndarray, spacing_kji: np.ndarray, names=None) -> dict:
    """Shape features of the boolean ROI (k, j, i) with voxel spacing (k, j, i) in mm."""
    chosen = select(FEATURES, DEPRECATED, names, "shape")
    return evaluate(FEATURES, chosen, ShapeContext(roi, np.asarray(spacing_kji, float)))
