"""Gray Level Co-occurrence Matrix features, pyradiomics class ``glcm`` (IBSI 3.6).

Matrix: for every offset a (13 directions per distance, ``distances`` setting) P_a(i, j) counts ROI
voxel pairs (v, v + a) with gray levels (i, j); ``symmetricalGLCM`` (default True) adds the
transpose. Gray levels absent from the ROI are dropped. With ``weightingNorm`` (infinity, euclidean,
manhattan, no_weighting) all directions are summed with weight exp(-d^2), d the offset's norm in mm
(pyradiomics' definition), giving one matrix (IBSI "merged"); otherwise every direction is
normalised to sum 1 and each feature is the mean over directions (IBSI "averaged"). Empty directions
are removed.

With p = normalised matrix, i, j = gray levels, px/py marginals, ux/uy means, p_{x+y}(k) and
p_{x-y}(k) the sum/difference distributions, HX, HY, HXY entropies:
Autocorrelation sum p i j [QWB0]; JointAverage ux [60VM]; ClusterProminence sum p (i+j-ux-uy)^4
[AE86]; ClusterShade ^3 [7NFM]; ClusterTendency ^2 [DG8W]; Contrast sum p (i-j)^2 [ACUI];
Correlation sum p (i-ux)(j-uy) / (sx sy) (1 if sx sy = 0) [NI2N]; DifferenceAverage sum k p_{x-y}
[TF7R]; DifferenceEntropy [NTRS]; DifferenceVariance [D3YU]; JointEnergy sum p^2 [8ZQL];
JointEntropy HXY [TU9B]; Imc1 (HXY - HXY1)/max(HX, HY) [R8DG]; Imc2 sqrt(1 - e^{-2(HXY2 - HXY)})
[JN9H]; Idm sum p_{x-y}/(1+k^2) [WF0Z]; Idmn sum p_{x-y}/(1+k^2/Ng^2) [1QCO]; Id sum p_{x-y}/(1+k)
[IB1Z]; Idn sum p_{x-y}/(1+k/Ng) [NDRX]; InverseVariance sum_{k>0} p_{x-y}/k^2 [E8JP];
MaximumProbability [GYBY]; SumAverage sum k p_{x+y} [ZGXS]; SumEntropy [P6QZ]; SumSquares
sum p (i-ux)^2 [UR99]; MCC sqrt(second largest eigenvalue of Q), Q_ij = sum_k p_ik p_jk/(px_i py_k).
"""
from __future__ import annotations

import numpy as np

from .common import EPS, Levels, evaluate, nanmean, offsets, plane_axis, select

_WEIGHTS = {
    "infinity": lambda d: np.exp(-np.max(d) ** 2),
    "euclidean": lambda d: np.exp(-np.sum(d ** 2)),
    "manhattan": lambda d: np.exp(-np.sum(d) ** 2),
}


def direction_weights(angles: np.ndarray, spacing_kji: np.ndarray, norm: str) -> np.ndarray:
    """pyradiomics' GLCM direction weights exp(-||a * spacing||^2); 1 for no_weighting/unknown."""
    fn = _WEIGHTS.get(norm)
    if fn is None:
        return np.ones(len(angles))
    return np.array([fn(np.abs(a) * spacing_kji) for a in angles])


def matrix(lv: Levels, settings: dict) -> np.ndarray:
    """Normalised GLCM, shape (Ng', Ng', directions), over the gray levels present."""
    dist = settings.get("distances") or [1]
    angles = offsets(dist, bidirectional=False, plane_axis=plane_axis(settings))
    pad = int(max(dist))
    centre = lv.centre(pad)
    ng = lv.ng
    width = (ng + 1) * (ng + 1)
    # one histogram of (direction, centre level, neighbour level) over the mono-directional rows
    first = (np.arange(len(angles), dtype=np.int64) * width)[:, None] + centre.astype(np.int64) * (ng + 1)
    keys = first + lv.neighbours(dist, plane_axis(settings), pad)[:len(angles)]
    counts = np.bincount(keys.ravel(), minlength=len(angles) * width).reshape(len(angles), ng + 1, ng + 1)
    keep = lv.levels  # row/column 0 collects pairs whose neighbour is outside the ROI
    p = counts[:, keep][:, :, keep].transpose(1, 2, 0).astype(float)
    if settings.get("symmetricalGLCM", True):
        p = p + p.transpose(1, 0, 2)
    norm = settings.get("weightingNorm")
    if norm is not None:
        w = direction_weights(angles, lv.spacing, norm)
        p = np.sum(p * w[None, None, :], 2, keepdims=True)
    total = p.sum((0, 1))
    if p.shape[2] > 1:
        p = p[:, :, total > 0]
        total = total[total > 0]
    return p / total[None, None, :]


class GLCMContext:
    """Marginals, means and sum/difference distributions of a normalised GLCM stack."""

    def __init__(self, p: np.ndarray, levels: np.ndarray, ng: int, symmetrical: bool):
        self.p, self.ng, self.symmetrical = p, ng, symmetrical
        g = levels.astype(float)
        self.i, self.j = g[:, None, None], g[None, :, None]
        self.px = p.sum(1, keepdims=True)   # (Ng', 1, A)
        self.py = p.sum(0, keepdims=True)   # (1, Ng', A)
        self.ux = np.sum(self.i * p, (0, 1), keepdims=True)
        self.uy = np.sum(self.j * p, (0, 1), keepdims=True)
        ii, jj = np.meshgrid(levels, levels, indexing="ij")
        flat = p.reshape(-1, p.shape[2])
        self.k_sum = np.arange(2, 2 * ng + 1, dtype=float)
        self.k_diff = np.arange(0, ng, dtype=float)
        self.p_sum = _group(flat, (ii + jj).ravel() - 2, 2 * ng - 1)          # (2Ng-1, A)
        self.p_diff = _group(flat, np.abs(ii - jj).ravel(), ng)               # (Ng, A)
        self.hxy = -np.sum(p * np.log2(p + EPS), (0, 1))                       # (A,)


def _group(flat: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, flat.shape[1]))
    np.add.at(out, key, flat)
    return out


def _mean(v):
    return nanmean(v)


def _correlation(c):
    sx = np.sum(c.p * (c.i - c.ux) ** 2, (0, 1)) ** 0.5
    sy = np.sum(c.p * (c.j - c.uy) ** 2, (0, 1)) ** 0.5
    cov = np.sum(c.p * (c.i - c.ux) * (c.j - c.uy), (0, 1))
    corr = cov / (sx * sy + EPS)
    corr[sx * sy == 0] = 1
    return _mean(corr)


def _imc1(c):
    hx = -np.sum(c.px * np.log2(c.px + EPS), (0, 1))
    hy = -np.sum(c.py * np.log2(c.py + EPS), (0, 1))
    hxy1 = -np.sum(c.p * np.log2(c.px * c.py + EPS), (0, 1))
    div = np.fmax(hx, hy)
    val = c.hxy - hxy1
    out = np.zeros_like(val)
    out[div != 0] = val[div != 0] / div[div != 0]
    return _mean(out)


def _imc2(c):
    pxy = c.px * c.py
    hxy2 = -np.sum(pxy * np.log2(pxy + EPS), (0, 1))
    with np.errstate(invalid="ignore"):
        val = (1 - np.e ** (-2 * (hxy2 - c.hxy))) ** 0.5
    val[hxy2 == c.hxy] = 0
    return _mean(val)


def _mcc(c):
    """Maximal correlation coefficient: sqrt of the 2nd largest eigenvalue of Q (per direction).

    Q = Dx^-1 P Dy^-1 P^T has the eigenvalues of the symmetric S = Dx^-1/2 P Dy^-1 P^T Dx^-1/2
    (Q = Dx^-1/2 S Dx^1/2), so ``eigvalsh`` replaces pyradiomics' ``eigvals`` (3-4x faster, real).
    A level absent from a direction (px = 0) gives a zero row in both. pyradiomics' EPS in
    p / (px py + EPS) changes the values by < 1e-9 relative.
    """
    p = c.p.transpose(2, 0, 1)                              # (A, i, k)
    px = c.px[:, 0, :].T                                    # (A, i)
    py = c.py[0, :, :].T                                    # (A, k)
    rx = np.zeros_like(px)
    np.divide(1.0, np.sqrt(px), out=rx, where=px > 0)
    ry = np.zeros_like(py)
    np.divide(1.0, py, out=ry, where=py > 0)
    left = p * rx[:, :, None]
    s = np.matmul(left * ry[:, None, :], left.transpose(0, 2, 1))
    if s.shape[1] < 2:
        return 1.0
    ev = np.linalg.eigvalsh(s)
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.sqrt(ev[:, -2]))


def _cluster(power):
    """sum p (i + j - ux - uy)^power, power 2, 3 or 4 (products: ``**`` calls pow, 5x slower)."""
    def feature(c):
        t = (c.i + c.j) - c.ux - c.uy
        t2 = t * t
        term = t2 if power == 2 else t2 * t if power == 3 else t2 * t2
        return _mean(np.sum(c.p * term, (0, 1)))
    return feature


def _diff_variance(c):
    avg = np.sum(c.k_diff[:, None] * c.p_diff, 0, keepdims=True)
    return _mean(np.sum(c.p_diff * (c.k_diff[:, None] - avg) ** 2, 0))


FEATURES = {
    "Autocorrelation": lambda c: _mean(np.sum(c.p * (c.i * c.j), (0, 1))),
    "JointAverage": lambda c: c.ux.mean(),
    "ClusterProminence": _cluster(4),
    "ClusterShade": _cluster(3),
    "ClusterTendency": _cluster(2),
    "Contrast": lambda c: _mean(np.sum(c.p * (c.i - c.j) ** 2, (0, 1))),
    "Correlation": _correlation,
    "DifferenceAverage": lambda c: _mean(np.sum(c.k_diff[:, None] * c.p_diff, 0)),
    "DifferenceEntropy": lambda c: _mean(-np.sum(c.p_diff * np.log2(c.p_diff + EPS), 0)),
    "DifferenceVariance": _diff_variance,
    "JointEnergy": lambda c: _mean(np.sum(c.p ** 2, (0, 1))),
    "JointEntropy": lambda c: _mean(c.hxy),
    "Imc1": _imc1,
    "Imc2": _imc2,
    "Idm": lambda c: _mean(np.sum(c.p_diff / (1 + c.k_diff[:, None] ** 2), 0)),
    "MCC": _mcc,
    "Idmn": lambda c: _mean(np.sum(c.p_diff / (1 + c.k_diff[:, None] ** 2 / c.ng ** 2), 0)),
    "Id": lambda c: _mean(np.sum(c.p_diff / (1 + c.k_diff[:, None]), 0)),
    "Idn": lambda c: _mean(np.sum(c.p_diff / (1 + c.k_diff[:, None] / c.ng), 0)),
    "InverseVariance": lambda c: _mean(np.sum(c.p_diff[1:] / c.k_diff[1:, None] ** 2, 0)),
    "MaximumProbability": lambda c: _mean(np.max(c.p, (0, 1))),
    "SumAverage": lambda c: _mean(np.sum(c.k_sum[:, None] * c.p_sum, 0)),
    "SumEntropy": lambda c: _mean(-np.sum(c.p_sum * np.log2(c.p_sum + EPS), 0)),
    "SumSquares": lambda c: _mean(np.sum(c.p * (c.i - c.ux) ** 2, (0, 1))),
}
#: pyradiomics refuses these (equal to another feature): left out even when named
DEPRECATED = {"Dissimilarity": False, "Homogeneity1": False, "Homogeneity2": False, "SumVariance": False}


def compute(lv: Levels, settings: dict, names=None) -> dict:
    """GLCM features of the discretised ROI ``lv``."""
    chosen = select(FEATURES, DEPRECATED, names, "glcm")
    ctx = GLCMContext(matrix(lv, settings), lv.levels, lv.ng, settings.get("symmetricalGLCM", True))
    return evaluate(FEATURES, chosen, ctx)
