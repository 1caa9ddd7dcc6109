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

Batched: runs are zones along one direction, so the formulas are GLSZM's (``runs_batch``), per row
and direction, then the mean over directions.
"""
from __future__ import annotations

import numpy as np

from .common import Levels, angle_mean, counts, evaluate_batch, length_stack, length_stack_size, offsets, plane_axis
from .descriptor import FeatureClass
from .glszm import ZONE_FORMULAS, ZoneBatch, zone_info
from .kernels import FlatWindows, KernelBatch, KernelContext, compact_levels


def _run_counts(lv: Levels, angles: np.ndarray, nr: int) -> np.ndarray:
    """Run counts (directions, Ng, Nr) by gray level and length (runs: maximal blocks of equal levels
    along a line).

    The ROI voxels of every direction, line by line (``Levels.line_order``, shared by a lesion's
    images), hold the runs as blocks: a run starts where a line starts or the level changes. Each
    direction contributes one block of N_p voxels, histogrammed on its own (no direction index).
    """
    order, line_start = lv.line_order(angles)
    centre = lv.centre(1)
    seq = np.take(centre, order)  # small integer type: a quarter of the int32 traffic
    new_run = np.empty_like(line_start)
    new_run[0] = True
    np.not_equal(seq[1:], seq[:-1], out=new_run[1:])
    new_run |= line_start
    start = np.flatnonzero(new_run)
    key = np.diff(start, append=seq.size)  # run length
    key += seq[start].astype(np.intp) * nr - (nr + 1)  # (level - 1) * nr + length - 1
    bounds = np.searchsorted(start, np.arange(len(angles) + 1) * centre.size)
    size = lv.ng * nr
    return np.stack([np.bincount(key[lo:hi], minlength=size) for lo, hi in zip(bounds[:-1], bounds[1:])]
                    ).reshape(len(angles), lv.ng, nr)


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


def run_weights(angles: np.ndarray, spacing_kji: np.ndarray, norm: str | None) -> np.ndarray:
    """GLRLM direction weights: offset length in mm (infinity/euclidean/manhattan norm), else 1."""
    lengths = np.abs(angles) * spacing_kji[None, :]
    if norm == "infinity":
        return lengths.max(1)
    if norm == "euclidean":
        return np.sqrt(np.sum(lengths ** 2, 1))
    if norm == "manhattan":
        return lengths.sum(1)
    return np.ones(len(angles))


def matrix(lv: Levels, settings: dict) -> np.ndarray:
    """Run-length counts (Ng', Nr, directions) over the gray levels present, Nr the box's longest
    side; with ``weightingNorm`` one direction (``run_weights``)."""
    angles = offsets([1], bidirectional=False, plane_axis=plane_axis(settings))
    nr = int(max(lv.q.shape))
    p = _run_counts(lv, angles, nr).astype(float)
    for a, off in enumerate(angles):
        if not p[a, :, 1:].any() and not _line_has_pair(lv, off):
            p[a] = 0
    p = p[:, lv.levels - 1].transpose(1, 2, 0)
    norm = settings.get("weightingNorm")
    if norm is not None:
        p = np.sum(p * run_weights(angles, lv.spacing, norm)[None, None, :], 2, keepdims=True)
    return p


def runs_batch(p: np.ndarray, levels: np.ndarray, lengths=None) -> ZoneBatch:
    """Run-length matrices (B, G, Nr, A) for ``ZONE_FORMULAS``: a direction without runs has no value
    (NaN) and is left out of the mean over directions. ``lengths``: each column's run length."""
    return ZoneBatch(p, levels, j=lengths, empty_total=np.nan)


FEATURES = {
    "ShortRunEmphasis": ZONE_FORMULAS["SmallEmphasis"],
    "LongRunEmphasis": ZONE_FORMULAS["LargeEmphasis"],
    "GrayLevelNonUniformity": ZONE_FORMULAS["GrayLevelNonUniformity"],
    "GrayLevelNonUniformityNormalized": ZONE_FORMULAS["GrayLevelNonUniformityNormalized"],
    "RunLengthNonUniformity": ZONE_FORMULAS["NonUniformity"],
    "RunLengthNonUniformityNormalized": ZONE_FORMULAS["NonUniformityNormalized"],
    "RunPercentage": ZONE_FORMULAS["Percentage"],
    "GrayLevelVariance": ZONE_FORMULAS["GrayLevelVariance"],
    "RunVariance": ZONE_FORMULAS["Variance"],
    "RunEntropy": ZONE_FORMULAS["Entropy"],
    "LowGrayLevelRunEmphasis": ZONE_FORMULAS["LowGrayLevelEmphasis"],
    "HighGrayLevelRunEmphasis": ZONE_FORMULAS["HighGrayLevelEmphasis"],
    "ShortRunLowGrayLevelEmphasis": ZONE_FORMULAS["SmallLowGrayLevelEmphasis"],
    "ShortRunHighGrayLevelEmphasis": ZONE_FORMULAS["SmallHighGrayLevelEmphasis"],
    "LongRunLowGrayLevelEmphasis": ZONE_FORMULAS["LargeLowGrayLevelEmphasis"],
    "LongRunHighGrayLevelEmphasis": ZONE_FORMULAS["LargeHighGrayLevelEmphasis"],
}
DEPRECATED: dict = {}


def batch_context(images: list, voxel_volume: float) -> ZoneBatch:
    """The run-length matrices of a stack of a lesion's images over common gray levels and lengths."""
    stack, gray, lengths = length_stack(images, "glrlm")
    return runs_batch(stack, gray, lengths)


# ----------------------------------------------------------------------------------------------
# feature maps: kernels
# ----------------------------------------------------------------------------------------------
def kernel_counts(windows: np.ndarray, g: int, angles: np.ndarray) -> np.ndarray:
    """Run-length counts (B, G, Nr, A): runs of equal levels along each direction inside each window.

    A direction along which no line of a window holds two kernel voxels counts nothing there
    (pyradiomics drops it for a kernel, as it does for a thin ROI).
    """
    b = windows.shape[0]
    nr = max(windows.shape[1:])
    fw = FlatWindows(windows, nr)
    out = np.zeros((b, g, nr, len(angles)))
    for a, offset in enumerate(angles):
        step = fw.step(offset)
        start = fw.flat[fw.index - step] != fw.level
        first, level = fw.index[start], fw.level[start]
        length = np.ones(first.size, dtype=np.int64)
        running = np.ones(first.size, dtype=bool)
        for t in range(1, nr):
            running &= fw.flat[first + t * step] == level
            length += running
        kernel = first // fw.block
        out[..., a] = counts((kernel * g + level - 1) * nr + length - 1, (b, g, nr))
        out[~_has_line_pair(fw, step, nr, b), :, :, a] = 0
    return out


def _has_line_pair(fw: FlatWindows, step: int, nr: int, b: int) -> np.ndarray:
    """Per window: does some line along ``step`` hold two kernel voxels?"""
    found = np.zeros(b, dtype=bool)
    for t in range(1, nr):
        found[fw.kernel[fw.flat[fw.index + t * step] > 0]] = True
    return found


def kernel_features(batch: KernelBatch, context: KernelContext, chosen: list[str]):
    """GLRLM features of a batch of kernels (directions at distance 1, averaged)."""
    angles = offsets([1], bidirectional=False, plane_axis=context.axis)
    compact, levels = compact_levels(batch.texture)
    p = kernel_counts(compact, len(levels), angles)
    norm = context.args.get("weightingNorm")
    if norm is not None:
        p = np.sum(p * run_weights(angles, context.spacing, norm)[None, None, None, :], 3, keepdims=True)
    with np.errstate(all="ignore"):
        ctx = runs_batch(p, levels)
    return evaluate_batch(FEATURES, chosen, ctx, reduce=angle_mean), {}


INFO = zone_info({
    "ShortRunEmphasis": "SmallEmphasis", "LongRunEmphasis": "LargeEmphasis",
    "GrayLevelNonUniformity": "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized": "GrayLevelNonUniformityNormalized",
    "RunLengthNonUniformity": "NonUniformity", "RunLengthNonUniformityNormalized": "NonUniformityNormalized",
    "RunPercentage": "Percentage", "GrayLevelVariance": "GrayLevelVariance", "RunVariance": "Variance",
    "RunEntropy": "Entropy", "LowGrayLevelRunEmphasis": "LowGrayLevelEmphasis",
    "HighGrayLevelRunEmphasis": "HighGrayLevelEmphasis", "ShortRunLowGrayLevelEmphasis": "SmallLowGrayLevelEmphasis",
    "ShortRunHighGrayLevelEmphasis": "SmallHighGrayLevelEmphasis",
    "LongRunLowGrayLevelEmphasis": "LargeLowGrayLevelEmphasis",
    "LongRunHighGrayLevelEmphasis": "LargeHighGrayLevelEmphasis",
}, "run", "run length", {
    "ShortRunEmphasis": "22OV", "LongRunEmphasis": "W4KF", "GrayLevelNonUniformity": "R5YN",
    "GrayLevelNonUniformityNormalized": "OVBL", "RunLengthNonUniformity": "W92Y",
    "RunLengthNonUniformityNormalized": "IC23", "RunPercentage": "9ZK5", "GrayLevelVariance": "8CE5",
    "RunVariance": "SXLW", "RunEntropy": "HJ9O", "LowGrayLevelRunEmphasis": "V3SW",
    "HighGrayLevelRunEmphasis": "G3QZ", "ShortRunLowGrayLevelEmphasis": "HTZT",
    "ShortRunHighGrayLevelEmphasis": "GD3A", "LongRunLowGrayLevelEmphasis": "IVPO",
    "LongRunHighGrayLevelEmphasis": "3KUM",
})

DESCRIPTOR = FeatureClass(
    name="glrlm", title="Gray level run length matrix", features=FEATURES, info=INFO, deprecated=DEPRECATED,
    default=True, matrix=matrix, length_columns=True, batch_context=batch_context, reduce=angle_mean,
    stack_key=lambda image: image.matrices["glrlm"][0].shape[2:], stack_size=length_stack_size("glrlm"),
    kernel_features=kernel_features,
)
