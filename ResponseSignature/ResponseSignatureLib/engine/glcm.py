"""Gray Level Co-occurrence Matrix features, pyradiomics class ``glcm`` (IBSI 3.6).

Matrix: for every offset a (13 directions per distance, ``distances`` setting) P_a(i, j) counts ROI
voxel pairs (v, v + a) with gray levels (i, j); ``symmetricalGLCM`` (default True) adds the
transpose. Gray levels absent from the ROI are dropped. With ``weightingNorm`` (infinity, euclidean,
manhattan, no_weighting) all directions are summed with weight exp(-d^2), d the offset's norm in mm
(pyradiomics' definition), giving one matrix (IBSI "merged"); otherwise every direction is
normalised to sum 1 and each feature is the mean over directions (IBSI "averaged"). Empty directions
are left out of that mean.

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

Batched: ``GLCMBatch`` holds B matrices (a lesion's images, or a feature map's kernels) over common
gray levels; a level absent from a row adds zero rows, which no feature sees (MCC uses each row's own
levels). Every feature gives one value per row and direction, then the mean over directions.
"""
from __future__ import annotations

import warnings

import numpy as np

from .common import EPS, Levels, angle_mean, common_levels, counts, evaluate_batch, offsets, place, plane_axis
from .descriptor import FeatureClass, FeatureInfo
from .kernels import KernelBatch, KernelContext, compact_levels, shifted_pair

#: feature maps: a batch of kernels whose GLCM stack (kernels x levels^2 x directions) would exceed
#: this many floats is halved
WORK_ELEMENTS = 2_000_000

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


def combine_directions(raw: np.ndarray, angles: np.ndarray, spacing_kji: np.ndarray, settings: dict) -> np.ndarray:
    """Counts (..., G, G, directions) made symmetrical (``symmetricalGLCM``) and, with
    ``weightingNorm``, summed over directions with ``direction_weights`` (one direction left)."""
    if settings.get("symmetricalGLCM", True):
        raw = raw + np.swapaxes(raw, -3, -2)
    norm = settings.get("weightingNorm")
    if norm is not None:
        raw = np.sum(raw * direction_weights(angles, spacing_kji, norm), -1, keepdims=True)
    return raw


def matrix(lv: Levels, settings: dict) -> np.ndarray:
    """Pair counts (Ng', Ng', directions) over the gray levels present, after ``combine_directions``."""
    dist = settings.get("distances") or [1]
    angles = offsets(dist, bidirectional=False, plane_axis=plane_axis(settings))
    pad = int(max(dist))
    ng = lv.ng
    width = (ng + 1) * (ng + 1)
    # one histogram of (centre level, neighbour level) per mono-directional row, through one
    # reused index buffer (cache-sized, where one key array for all directions is 13 x larger)
    first = lv.centre(pad).astype(np.intp) * (ng + 1)
    keys = np.empty_like(first)
    counts = np.empty((len(angles), width), dtype=np.intp)
    for a, row in enumerate(lv.neighbours(dist, plane_axis(settings), pad)[:len(angles)]):
        np.add(first, row, out=keys)
        counts[a] = np.bincount(keys, minlength=width)
    counts = counts.reshape(len(angles), ng + 1, ng + 1)
    keep = lv.levels  # row/column 0 collects pairs whose neighbour is outside the ROI
    raw = counts[:, keep][:, :, keep].transpose(1, 2, 0).astype(float)
    return combine_directions(raw, angles, lv.spacing, settings)


def grouped(p: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values k of ``keys`` (G, G), p summed over the cells of each k: (B, nk, A))."""
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")
    values, starts = np.unique(flat[order], return_index=True)
    stacked = p.reshape(p.shape[0], -1, p.shape[3])[:, order]
    return values, np.add.reduceat(stacked, starts, axis=1)


class GLCMBatch:
    """Normalised GLCMs (B, G, G, A) of B rows over the levels ``levels`` (G,), NaN in directions
    without pairs. ``ng``: pyradiomics' Ng (largest gray level) per row or for all (Idmn, Idn);
    ``own``: per row, the indices of its own gray levels (MCC), None for all."""

    def __init__(self, raw: np.ndarray, levels: np.ndarray, ng, own: list | None = None):
        total = raw.sum((1, 2))
        self.empty = total == 0
        self.p = raw / np.where(self.empty, np.nan, total)[:, None, None, :]
        self.ng = np.reshape(np.asarray(ng, dtype=np.float64), (-1, 1))
        self.own = own
        self.gi, self.gj = levels[None, :, None, None], levels[None, None, :, None]
        self.px, self.py = self.p.sum(2), self.p.sum(1)                      # (B, G, A)
        # means as sums over the whole matrix, not over the marginals: with an asymmetrical GLCM a
        # direction whose pairs all start at one level must give that level to the last bit (then
        # sigma_x is 0 and Correlation is 1), as pyradiomics' sums do
        self.ux = np.sum(self.gi * self.p, (1, 2), keepdims=True)            # (B, 1, 1, A)
        self.uy = np.sum(self.gj * self.p, (1, 2), keepdims=True)
        self.k_sum, self.p_sum = grouped(self.p, levels[:, None] + levels[None, :])
        self.k_diff, self.p_diff = grouped(self.p, np.abs(levels[:, None] - levels[None, :]))
        self.hxy = -np.sum(self.p * np.log2(self.p + EPS), (1, 2))
        self.spread = self.spread2 = None  # i + j - ux - uy and its square, made on first use


def _correlation(c: GLCMBatch) -> np.ndarray:
    sx = np.sqrt(np.sum(c.p * (c.gi - c.ux) ** 2, (1, 2)))
    sy = np.sqrt(np.sum(c.p * (c.gj - c.uy) ** 2, (1, 2)))
    cov = np.sum(c.p * (c.gi - c.ux) * (c.gj - c.uy), (1, 2))
    return np.where(sx * sy == 0, 1.0, cov / (sx * sy + EPS))


def _imc1(c: GLCMBatch) -> np.ndarray:
    hx = -np.sum(c.px * np.log2(c.px + EPS), 1)
    hy = -np.sum(c.py * np.log2(c.py + EPS), 1)
    hxy1 = -np.sum(c.p * np.log2(c.px[:, :, None, :] * c.py[:, None, :, :] + EPS), (1, 2))
    div = np.fmax(hx, hy)
    return np.where(div == 0, 0.0, (c.hxy - hxy1) / np.where(div == 0, 1.0, div))


def _imc2(c: GLCMBatch) -> np.ndarray:
    pxy = c.px[:, :, None, :] * c.py[:, None, :, :]
    hxy2 = -np.sum(pxy * np.log2(pxy + EPS), (1, 2))
    return np.where(hxy2 == c.hxy, 0.0, (1 - np.exp(-2 * (hxy2 - c.hxy))) ** 0.5)


def _cluster(power: int):
    """sum p (i + j - ux - uy)^power (powers by multiplication: numpy's pow is slow for 3 and 4)."""
    def feature(c: GLCMBatch) -> np.ndarray:
        if c.spread is None:
            c.spread = c.gi + c.gj - c.ux - c.uy
            c.spread2 = c.spread * c.spread
        term = {2: c.spread2, 3: c.spread2 * c.spread, 4: c.spread2 * c.spread2}[power]
        return np.sum(c.p * term, (1, 2))
    return feature


def _diff(weight):
    """sum_k p_{x-y}(k) * weight(k, Ng) per direction."""
    return lambda c: np.sum(c.p_diff * weight(c.k_diff[None, :], c.ng)[:, :, None], 1)


def _diff_variance(c: GLCMBatch) -> np.ndarray:
    k = c.k_diff[None, :, None]
    avg = np.sum(k * c.p_diff, 1, keepdims=True)
    return np.sum(c.p_diff * (k - avg) ** 2, 1)


def _inverse_variance(c: GLCMBatch) -> np.ndarray:
    k = np.where(c.k_diff == 0, np.inf, c.k_diff)  # k = 0 left out
    return np.sum(c.p_diff / (k ** 2)[None, :, None], 1)


def _mcc(c: GLCMBatch) -> np.ndarray:
    """Maximal correlation coefficient per row and direction: sqrt of the 2nd largest eigenvalue of
    Q = Dx^-1 P Dy^-1 P^T over the row's own gray levels (1 for a single level; NaN for a direction
    without pairs, or a tiny negative eigenvalue, as pyradiomics' real square root).

    Q is similar to the symmetric S = Dx^-1/2 P Dy^-1 P^T Dx^-1/2, so ``eigvalsh`` gives its spectrum
    (3-4x faster than pyradiomics' ``eigvals``, and real); a level absent from a direction (px = 0)
    gives a zero row in both. pyradiomics' EPS in p / (px py + EPS) changes values by < 1e-9.
    """
    out = np.full(c.p.shape[::3], np.nan)
    for row in range(c.p.shape[0]):
        own = c.own[row] if c.own is not None else slice(None)
        p = c.p[row][own][:, own].transpose(2, 0, 1)            # (A, i, k)
        if p.shape[1] < 2:
            out[row] = 1.0
            continue
        valid = ~c.empty[row]
        p = p[valid]
        px, py = p.sum(2), p.sum(1)
        rx = np.zeros_like(px)
        np.divide(1.0, np.sqrt(px), out=rx, where=px > 0)
        ry = np.zeros_like(py)
        np.divide(1.0, py, out=ry, where=py > 0)
        left = p * rx[:, :, None]
        try:
            ev = np.linalg.eigvalsh(np.matmul(left * ry[:, None, :], left.transpose(0, 2, 1)))
        except np.linalg.LinAlgError:  # no convergence: no value, as a failing feature in pyradiomics
            continue
        with np.errstate(invalid="ignore"):
            out[row, valid] = np.sqrt(ev[:, -2])
    return out


FEATURES = {
    "Autocorrelation": lambda c: np.sum(c.p * c.gi * c.gj, (1, 2)),
    "JointAverage": lambda c: c.ux[:, 0, 0, :],
    "ClusterProminence": _cluster(4),
    "ClusterShade": _cluster(3),
    "ClusterTendency": _cluster(2),
    "Contrast": lambda c: np.sum(c.p * (c.gi - c.gj) ** 2, (1, 2)),
    "Correlation": _correlation,
    "DifferenceAverage": _diff(lambda k, ng: k),
    "DifferenceEntropy": lambda c: -np.sum(c.p_diff * np.log2(c.p_diff + EPS), 1),
    "DifferenceVariance": _diff_variance,
    "JointEnergy": lambda c: np.sum(c.p ** 2, (1, 2)),
    "JointEntropy": lambda c: c.hxy,
    "Imc1": _imc1,
    "Imc2": _imc2,
    "Idm": _diff(lambda k, ng: 1 / (1 + k ** 2)),
    "MCC": _mcc,
    "Idmn": _diff(lambda k, ng: 1 / (1 + k ** 2 / ng ** 2)),
    "Id": _diff(lambda k, ng: 1 / (1 + k)),
    "Idn": _diff(lambda k, ng: 1 / (1 + k / ng)),
    "InverseVariance": _inverse_variance,
    "MaximumProbability": lambda c: np.max(c.p, (1, 2)),
    "SumAverage": lambda c: np.sum(c.k_sum[None, :, None] * c.p_sum, 1),
    "SumEntropy": lambda c: -np.sum(c.p_sum * np.log2(c.p_sum + EPS), 1),
    "SumSquares": lambda c: np.sum(c.p * (c.gi - c.ux) ** 2, (1, 2)),
}
#: pyradiomics refuses these (equal to another feature): left out even when named
DEPRECATED = {"Dissimilarity": False, "Homogeneity1": False, "Homogeneity2": False, "SumVariance": False}


# ----------------------------------------------------------------------------------------------
# a stack of a lesion's images
# ----------------------------------------------------------------------------------------------
def batch_context(images: list, voxel_volume: float) -> GLCMBatch:
    """The GLCMs of a stack of a lesion's images over their common gray levels (MCC: each its own)."""
    union, own = common_levels(images)
    matrices = [im.matrices["glcm"] for im in images]
    stack = place(matrices, [(o, o, None) for o in own], (len(union), len(union), matrices[0].shape[2]))
    return GLCMBatch(stack, union.astype(np.float64), [int(im.levels.max()) for im in images], own)


def stack_size(images: list, rows: list[int], n_levels: int) -> int:
    return len(rows) * n_levels * n_levels * images[rows[0]].matrices["glcm"].shape[2]


# ----------------------------------------------------------------------------------------------
# feature maps: kernels
# ----------------------------------------------------------------------------------------------
def kernel_counts(windows: np.ndarray, g: int, angles: np.ndarray) -> np.ndarray:
    """Co-occurrence counts (B, G, G, A) of level pairs (v, v + a) inside each window."""
    b = windows.shape[0]
    out = np.empty((b, g, g, len(angles)))
    rows = np.arange(b).reshape(b, 1, 1, 1)
    for a, offset in enumerate(angles):
        centre, neighbour = shifted_pair(windows, offset)
        valid = (centre > 0) & (neighbour > 0)
        kernel = np.broadcast_to(rows, centre.shape)[valid]
        out[..., a] = counts((kernel * g + centre[valid] - 1) * g + neighbour[valid] - 1, (b, g, g))
    return out


def _kernel_mcc(c: GLCMBatch) -> tuple[np.ndarray, np.ndarray]:
    """Per kernel and direction (B, A): the second largest eigenvalue of Q (complex, not yet
    square-rooted) and whether that direction's spectrum holds a complex eigenvalue.

    Q_ij = sum_k p_ik p_jk / (px_i py_k + eps). A batch with a single gray level gives 0 (the zero
    rows pyradiomics keeps for the ROI's other levels give zero eigenvalues).
    """
    p = np.nan_to_num(c.p).transpose(0, 3, 1, 2)                      # (B, A, i, k)
    if p.shape[-1] < 2:
        return np.zeros(p.shape[:2], dtype=np.complex128), np.zeros(p.shape[:2], dtype=bool)
    px = np.nan_to_num(c.px).transpose(0, 2, 1)[:, :, :, None]         # (B, A, i, 1)
    py = np.nan_to_num(c.py).transpose(0, 2, 1)[:, :, None, :]         # (B, A, 1, k)
    q = np.matmul(p / (px * py + EPS), p.transpose(0, 1, 3, 2))
    ev = np.linalg.eigvals(q)
    ev.sort(axis=-1)
    return ev[..., -2].astype(np.complex128), np.any(np.imag(ev) != 0, axis=-1)


def kernel_features(batch: KernelBatch, context: KernelContext, chosen: list[str]):
    return _kernel_features(batch.texture, context, chosen)


def _kernel_features(windows: np.ndarray, context: KernelContext, chosen: list[str]):
    """GLCM features of a batch of kernels; extras: empty directions, MCC eigenvalues (for
    pyradiomics' per-batch rules, applied in ``kernel_rules``)."""
    args = context.args
    angles = offsets(args.get("distances") or [1], bidirectional=False, plane_axis=context.axis)
    compact, levels = compact_levels(windows)
    if len(windows) > 1 and len(windows) * len(levels) ** 2 * len(angles) > WORK_ELEMENTS:
        half = len(windows) // 2  # many gray levels: halve the batch to bound the matrices' memory
        return _joined(_kernel_features(windows[:half], context, chosen), _kernel_features(windows[half:], context, chosen))
    raw = combine_directions(kernel_counts(compact, len(levels), angles), angles, context.spacing, args)
    with np.errstate(all="ignore"):
        ctx = GLCMBatch(raw, levels, context.ng)
    plain = [n for n in chosen if n != "MCC"]  # MCC: per pyradiomics batch, from the eigenvalues
    out = evaluate_batch(FEATURES, plain, ctx, reduce=angle_mean)
    extra = {"empty": ctx.empty}
    if "MCC" in chosen:
        with np.errstate(all="ignore"):
            extra["ev2"], extra["complex"] = _kernel_mcc(ctx)
        out["MCC"] = np.zeros(windows.shape[0])  # set per pyradiomics batch in kernel_rules
    return out, extra


def _joined(first: tuple[dict, dict], second: tuple[dict, dict]) -> tuple[dict, dict]:
    """(features, extras) of two consecutive parts of a batch, as one."""
    return tuple({key: np.concatenate([a[key], b[key]]) for key in a} for a, b in zip(first, second))


def kernel_rules(values_of: dict, extras: list[dict], count: int, voxel_batch: int,
                 context: KernelContext) -> dict[str, np.ndarray]:
    """pyradiomics' outcomes that depend on its voxel batches (``voxelBatch``, see feature_maps):
    JointAverage NaN and MCC; returns feature -> voxels left at initValue."""
    if not extras:
        return {}
    empty = np.concatenate([e["empty"] for e in extras])
    size = count if voxel_batch < 0 else voxel_batch
    failed: dict[str, np.ndarray] = {}
    mcc = "MCC" in values_of
    if mcc:
        ev2 = np.concatenate([e["ev2"] for e in extras])
        complex_spectra = np.concatenate([e["complex"] for e in extras])
        failed["MCC"] = np.zeros(count, dtype=bool)
    for start in range(0, count, size):
        part = slice(start, min(start + size, count))
        dangling = _dangling_directions(empty[part])
        if "JointAverage" in values_of:
            values_of["JointAverage"][part][dangling.any(1)] = np.nan
        if mcc:
            if dangling.any():
                failed["MCC"][part] = True  # pyradiomics: eigvals of a NaN matrix raises
            else:
                complex_spectrum = bool(np.any(complex_spectra[part] & ~empty[part]))
                values_of["MCC"][part] = _mcc_values(ev2[part], empty[part], complex_spectrum, context.n_levels)
    return failed


def _dangling_directions(empty: np.ndarray) -> np.ndarray:
    """Directions empty in a kernel but not in every kernel of the batch (pyradiomics deletes those
    only; with a single (weighted) direction it deletes none): NaN in pyradiomics' matrices."""
    if empty.shape[1] == 1:
        return empty
    return empty & ~empty.all(0)[None, :]


def _mcc_values(ev2: np.ndarray, empty: np.ndarray, complex_spectrum: bool, n_levels: int) -> np.ndarray:
    """MCC of a pyradiomics batch: sqrt of the 2nd eigenvalue, mean over the kernel's directions.

    As pyradiomics: 1 when the ROI has a single gray level; the square root is taken in complex
    arithmetic when some eigenvalue of the batch is complex (numpy then returns complex eigenvalues
    for the whole batch), else in real arithmetic (a tiny negative eigenvalue gives NaN).
    """
    if n_levels < 2:
        return np.ones(len(ev2))
    with np.errstate(all="ignore"):
        roots = np.sqrt(ev2) if complex_spectrum else np.sqrt(ev2.real)
    roots = np.where(empty, np.nan, roots)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.real(np.nanmean(roots, axis=1))


INFO = {
    "Autocorrelation": FeatureInfo("Mean product of the gray levels of neighbouring voxels", "", "QWB0"),
    "JointAverage": FeatureInfo("Mean gray level of the co-occurrence distribution", "gray level", "60VM"),
    "ClusterProminence": FeatureInfo("Fourth moment of i + j about its mean: strong for asymmetric pairs", "",
                                     "AE86"),
    "ClusterShade": FeatureInfo("Third moment of i + j about its mean: skewness of the pairs", "", "7NFM"),
    "ClusterTendency": FeatureInfo("Second moment of i + j about its mean: grouping of similar levels", "",
                                   "DG8W, OEEB"),
    "Contrast": FeatureInfo("Mean squared gray-level difference of neighbours", "", "ACUI"),
    "Correlation": FeatureInfo("Linear dependence of a voxel's gray level on its neighbour's", "", "NI2N"),
    "DifferenceAverage": FeatureInfo("Mean absolute gray-level difference of neighbours", "", "TF7R, 8S9J"),
    "DifferenceEntropy": FeatureInfo("Entropy (bits) of the neighbour gray-level differences", "", "NTRS"),
    "DifferenceVariance": FeatureInfo("Variance of the neighbour gray-level differences", "", "D3YU"),
    "JointEnergy": FeatureInfo("Sum of squared co-occurrence probabilities (angular second moment)", "", "8ZQL"),
    "JointEntropy": FeatureInfo("Entropy (bits) of the co-occurrence distribution", "", "TU9B"),
    "Imc1": FeatureInfo("Informational measure of correlation 1", "", "R8DG"),
    "Imc2": FeatureInfo("Informational measure of correlation 2", "", "JN9H"),
    "Idm": FeatureInfo("Inverse difference moment (homogeneity 2)", "", "WF0Z"),
    "MCC": FeatureInfo("Maximal correlation coefficient", ""),
    "Idmn": FeatureInfo("Inverse difference moment normalised by the number of gray levels", "", "1QCO"),
    "Id": FeatureInfo("Inverse difference (homogeneity 1)", "", "IB1Z"),
    "Idn": FeatureInfo("Inverse difference normalised by the number of gray levels", "", "NDRX"),
    "InverseVariance": FeatureInfo("Sum of p(k) / k^2 over neighbour differences k > 0", "", "E8JP"),
    "MaximumProbability": FeatureInfo("Probability of the most frequent gray-level pair", "", "GYBY"),
    "SumAverage": FeatureInfo("Mean of the sum of neighbouring gray levels", "", "ZGXS"),
    "SumEntropy": FeatureInfo("Entropy (bits) of the sum of neighbouring gray levels", "", "P6QZ"),
    "SumSquares": FeatureInfo("Variance of the gray levels under the co-occurrence distribution", "", "UR99"),
    "Dissimilarity": FeatureInfo("Refused by pyradiomics: equal to DifferenceAverage", ""),
    "Homogeneity1": FeatureInfo("Refused by pyradiomics: equal to Id", ""),
    "Homogeneity2": FeatureInfo("Refused by pyradiomics: equal to Idm", ""),
    "SumVariance": FeatureInfo("Refused by pyradiomics: equal to ClusterTendency", ""),
}

DESCRIPTOR = FeatureClass(
    name="glcm", title="Gray level co-occurrence matrix", features=FEATURES, info=INFO, deprecated=DEPRECATED,
    default=True, matrix=matrix, batch_context=batch_context, reduce=angle_mean,
    stack_key=lambda image: image.matrices["glcm"].shape[2:], stack_size=stack_size,
    kernel_features=kernel_features, kernel_rules=kernel_rules,
)
