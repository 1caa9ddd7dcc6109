"""Shape diameters: the pruned search equals the all-pairs maximum over every mesh vertex.

pyradiomics computes Maximum3DDiameter and the three Maximum2DDiameter features as the largest
distance over all pairs of mesh vertices (per plane for 2D). ``shape.diameters`` searches far fewer
pairs (line extremes, reach pruning, convex hull); here it is checked against that brute force
(scipy's ``pdist`` over all vertices) on shapes chosen to stress the pruning: random lobulated blobs
with anisotropic voxels, near-spheres (every point nearly diametral), boxes (many tied pairs),
flat and one-voxel-thick ROIs (qhull refuses them), single and diagonal voxels.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import pdist

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ResponseSignature"))

from ResponseSignatureLib.engine import shape  # noqa: E402


def brute_force(roi: np.ndarray, spacing: np.ndarray) -> tuple[float, float, float, float]:
    """(slice, column, row, 3D) maximum distances over all vertex pairs, per plane for 2D."""
    pts = shape.mesh_vertices(roi)
    phys = pts * (spacing / 2.0)
    planes = []
    for axis in range(3):
        best = 0.0
        for value in np.unique(pts[:, axis]):
            group = phys[pts[:, axis] == value]
            if len(group) > 1:
                best = max(best, float(pdist(group).max()))
        planes.append(best)
    return planes[0], planes[1], planes[2], float(pdist(phys).max()) if len(phys) > 1 else 0.0


def blob(seed: int, shape_kji=(14, 30, 34), smooth=2.5, level=0.6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape_kji), smooth)
    roi = field > level * field.std()
    labels, n = ndimage.label(roi)
    if n == 0:
        return blob(seed + 1000, shape_kji, smooth, level)
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (1 + int(np.argmax(sizes)))


def ball(radius: float, scale=(1.0, 1.0, 1.0)) -> np.ndarray:
    r = int(np.ceil(radius * max(scale))) + 1
    g = np.mgrid[-r:r + 1, -r:r + 1, -r:r + 1].astype(float)
    return sum((g[a] / scale[a]) ** 2 for a in range(3)) <= radius ** 2


def _cases():
    cases = []
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        spacing = np.round(rng.uniform(0.4, 3.0, 3), 3)
        cases.append((f"blob{seed}", blob(seed), spacing))
    cases += [
        ("sphere r18", ball(18.0), np.array([1.0, 1.0, 1.0])),
        ("sphere anisotropic", ball(14.0), np.array([2.5, 0.78125, 0.78125])),
        ("ellipsoid", ball(10.0, (0.5, 1.2, 1.6)), np.array([1.0, 0.9, 0.9])),
        ("box", np.ones((6, 9, 13), dtype=bool), np.array([2.0, 0.7, 0.7])),
        ("one slice", blob(3, (1, 30, 34)), np.array([5.0, 0.6, 0.6])),
        ("one voxel thick line", np.ones((1, 1, 17), dtype=bool), np.array([1.0, 1.0, 0.5])),
        ("single voxel", np.ones((1, 1, 1), dtype=bool), np.array([1.0, 2.0, 3.0])),
    ]
    diagonal = np.zeros((3, 3, 3), dtype=bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = diagonal[2, 2, 0] = True
    cases.append(("diagonal voxels", diagonal, np.array([1.5, 1.0, 1.0])))
    return cases


@pytest.mark.parametrize("name,roi,spacing", _cases(), ids=[c[0] for c in _cases()])
def test_diameters_equal_all_pairs(name, roi, spacing):
    expected = brute_force(roi, spacing)
    got = shape.diameters(roi, spacing)
    assert np.allclose(got, expected, rtol=1e-12, atol=0), (name, got, expected)


def test_direction_sets_cover_the_sphere():
    """The covering angle ``_prune`` relies on: no random unit vector is farther from the set."""
    rng = np.random.default_rng(5)
    v = rng.standard_normal((200_000, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    for n in shape.PRUNE_DIRECTIONS:
        u, cos_cover = shape._direction_set(n)
        nearest = (v @ u.T).max(1)
        assert nearest.min() >= cos_cover - 1e-12
        assert nearest.min() < cos_cover + 0.01  # and the bound is not loose
