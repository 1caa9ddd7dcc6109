"""Gray Level Run Length Matrix features, pyradiomics class ``glrlm`` (IBSI 3.7).

Matrix: for each of the 13 directions a, P_a(i, j) counts runs (maximal sequences of consecutive ROI
voxels along a with the same gray level i) of length j. A direction along which no line of the ROI
bounding box holds two ROI voxels is dropped (pyradiomics' rule for thin ROIs), as are empty
directions. ``weightingNorm`` sums directions with weight = offset length in mm (infinity,
euclidean, manhattan) or 1 (no_weighting). Features are averaged over directions.

N_r(a) = number of runs, N_p = number of voxels, p_g / p_r the gray-level / run-length marginals:
ShortRunEmphasis sum p_r/j^2 / N_r [22OV]; LongRunEmphasis sum p_r j^2 / N_r [W4KF];
GrayLevelNonUniformity sum p_g^2 / N_r [R5YN]; ...Normalized / N_r^2 [OVBL];
RunLengthNonUniformity sum p_r^2 / N_r [W92Y]; ...Normalized [IC23]; RunPercentage N_r / N_p [9ZK5];
GrayLevelVariance [8CE5]; RunVariance [SXLW]; RunEntropy [HJ9O]; LowGrayLevelRunEmphasis [V3SW];
HighGrayLevelRunEmphasis [G3QZ]; ShortRunLowGrayLevelEmphasis [HTZT]; ShortRunHighGrayLevelEmphasis
[GD3A]; LongRunLowGrayLevelEmphasis [IVPO]; LongRunHighGrayLevelEmphasis [3KUM].
"""
from __future__ import annotations

import numpy as np

from .common import EPS, Levels, evaluate, nanmean, offsets, plane_axis, select


def _runs(lv: Levels, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direction, gray level and length of every run (maximal block of equal levels along a line).

    For a direction with flat step s in the zero-padded box, voxels v, v + s, v + 2s... are made
    consecutive by viewing the flat array as an (M, s) matrix and reading it column by column (zero
    padding separates lines). The sequences of all directions, each starting and ending with a
    zero, are joined, and runs are the blocks of equal non-zero values of the whole.
    """
    flat, _, _ = lv.padded(1)
    small = flat.astype(np.int8 if lv.ng < 127 else np.int16 if lv.ng < 32767 else np.int64)
    seqs = []
    for off in angles:
        step = lv.step(off, 1)
        m = -(-(small.size + step) // step)
        buf = np.zeros(m * step, dtype=small.dtype)
        buf[:small.size] = small
        seqs.append(buf.reshape(m, step).T.ravel())
    first = np.cumsum([0] + [len(q) for q in seqs[:-1]])
    seq = np.concatenate(seqs)
    change = seq[1:] != seq[:-1]  # seq[0] == seq[-1] == 0: every run starts and ends inside
    inside = seq != 0
    start = np.flatnonzero(change & inside[1:]) + 1
    length = np.flatnonzero(change & inside[:-1]) + 1 - start
    per_direction = np.diff(np.searchsorted(start, first), append=start.size)  # starts are sorted
    return np.repeat(np.arange(len(seqs)), per_direction), seq[start].astype(np.int64), length


def _line_has_pair(lv: Levels, off: np.ndarray) -> bool:
    """True if some line of the ROI box along ``off`` holds at least two ROI voxels."""
    coords = np.argwhere(lv.q > 0)
    shape = np.array(lv.q.shape)
    moving = off != 0
    # steps back to the box border along -off: limited by the moving axes
    back = np.where(off > 0, coords, shape - 1 - coords)
    t = np.min(np.where(moving, back, np.iinfo(np.int64).max), axis=1)
    start = coords - t[:, None] * off[None, :]
    keys = np.ravel_multi_index(start.T, lv.q.shape)
    return np.unique(keys).size < keys.size


def matrix(lv: Levels, settings: dict) -> tuple[np.ndarray, np.ndarray]:
    """Run-length matrix (Ng', Nr, directions) over gray levels present, and run lengths 1..Nr."""
    angles = offsets([1], bidirectional=False, plane_axis=plane_axis(settings))
    nr = int(max(lv.q.shape))
    ng = lv.ng
    direction, gl, length = _runs(lv, angles)
    p = np.bincount((direction * ng + gl - 1) * nr + (length - 1),
                    minlength=len(angles) * ng * nr).reshape(len(angles), ng, nr).astype(float)
    for a, off in enumerate(angles):
        if not p[a, :, 1:].any() and not _line_has_pair(lv, off):
            p[a] = 0
    p = p[:, lv.levels - 1].transpose(1, 2, 0)
    norm = settings.get("weightingNorm")
    if norm is not None:
        sp = lv.spacing
        fn = {"infinity": lambda d: np.max(d), "euclidean": lambda d: np.sqrt(np.sum(d ** 2)),
              "manhattan": lambda d: np.sum(d)}.get(norm, lambda d: 1.0)
        w = np.array([fn(np.abs(a) * sp) for a in angles])
        p = np.sum(p * w[None, None, :], 2, keepdims=True)
    return p, np.arange(1, nr + 1, dtype=float)


class GLRLMContext:
    def __init__(self, p: np.ndarray, jvec: np.ndarray, levels: np.ndarray):
        nr = p.sum((0, 1))
        if p.shape[2] > 1:
            p = p[:, :, nr > 0]
            nr = nr[nr > 0]
        self.nr = nr
        pr = p.sum(0)
        used = pr.sum(1) > 0
        self.p = p[:, used]
        self.pr = pr[used]
        self.pg = p.sum(1)
        self.i = levels.astype(float)[:, None]
        self.j = jvec[used][:, None]


def _rp(c):
    return nanmean(c.nr / np.sum(c.pr * c.j, 0))


def _glv(c):
    pg = c.pg / c.nr
    u = np.sum(pg * c.i, 0, keepdims=True)
    return nanmean(np.sum(pg * (c.i - u) ** 2, 0))


def _rv(c):
    pr = c.pr / c.nr
    u = np.sum(pr * c.j, 0, keepdims=True)
    return nanmean(np.sum(pr * (c.j - u) ** 2, 0))


def _entropy(c):
    p = c.p / c.nr[None, None, :]
    return nanmean(-np.sum(p * np.log2(p + EPS), (0, 1)))


def _joint(fn):
    def feature(c):
        i2, j2 = c.i[:, :, None] ** 2, c.j[None, :, :] ** 2
        return nanmean(np.sum(fn(c.p, i2, j2), (0, 1)) / c.nr)
    return feature


FEATURES = {
    "ShortRunEmphasis": lambda c: nanmean(np.sum(c.pr / c.j ** 2, 0) / c.nr),
    "LongRunEmphasis": lambda c: nanmean(np.sum(c.pr * c.j ** 2, 0) / c.nr),
    "GrayLevelNonUniformity": lambda c: nanmean(np.sum(c.pg ** 2, 0) / c.nr),
    "GrayLevelNonUniformityNormalized": lambda c: nanmean(np.sum(c.pg ** 2, 0) / c.nr ** 2),
    "RunLengthNonUniformity": lambda c: nanmean(np.sum(c.pr ** 2, 0) / c.nr),
    "RunLengthNonUniformityNormalized": lambda c: nanmean(np.sum(c.pr ** 2, 0) / c.nr ** 2),
    "RunPercentage": _rp,
    "GrayLevelVariance": _glv,
    "RunVariance": _rv,
    "RunEntropy": _entropy,
    "LowGrayLevelRunEmphasis": lambda c: nanmean(np.sum(c.pg / c.i ** 2, 0) / c.nr),
    "HighGrayLevelRunEmphasis": lambda c: nanmean(np.sum(c.pg * c.i ** 2, 0) / c.nr),
    "ShortRunLowGrayLevelEmphasis": _joint(lambda p, i2, j2: p / (i2 * j2)),
    "ShortRunHighGrayLevelEmphasis": _joint(lambda p, i2, j2: p * i2 / j2),
    "LongRunLowGrayLevelEmphasis": _joint(lambda p, i2, j2: p * j2 / i2),
    "LongRunHighGrayLevelEmphasis": _joint(lambda p, i2, j2: p * (j2 * i2)),
}
DEPRECATED: dict = {}


def compute(lv: Levels, settings: dict, names=None) -> dict:
    """GLRLM features of the discretised ROI ``lv``."""
    chosen = select(FEATURES, DEPRECATED, names, "glrlm")
    p, jvec = matrix(lv, settings)
    return evaluate(FEATURES, chosen, GLRLMContext(p, jvec, lv.levels))
